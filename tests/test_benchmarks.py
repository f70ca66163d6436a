"""The benchmark scripts run end to end on the embedded data (their smoke profiles)."""

import importlib.util
import json
import re
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pytest

from sklearn_ltdd import TrajectoryMatchingDistiller

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def load(name):
    if str(BENCHMARKS) not in sys.path:  # the scripts' shared parts (ltdd_bench)
        sys.path.insert(0, str(BENCHMARKS))
    spec = importlib.util.spec_from_file_location(name, BENCHMARKS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


def test_reproduce_paper_smoke_profile(tmp_path, capsys):
    script = load("reproduce_paper")
    out, artifacts = tmp_path / "results", tmp_path / "artifacts"
    args = [
        "--profile",
        "smoke",
        "--out",
        str(out),
        "--artifacts",
        str(artifacts),
        "--tables",
        "1",
        "2",
        "3",
        "baselines",
        "extra",
    ]
    assert script.main(args) == 0
    merged = json.loads((out / "smoke.json").read_text())
    names = {t: [r["name"] for r in rows] for t, rows in merged["tables"].items()}
    assert names["table1"] == ["Original", "GM Distilled", "MTT Distilled"]
    assert names["table2"] == [
        "Original + Original",
        "Original + GM Distilled",
        "Original + MTT Distilled",
    ]
    assert names["table3"] == [
        "Original + Original",
        "GM Distilled + GM Distilled",
        "Original + GM Distilled",
    ]
    assert len(names["baselines"]) == 8 and len(names["extra"]) == 6
    row = merged["tables"]["table2"][1]
    assert 0 <= row["total_acc"]["mean"] <= 100 and row["group_acc"] is not None
    assert row["train_images"] == 503 + 20
    assert merged["device"] and merged["commit"] and merged["wall_time_s"]["total"]["mean"] > 0
    assert merged["incomplete_seeds"] == []
    markdown = (out / "smoke.md").read_text()
    assert "## Table 2" in markdown and "Original + GM Distilled" in markdown
    assert (artifacts / "smoke" / "seed0" / "gm_ipc2.npz").exists()

    # A rerun into a fresh folder reuses the saved distilled sets instead of
    # distilling again.
    out2 = tmp_path / "results2"
    rerun = [
        "--profile",
        "smoke",
        "--out",
        str(out2),
        "--artifacts",
        str(artifacts),
        "--tables",
        "1",
    ]
    assert script.main(rerun) == 0
    seed = json.loads((out2 / "smoke" / "seed0.json").read_text())
    assert seed["reused_artifacts"] == ["gm", "mtt"]
    assert seed["wall_time_s"]["distill_gm"] > 0  # the first run's time, kept with the set
    assert list(seed["tables"]) == ["table1"]
    assert seed["distillation"]["gm"]["iterations"] == "2/2"
    # A rerun into the same folder keeps its rows: nothing is fitted again.
    before = json.loads((out2 / "smoke" / "seed0.json").read_text())["tables"]
    assert script.main(rerun) == 0
    seed = json.loads((out2 / "smoke" / "seed0.json").read_text())
    assert seed["tables"] == before and seed["history"][-1]["rows_added"] == []
    assert script.main(["--profile", "smoke", "--out", str(out), "--merge-only"]) == 0


def test_a_run_stopped_midway_keeps_its_finished_rows(tmp_path, monkeypatch):
    # A GPU slot's time limit can stop a run; the rows done by then must survive.
    script = load("reproduce_paper")

    class Stopped(Exception):
        pass

    def stop(*args, **kwargs):
        raise Stopped("time limit")

    monkeypatch.setattr(TrajectoryMatchingDistiller, "fit", stop)
    out = tmp_path / "results"
    args = [
        "--profile",
        "smoke",
        "--out",
        str(out),
        "--artifacts",
        str(tmp_path / "a"),
        "--tables",
        "1",
        "2",
        "baselines",
    ]
    with pytest.raises(Stopped):
        script.main(args)
    seed = json.loads((out / "smoke" / "seed0.json").read_text())
    assert seed["complete"] is False
    names = {t: [r["name"] for r in rows] for t, rows in seed["tables"].items()}
    # Cheap rows first, then GM; MTT rows never ran.
    assert names["table1"] == ["Original", "GM Distilled"]
    assert names["table2"] == ["Original + Original", "Original + GM Distilled"]
    assert len(names["baselines"]) == 8
    assert script.main(["--profile", "smoke", "--out", str(out), "--merge-only"]) == 0
    merged = json.loads((out / "smoke.json").read_text())
    assert merged["incomplete_seeds"] == [0]
    assert "**incomplete**" in (out / "smoke.md").read_text()


def test_soft_label_rows_on_the_smoke_profile(tmp_path):
    script = load("reproduce_paper")
    out = tmp_path / "results"
    assert (
        script.main(
            [
                "--profile",
                "smoke",
                "--out",
                str(out),
                "--artifacts",
                str(tmp_path / "a"),
                "--tables",
                "soft",
                "soft_dm",
                "soft_idm",
                "soft_two_stage",
            ]
        )
        == 0
    )
    seed = json.loads((out / "smoke" / "seed0.json").read_text())
    names = [r["name"] for r in seed["tables"]["soft"]]
    assert names[0] == "Teacher: BN ConvNet3, LA + mixup/CutMix, 3 epochs"
    SM = "SM (class-mean target)"  # each statistics matching row names its target
    for label in (
        "Random 2 real images per class",
        SM,
        "SM (hard cross-entropy target)",
        "DM",
        "IDM",
        "IDM (balanced queue)",
    ):
        assert f"{label}, hard labels" in names and f"{label}, soft labels" in names
    rows = {r["name"]: r for r in seed["tables"]["soft"]}
    assert rows[f"{SM}, soft labels"]["train_images"] == 20
    assert rows[f"Original + {SM}, stage 2 learns the teacher"]["group_acc"] is not None
    assert "GM, soft labels" not in names  # the bi-level sets: --tables soft_bilevel
    assert "## Soft labels" in (out / "smoke.md").read_text()
    # Each soft-label row of the same size against random real images, paired by seed.
    merged = json.loads((out / "smoke.json").read_text())
    pairs = {p["name"]: p for p in merged["paired"]["soft"]}
    control = "Random 2 real images per class, soft labels"
    assert control not in pairs and f"{SM}, hard labels" not in pairs
    sm = pairs[f"{SM}, soft labels"]
    assert sm["control"] == control and sm["seeds"] == [0]
    expected = rows[f"{SM}, soft labels"]["total_acc"] - rows[control]["total_acc"]
    assert sm["total_acc"]["mean"] == pytest.approx(expected)
    assert f"Original + {SM}, stage 2 learns the teacher" not in pairs  # not a soft-label set
    assert f"Against {control} (paired by seed" in (out / "smoke.md").read_text()


def test_coreset_rows_on_the_smoke_profile(tmp_path):
    script = load("reproduce_paper")
    out = tmp_path / "results"
    assert (
        script.main(
            [
                "--profile",
                "smoke",
                "--out",
                str(out),
                "--artifacts",
                str(tmp_path / "a"),
                "--tables",
                "coreset",
                "coreset_best",
            ]
        )
        == 0
    )
    seed = json.loads((out / "smoke" / "seed0.json").read_text())
    rows = {r["name"]: r for r in seed["tables"]["coreset"]}
    assert len(rows) == 12
    assert rows["Coreset: herding"]["train_images"] == 20  # 2 per class
    assert rows["Coreset: herding, 4 per stored image"]["train_images"] == 80
    assert rows["Original + coreset: difficulty (EL2N, auto window)"]["group_acc"] is not None
    assert seed["wall_time_s"]["select_coreset_difficulty"] > 0
    assert "## Coresets under hard labels" in (out / "smoke.md").read_text()


def test_paper_rows_carry_the_papers_figures():
    script = load("reproduce_paper")
    row = script.paper_row("table2", "Original + GM Distilled", "paper")
    assert row["total_acc"] == 40.4 and row["acc_std"] == 20.1
    assert script.paper_row("table2", "Original + GM Distilled", "smoke") is None


def test_distill_speed_smoke(tmp_path):
    script = load("distill_speed")
    assert (
        script.main(
            [
                "--profile",
                "smoke",
                "--ipc",
                "1",
                "--iterations",
                "1",
                "--mtt-iterations",
                "1",
                "--warmup",
                "1",
                "--experts",
                "2",
                "--out",
                str(tmp_path),
            ]
        )
        == 0
    )
    files = list(tmp_path.glob("distill_speed_smoke_*.json"))
    assert len(files) == 1
    runs = json.loads(files[0].read_text())["runs"]
    assert [r["method"] for r in runs] == [
        "DC",
        "DSA",
        "DM",
        "IDM",
        "MTT experts",
        "MTT distillation",
    ]
    # Timings are measured, not tested: the per-iteration figure is a difference of two
    # timed fits, which a busy machine can make zero at one iteration.
    assert all(
        r["seconds"] > 0 and r.get("s_per_it", r.get("s_per_expert_epoch")) >= 0 for r in runs
    )


def test_search_two_stage_quick_grid(tmp_path):
    script = load("search_two_stage")
    assert (
        script.main(
            ["--profile", "smoke", "--grid", "quick", "--folds", "2", "--out", str(tmp_path)]
        )
        == 0
    )
    results = json.loads((tmp_path / "search_smoke_quick_seed0.json").read_text())
    assert len(results["cv_results"]) == 3
    assert set(results["best_params"]) <= {
        "group_estimator",
        "class_estimator",
        "stage2_data",
        "routing",
        "backbone",
    }
    assert any("backbone" in r["params"] for r in results["cv_results"])
    assert 0 <= results["test"]["total_acc"] <= 100
    assert [b["name"] for b in results["cv_baselines"]] == [
        "Logit adjustment (Menon 2021)",
        "Logit adjustment + crop/flip",
    ]
    assert all(0 <= b["mean"] <= 1 for b in results["cv_baselines"])
    text = (tmp_path / "search_smoke_quick_seed0.md").read_text()
    assert "chosen" in text and "the best flat baseline" in text


def test_search_compares_with_the_baselines_of_its_own_seed(tmp_path):
    script = load("search_two_stage")
    assert script.test_baselines(tmp_path, "cpu", 1) == []
    (tmp_path / "cpu").mkdir()
    row = {"name": "LA", "total_acc": 40.6, "acc_std": 18.3}
    (tmp_path / "cpu" / "seed1.json").write_text(json.dumps({"tables": {"baselines": [row]}}))
    (baseline,) = script.test_baselines(tmp_path, "cpu", 1)
    assert baseline["seed"] == 1 and baseline["total_acc"]["mean"] == 40.6
    assert baseline["acc_std"]["mean"] == 18.3


def test_search_verdict_calls_a_difference_within_fold_noise_a_tie():
    script = load("search_two_stage")

    def results(chosen, std):
        return {
            "cv_results": [{"mean": chosen, "std": std}, {"mean": 0.1, "std": 0.0}],
            "cv_baselines": [{"name": "LA", "mean": 0.335, "std": 0.008}],
        }

    assert "within fold-to-fold noise" in script.validation_verdict(results(0.338, 0.041))
    assert "beats" in script.validation_verdict(results(0.40, 0.01))
    assert "loses to" in script.validation_verdict(results(0.30, 0.01))


def test_search_heads_grid_varies_the_head_regularisation_only():
    script = load("search_two_stage")
    p = script.PROFILES["smoke"]
    grid = script.candidates(p, "cpu", 0, 1, grid="heads")
    assert [g["class_estimator"][0].C for g in grid] == [1.0, 0.1, 0.01, 0.001, 0.0001]
    for g in grid:
        assert g["group_estimator"][0].C == g["class_estimator"][0].C
        assert g["group_estimator"][0] is not g["class_estimator"][0]
        assert g["stage2_data"] == ["original"] and len(g["backbone"]) == 1


def _reported_profiles():
    results = BENCHMARKS / "results"
    found = {p.name for p in results.iterdir() if (results / f"{p.name}.md").exists()}
    return sorted(found | {"cpu", "paper", "smoke"})


@pytest.mark.parametrize("profile", _reported_profiles())
def test_report_reproduces_the_committed_tables_byte_for_byte(profile, tmp_path):
    # The report follows from the committed seed files alone: regenerating it
    # changes no figure (and no byte) of the committed one.
    script = load("report")
    results = BENCHMARKS / "results"
    if not (results / profile).is_dir():
        pytest.skip(f"no committed seed files of {profile}")
    assert script.main([profile, "--out", str(tmp_path)]) == 0
    for suffix in (".md", ".json"):
        committed = (results / f"{profile}{suffix}").read_bytes()
        assert (tmp_path / f"{profile}{suffix}").read_bytes() == committed


def test_loaded_stages_are_marked_in_the_wall_times():
    # A network or set loaded from --artifacts keeps the seconds of the fit that made it;
    # the report says so beside it, since the seed's total does not count them.
    load("report")  # puts ltdd_bench on the path
    from ltdd_bench.tables import _loaded

    seed = {
        "reused_artifacts": ["network:teacher", "sm", "soft:SM, soft labels (epochs 1-3)"],
        "wall_time_s": {
            "network:teacher": 7840.0,
            "distill_sm": 663.0,
            "distill_dm": 10.0,
            "soft:SM, soft labels": 20.0,
            "total": 40.0,
        },
    }
    assert _loaded(seed) == ["network:teacher", "distill_sm"]
    assert _loaded({"wall_time_s": {"total": 1.0}}) == []
    md = (BENCHMARKS / "results" / "standard_cpu_ipc50.md").read_text()
    assert re.search(r"network:teacher \d+ \(loaded\)", md)
    assert "total counts only the runs" in md


def test_a_seed_record_keeps_the_loads_of_its_earlier_runs():
    # The record is rewritten by every run of the seed; a stage an earlier run loaded
    # stays marked unless a later run made it again (then its seconds are the new fit's).
    load("report")  # puts ltdd_bench on the path
    from ltdd_bench.runner import Run

    previous = {
        "wall_time_s": {"network:teacher": 900.0, "distill_sm": 30.0, "network:scorer": 50.0},
        "reused_artifacts": ["network:teacher", "sm", "network:scorer (epochs 1-2)"],
    }
    run = Run(None, {}, {}, 1, previous=previous)
    run.seconds["network:scorer"] = 61.0  # this run fitted the scorer again
    run.reused.append("dm")
    assert run.reused_artifacts() == ["network:teacher", "sm", "dm"]
    assert Run(None, {}, {}, 1).reused_artifacts() == []


def test_rows_are_declarations_run_cheap_first():
    script = load("reproduce_paper")
    decl = script.DECLARATIONS
    keys = [
        (table, row.name) for row in decl.rows for table in row.tables if isinstance(row.name, str)
    ]
    assert len(keys) == len(set(keys))  # every (table, name) declared once
    for row in decl.rows:
        assert set(row.sets) <= set(decl.sets), row.name
        assert row.key in script.TABLE_KEYS
    phases = [decl.phase(row) for row in decl.rows]
    assert phases[0] == 0 and decl.phase(decl.rows[0]) == 0  # Original first
    order = list(decl.sets)
    gm = next(r for r in decl.rows if r.name == "GM Distilled")
    mtt = next(r for r in decl.rows if r.name == "MTT Distilled")
    assert 0 < decl.phase(gm) < decl.phase(mtt)
    assert order.index("gm") < order.index("mtt")


def test_no_benchmark_script_is_long():
    for path in [*BENCHMARKS.glob("*.py"), *BENCHMARKS.glob("ltdd_bench/*.py")]:
        assert len(path.read_text().splitlines()) <= 450, path.name


def test_sm_sweep_smoke(tmp_path):
    script = load("sm_sweep")
    assert script.main(["--profile", "smoke", "--out", str(tmp_path)]) == 0
    record = json.loads((tmp_path / "sm_sweep_smoke.json").read_text())
    assert [t["criterion"] for t in record["teachers"]] == [
        "logit_adjusted",
        "cumulative_reweighted",
    ]
    sets = [r["set"] for r in record["rows"]]
    assert sets[:2] == ["random real images"] * 2 and len(sets) == len(script.VARIANTS) + 1
    assert all(0 <= r["acc"] <= 100 for r in record["rows"])
    assert "initial views only" in (tmp_path / "sm_sweep_smoke.md").read_text()


def test_teacher_cv_smoke(tmp_path):
    script = load("teacher_cv")
    args = ["--epochs", "1", "2", "--folds", "2", "--teachers", "la_mix", "--out", str(tmp_path)]
    assert script.main(args) == 0
    record = json.loads((tmp_path / "teacher_cv_digits.json").read_text())
    assert [(r["teacher"], r["epochs"]) for r in record["runs"]] == [("la_mix", 1), ("la_mix", 2)]
    assert all(len(r["folds"]) == 2 and 0 <= r["mean"] <= 100 for r in record["runs"])
    assert (tmp_path / "teacher_cv_digits.md").read_text() == script.markdown(record)


def test_compare_official_needs_local_checkouts(capsys):
    compare = load("compare_official")
    assert compare.main(["--methods", "dc1"]) == 2
    assert "git clone https://github.com/VICO-UoE/DatasetCondensation" in capsys.readouterr().err


def test_official_utils_load_with_overlapping_writes_made_copies(tmp_path, monkeypatch):
    import torch

    load("compare_official")  # puts ltdd_bench on the path
    from ltdd_bench.official import _load_utils

    (tmp_path / "utils.py").write_text("def siamese(t):\n    t[:] = t[0]\n    return t\n")
    monkeypatch.setitem(sys.modules, "utils", None)
    utils = _load_utils(str(tmp_path))
    assert sys.modules["utils"] is utils
    assert utils.siamese(torch.arange(3.0)).tolist() == [0.0, 0.0, 0.0]
    assert (tmp_path / "utils.py").read_text().count(".clone()") == 0  # the file is unchanged


def test_selection_speed_smoke_profile(tmp_path):
    script = load("selection_speed")
    assert script.main(["--profile", "smoke", "--repeats", "1", "--out", str(tmp_path)]) == 0
    record = json.loads(next(tmp_path.glob("selection_speed_smoke_*.json")).read_text())
    assert [r["variant"] for r in record["runs"]][-1] == "DM, 2 iterations"
    assert all(r["seconds"] > 0 for r in record["runs"])
    assert "share of DM's time" in next(tmp_path.glob("selection_speed_smoke_*.md")).read_text()


def test_student_sweep_fits_a_cached_teacher_of_other_settings_again(tmp_path, monkeypatch):
    script = load("student_sweep")
    X, y, _, _ = script.load_group("smoke", None)
    first, seconds = script.teacher("smoke", "la_mix", 0, X, y, tmp_path, "cpu")
    assert seconds is not None and first.max_epochs == 3
    assert script.teacher("smoke", "la_mix", 0, X, y, tmp_path, "cpu")[1] is None  # cached
    smoke = {**script.GROUPS["smoke"], "teacher_epochs": 2}
    monkeypatch.setitem(script.GROUPS, "smoke", smoke)
    again, seconds = script.teacher("smoke", "la_mix", 0, X, y, tmp_path, "cpu")
    assert seconds is not None and again.max_epochs == 2
    # A teacher fitted again is checked against the record's score of it: equal, silent;
    # else a warning that its new cells do not pair with the old ones.
    counts = np.bincount(y)
    noted = script.scores(again, X, y, counts)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        script.check_refit("smoke: teacher la_mix seed 0", noted, again, X, y, counts)
    with pytest.warns(UserWarning, match="do not pair with the old ones"):
        script.check_refit(
            "smoke: teacher la_mix seed 0", {**noted, "acc": noted["acc"] + 1}, again, X, y, counts
        )


def test_student_sweep_smoke(tmp_path):
    script = load("student_sweep")
    out = tmp_path / "results"
    base = ["--groups", "smoke", "--out", str(out), "--artifacts", str(tmp_path / "a")]
    assert (
        script.main(base + ["--grid", "sm", "--points", "control", "views only", "two teachers"])
        == 0
    )
    record = json.loads((out / "student_sweep_sm.json").read_text())
    points = {c["point"] for c in record["cells"].values()}
    assert "random real images (control)" in points and "views only (no recovery)" in points
    assert all(0 <= c["acc"] <= 100 and len(c["per_class"]) == 10 for c in record["cells"].values())
    assert any("teachers" in key for key in record["notes"])  # the two teachers' average
    markdown = (out / "student_sweep_sm.md").read_text()
    assert "validation" in markdown and "soft: - control" in markdown
    # Run again: every cell is kept, nothing is fitted.
    before = record["cells"]
    assert script.main(base + ["--grid", "sm", "--points", "control"]) == 0
    assert json.loads((out / "student_sweep_sm.json").read_text())["cells"] == before


def test_student_sweep_other_networks_on_the_smoke_group(tmp_path):
    """``--grid arch``: an AlexNet student (its own size, not the group's ConvNet width) on
    statistics matching's default set and on random real images, each recipe beside its
    own control."""
    script = load("student_sweep")
    out = tmp_path / "results"
    argv = ["--grid", "arch", "--groups", "smoke", "--points", "lr 3e-4"]
    assert script.main(argv + ["--out", str(out), "--artifacts", str(tmp_path / "a")]) == 0
    record = json.loads((out / "student_sweep_arch.json").read_text())
    cells = list(record["cells"].values())
    assert sorted(c["set"] for c in cells) == ["random", "sm"]
    assert {c["point"] for c in cells} == {"AlexNet, edc at lr 3e-4"}
    assert all(0 <= c["acc"] <= 100 and len(c["per_class"]) == 10 for c in cells)
    (sm,) = [p for p in script.GRIDS["arch"] if p.kind == "sm" and "3e-4" in p.name]
    assert dict(sm.student)["module"] == "alexnet" and dict(sm.sm)["ce_target"] == "hard"


def test_standard_profiles_share_their_networks_and_show_the_published_table(tmp_path):
    profiles = load("reproduce_paper").PROFILES
    assert profiles["standard_cpu"]["max_per_class"] is None
    assert {profiles[f"standard_cpu{s}"]["ipc"] for s in ("", "_ipc1", "_ipc50")} == {1, 10, 50}
    assert (
        len({profiles[f"standard_cpu{s}"]["network_cache"] for s in ("", "_ipc1", "_ipc50")}) == 1
    )
    from ltdd_bench.tables import published_markdown

    merged = {
        "profile": "standard_cpu",
        "settings": {"ipc": 10},
        "tables": {
            "soft": [
                {
                    "name": "SM (hard cross-entropy target), soft labels",
                    "total_acc": {"mean": 60.0, "std": 0.5, "n": 2},
                }
            ]
        },
    }
    text = "\n".join(published_markdown(merged))
    assert (
        "| Uni-level (statistics matching, soft labels) | soft | 62.7 | SM (hard cross-entropy "
        "target), soft labels | 60.0 ± 0.5 | -2.7 |" in text
    )
    assert "ResNet-18 | 58.7" in text and "not protocol-matched" in text


def test_a_profile_with_a_network_cache_trains_its_networks_once(tmp_path, monkeypatch, capsys):
    script = load("reproduce_paper")
    monkeypatch.setitem(
        script.PROFILES, "smoke", {**script.PROFILES["smoke"], "network_cache": "smoke_family"}
    )
    base = ["--profile", "smoke", "--artifacts", str(tmp_path / "a"), "--tables", "soft"]
    assert script.main(base + ["--out", str(tmp_path / "r1")]) == 0
    assert (tmp_path / "a" / "smoke_family" / "seed0" / "network_teacher.joblib").exists()
    assert script.main(base + ["--out", str(tmp_path / "r2")]) == 0
    seed = json.loads((tmp_path / "r2" / "smoke" / "seed0.json").read_text())
    assert "network:teacher" in seed["reused_artifacts"]
    # A teacher of other settings: its rows are not resumed, its cached network not reused.
    smoke = script.PROFILES["smoke"]
    monkeypatch.setitem(script.PROFILES, "smoke", {**smoke, "teacher": {"epochs": 2}})
    assert script.main(base + ["--out", str(tmp_path / "r2")]) == 2
    assert "(teacher)" in capsys.readouterr().err
    assert script.main(base + ["--out", str(tmp_path / "r3")]) == 0
    seed = json.loads((tmp_path / "r3" / "smoke" / "seed0.json").read_text())
    assert "network:teacher" not in seed["reused_artifacts"]
    assert "max_epochs" in capsys.readouterr().out


def test_a_shared_network_stopped_part_way_is_finished_by_the_next_run(
    tmp_path, monkeypatch, capsys
):
    """A cached network is pickled after every epoch; a run that stops during its fit
    leaves that pickle, and the next run finishes the same network from it."""
    from skorch.callbacks import Checkpoint

    script = load("reproduce_paper")
    monkeypatch.setitem(
        script.PROFILES, "smoke", {**script.PROFILES["smoke"], "network_cache": "smoke_family"}
    )
    base = ["--profile", "smoke", "--tables", "soft"]
    whole = base + ["--artifacts", str(tmp_path / "a1"), "--out", str(tmp_path / "r1")]
    assert script.main(whole) == 0
    save = Checkpoint.on_epoch_end

    class SessionEnds(Exception):
        pass

    def stop_after_the_first_epoch(self, net, **kwargs):
        save(self, net, **kwargs)
        if len(net.history) == 1:
            raise SessionEnds

    monkeypatch.setattr(Checkpoint, "on_epoch_end", stop_after_the_first_epoch)
    parts = base + ["--artifacts", str(tmp_path / "a2"), "--out", str(tmp_path / "r2")]
    with pytest.raises(SessionEnds):
        script.main(parts)
    seed_dir = tmp_path / "a2" / "smoke_family" / "seed0"
    assert (seed_dir / "network_teacher.partial.pkl").exists()
    assert not (seed_dir / "network_teacher.joblib").exists()
    monkeypatch.setattr(Checkpoint, "on_epoch_end", save)
    # The next session's checkout: the artifacts elsewhere (the pickle's own path is gone).
    (tmp_path / "a2").rename(tmp_path / "a3")
    seed_dir = tmp_path / "a3" / "smoke_family" / "seed0"
    parts = base + ["--artifacts", str(tmp_path / "a3"), "--out", str(tmp_path / "r2")]
    capsys.readouterr()
    assert script.main(parts) == 0
    assert "network:teacher: resuming after epoch 1 of 3" in capsys.readouterr().out
    assert (seed_dir / "network_teacher.joblib").exists() and not (tmp_path / "a2").exists()
    assert not (seed_dir / "network_teacher.partial.pkl").exists()
    first, resumed = (
        json.loads((tmp_path / r / "smoke" / "seed0.json").read_text()) for r in ("r1", "r2")
    )
    assert "network:teacher (epochs 1-1)" in resumed["reused_artifacts"]
    assert not any("network:teacher" in name for name in first["reused_artifacts"])
    first, resumed = first["tables"]["soft"], resumed["tables"]["soft"]
    assert [row["per_class_acc"] for row in resumed] == [row["per_class_acc"] for row in first]


def test_a_row_student_stopped_part_way_is_finished_by_the_next_run(tmp_path, monkeypatch, capsys):
    """With ``row_checkpoint_s``, a row's student is pickled during its fit (at most that
    often), never kept once done; a run that stops during it finishes it from the pickle
    next time, and every row equals the uninterrupted run's."""
    from skorch.callbacks import Checkpoint

    script = load("reproduce_paper")
    profile = {**script.PROFILES["smoke"], "network_cache": "fam", "row_checkpoint_s": 1e-9}
    monkeypatch.setitem(script.PROFILES, "smoke", profile)
    base = ["--profile", "smoke", "--tables", "soft"]

    def run(name):
        return script.main(base + ["--artifacts", str(tmp_path / name), "--out", str(tmp_path)])

    assert run("whole") == 0
    first = json.loads((tmp_path / "smoke" / "seed0.json").read_text())["tables"]["soft"]
    (tmp_path / "smoke" / "seed0.json").unlink()
    # In the profile's folder, not the family's (whose ipc variants name rows alike).
    seed_dir = tmp_path / "parts" / "smoke" / "seed0"
    assert not list((tmp_path / "whole").rglob("row_*"))  # none kept
    save = Checkpoint.on_epoch_end

    class SessionEnds(Exception):
        pass

    def stop_in_the_first_row(self, net, **kwargs):
        save(self, net, **kwargs)
        if Path(self.f_pickle).name.startswith("row_") and len(net.history) == 1:
            raise SessionEnds

    monkeypatch.setattr(Checkpoint, "on_epoch_end", stop_in_the_first_row)
    with pytest.raises(SessionEnds):
        run("parts")
    (partial,) = seed_dir.glob("row_*.partial.pkl")
    assert not list((tmp_path / "parts" / "fam").rglob("row_*"))
    monkeypatch.setattr(Checkpoint, "on_epoch_end", save)
    capsys.readouterr()
    assert run("parts") == 0
    assert ": resuming after epoch 1 of" in capsys.readouterr().out
    assert not partial.exists()
    record = json.loads((tmp_path / "smoke" / "seed0.json").read_text())
    resumed = record["tables"]["soft"]
    assert [row["per_class_acc"] for row in resumed] == [row["per_class_acc"] for row in first]
    # Run again with nothing left to do: the seed's total wall time counts every run's.
    assert run("parts") == 0
    again = json.loads((tmp_path / "smoke" / "seed0.json").read_text())["wall_time_s"]
    assert again["total"] >= record["wall_time_s"]["total"] > 0

    # Stopped while the finished row is scored: the fitted net is kept until the row is in
    # the record, and the next run scores it without fitting again.
    from ltdd_bench.runner import Run

    (tmp_path / "smoke" / "seed0.json").unlink()
    score = Run.record

    def stop_while_scoring(self, table, name, *args, **kwargs):
        if table == "soft" and len(self.rows.get("soft", [])) == 1:  # the teacher's is in
            raise SessionEnds
        return score(self, table, name, *args, **kwargs)

    monkeypatch.setattr(Run, "record", stop_while_scoring)
    with pytest.raises(SessionEnds):
        run("parts")
    (kept,) = seed_dir.glob("row_*")
    assert kept.suffix == ".joblib"
    monkeypatch.setattr(Run, "record", score)
    fitted = []
    monkeypatch.setattr(
        Checkpoint, "on_epoch_end", lambda self, net, **k: fitted.append(Path(self.f_pickle).name)
    )
    assert run("parts") == 0
    assert fitted and kept.stem + ".partial.pkl" not in fitted  # the other rows only
    assert not list(seed_dir.glob("row_*"))
    record = json.loads((tmp_path / "smoke" / "seed0.json").read_text())
    scored = record["tables"]["soft"]
    assert [row["per_class_acc"] for row in scored] == [row["per_class_acc"] for row in first]
    # The kept row is listed as reused, with the seconds of its fit.
    (reused_row,) = [name for name in record["reused_artifacts"] if name.startswith("soft:")]
    assert record["wall_time_s"][reused_row] > 0


def test_changed_settings_are_the_recorded_ones_changed_or_dropped():
    from ltdd_bench.profiles import changed_settings

    recorded = {"seeds": [0], "ipc": 2, "teacher": {"epochs": 3}, "sm": 1}
    assert changed_settings(recorded, {"ipc": 2, "teacher": {"epochs": 3}, "sm": 1, "new": 0}) == []
    assert changed_settings(recorded, {"ipc": 10, "teacher": {"epochs": 4}}) == [
        "ipc",
        "sm",
        "teacher",
    ]
    # A tuple is recorded (JSON) as a list: the same setting.
    assert (
        changed_settings({"sm": {"crop_scale": [1.0, 1.0]}}, {"sm": {"crop_scale": (1.0, 1.0)}})
        == []
    )


#: Committed results of the timed comparisons and sweeps, by the script that renders them.
RENDERED = {
    "compare_demo_": "compare_demo",
    "compare_official_": "compare_official",
    "distill_speed_paper_": "distill_speed",
    "distill_speed_smoke_": "distill_speed",
    "fit_speed_": "fit_speed",
    "scale_out_": "scale_out",
    "search_cpu": "search_two_stage",
    "selection_speed_": "selection_speed",
    "sm_sweep_": "sm_sweep",
    "student_sweep_": "student_sweep",
    "teacher_cv_": "teacher_cv",
}


def _rendered_results():
    for path in sorted((BENCHMARKS / "results").rglob("*.json")):
        for prefix, script in RENDERED.items():
            if path.name.startswith(prefix) and path.with_suffix(".md").exists():
                yield pytest.param(path, script, id=path.stem)


@pytest.mark.parametrize("path, script", list(_rendered_results()))
def test_speed_and_sweep_results_re_render_byte_for_byte(path, script):
    # Every committed timing or sweep report follows from its JSON alone.
    module = load(script)
    record = json.loads(path.read_text())
    if script == "student_sweep":
        from ltdd_bench.sweeps import SweepRecord

        sweep = SweepRecord(
            path, {**record["meta"], "history": record["history"]}, record["cells"], record["notes"]
        )
        text = module.render_markdown(sweep, module.GRIDS[record["meta"]["grid"]])
    else:
        text = module.markdown(record)
    assert text == path.with_suffix(".md").read_text()


def test_the_timing_harness_runs_variants_in_turn_with_warm_up_medians_and_ratios(tmp_path):
    load("fit_speed")  # puts ltdd_bench on the path
    from ltdd_bench import timed

    calls = []
    variants = {
        "base": lambda: calls.append("base"),
        "other": lambda: calls.append("other") or {"figure": 1.0},
    }
    record = {"runs": []}
    path = tmp_path / "speed.json"
    timed.run_variants(record, variants, path, repeats=2, warmup=1, derive=lambda r: {"x": 2})
    # One untimed warm-up call each, then every variant once per round, in order.
    assert calls == ["base", "other", "base", "other", "base", "other"]
    assert [(r["variant"], r["repeat"]) for r in record["runs"]] == [
        ("base", 0),
        ("other", 0),
        ("base", 1),
        ("other", 1),
    ]
    assert all(r["x"] == 2 for r in record["runs"]) and record["runs"][1]["figure"] == 1.0
    assert json.loads(path.read_text()) == record  # saved after every run
    runs = [{"variant": v, "seconds": s} for v, s in [("a", 1.0), ("b", 3.0), ("a", 3.0), ("b", 5)]]
    assert timed.medians(runs) == {"a": 2.0, "b": 4.0}
    assert timed.ratios(runs, "a") == {"a": 1.0, "b": 2.0}
    assert timed.table(["n", "s"], [["a", "1.0"]]) == ["| n | s |", "|---|---:|", "| a | 1.0 |"]


def test_student_sweep_cross_validation_folds_and_the_defaults_point():
    script = load("student_sweep")
    from ltdd_bench.student_grids import DEFAULTS, HARD_POINT
    from sklearn_ltdd import StatisticsMatchingDistiller

    # The grid's DEFAULTS are the package's defaults, and a point of the sm_cv grid.
    defaults = StatisticsMatchingDistiller().get_params()
    assert {k: defaults[k] for k in script.BEFORE} == {**script.BEFORE, **DEFAULTS}
    assert dict(next(p.sm for p in script.GRIDS["sm_cv"] if p.name == HARD_POINT)) == DEFAULTS
    # Seed k is fold k: the validation parts are disjoint and cover the training set.
    parts = [script.load_group("digits_cv", None, k) for k in range(4)]
    n = len(parts[0][1]) + len(parts[0][3])
    assert sum(len(p[3]) for p in parts) == n
    assert all(len(p[1]) + len(p[3]) == n for p in parts)
    with pytest.raises(ValueError, match="folds: 0 to 3"):
        script.load_group("digits_cv", None, 4)


def test_reproduce_paper_refuses_rows_whose_setting_the_profile_lacks(tmp_path, capsys):
    script = load("reproduce_paper")
    assert "sm_cv" not in script.PROFILES["smoke"]
    code = script.main(["--profile", "smoke", "--tables", "soft_cv", "--out", str(tmp_path)])
    assert code == 2 and "sm_cv" in capsys.readouterr().err
    # By default a profile runs the tables whose distilled sets it has settings for.
    runnable = script.DECLARATIONS.runnable
    digits, _ = runnable(script.PROFILES["digits_la_dsa_ipc2"], script.TABLE_KEYS)
    assert {"soft", "soft_dm", "soft_cv"} <= set(digits) and not {"1", "dm"} & set(digits)
    paper, _ = runnable(script.PROFILES["paper"], script.TABLE_KEYS)
    # ... but for diagnostic tables (asked_only), which run when asked for by name.
    assert set(script.TABLE_KEYS) - set(paper) == {"soft_cv", "soft_students"}
    asked, error = runnable(script.PROFILES["cpu"], script.TABLE_KEYS, ["soft_students"])
    assert error is None and asked == ["soft_students"]


def test_digits_profiles_take_the_settings_cross_validation_chose():
    script = load("student_sweep")
    from ltdd_bench.paper_sets import SM_CV_BASE
    from ltdd_bench.profiles import PROFILES
    from ltdd_bench.student_grids import DEFAULTS
    from ltdd_bench.sweeps import SweepRecord

    record = SweepRecord.open(BENCHMARKS / "results" / "student_sweep_sm_cv.json", {})
    points = {p.name: dict(p.sm) for p in script.GRIDS["sm_cv"]}
    for teacher in ("la_dsa", "la_mix"):
        for ipc in (2, 10):
            profile = PROFILES[f"digits_{teacher}_ipc{ipc}"]
            chosen = script.cv_choice(record.entries(f"digits_cv, teacher {teacher}, ipc {ipc}"))
            want = {"n_iterations": 100, **points[chosen]}
            got = {**DEFAULTS, **SM_CV_BASE, **profile["sm_cv"]}  # as the runner builds it
            assert got == {**DEFAULTS, **SM_CV_BASE, **want}, chosen


def test_a_distillation_whose_set_up_dominates_runs_in_few_chunks(tmp_path, monkeypatch):
    """Statistics matching repeats its set-up (minutes on the standard data) in every
    warm-started chunk; the chunks must amortise it, not run one iteration each."""
    load("reproduce_paper")  # ltdd_bench on sys.path
    from types import SimpleNamespace

    from ltdd_bench import chunks
    from ltdd_bench.chunks import distil, split_seconds
    from ltdd_bench.common import Budget

    monkeypatch.setattr(chunks, "CHUNK_SECONDS", 0.05)  # below the set-up

    class SlowSetUp:
        """Each fit: 0.2 s of set-up, its iterations timed apart (as SM does), 1 ms each."""

        def __init__(self):
            self.n_iter_, self.fits = 0, []

        def set_params(self, **params):
            self.__dict__.update(params)
            return self

        def fit(self, X, y):
            time.sleep(0.2)
            self.fits.append(self.n_iterations)
            self.n_iter_ += self.n_iterations
            self.loss_history_ = [0.0] * self.n_iter_
            self.timings_ = {"recovery": 0.001 * self.n_iterations}
            return self

        def save_checkpoint(self, path):
            Path(path).write_text("{}")

    run = SimpleNamespace(notes={}, reused=[], seconds={}, env={"device": "cpu"})
    made = SlowSetUp()
    distil(run, "sm", [("shared", lambda: made)], None, None, tmp_path / "sm.npz", 100, Budget())
    assert made.n_iter_ == 100 and made.fits == [1, 99]  # not 100 chunks of one
    assert split_seconds(made, 3.0, 99) == pytest.approx((0.001, 2.901))
    assert split_seconds(object(), 3.0, 100) == (0.03, 0.0)  # no split: all per iteration


def test_a_row_of_several_students_records_their_mean_and_each_one(tmp_path):
    """``students=3``: the first student is the one-student row's (random_state seed), the
    others train with seed + 1000 and + 2000, and the row is their mean."""
    script = load("reproduce_paper")
    out = tmp_path / "r"
    args = ["--profile", "smoke", "--artifacts", str(tmp_path / "a"), "--out", str(out)]
    assert script.main(args + ["--tables", "soft", "soft_students"]) == 0
    tables = json.loads((out / "smoke" / "seed0.json").read_text())["tables"]
    one = {r["name"]: r for r in tables["soft"]}
    rows = tables["soft_students"]
    assert [r["name"] for r in rows] == [
        "Random 2 real images per class, soft labels",
        "SM (class-mean target), soft labels",
        "SM (hard cross-entropy target), soft labels",
    ]
    for row in rows:
        students = row["students"]
        assert [s["random_state"] for s in students] == [0, 1000, 2000]
        assert students[0]["total_acc"] == one[row["name"]]["total_acc"]
        assert row["total_acc"] == pytest.approx(np.mean([s["total_acc"] for s in students]))
        per_class = np.mean(list(row["per_class_acc"].values()))
        assert row["balanced_acc"] == pytest.approx(per_class)
    merged = json.loads((out / "smoke.json").read_text())
    assert [r["name"] for r in merged["tables"]["soft_students"]] == [r["name"] for r in rows]
    assert "soft_students" in merged["paired"]
    assert merged["tables"]["soft_students"][0]["students"] == {"seed0": rows[0]["students"]}
    text = (out / "smoke.md").read_text()
    assert "| Random 2 real images per class, soft labels | seed0 | " in text


def test_students_count_from_the_first_students_random_state():
    """A recipe that sets its own ``random_state`` (here seed + 5): students j = 1, 2 take it
    + 1000 j, and the recorded states are the ones fitted, not the seed's."""
    load("reproduce_paper")
    from ltdd_bench.students import fit_students

    class Student:
        def __init__(self, random_state):
            self.random_state = random_state

        def get_params(self):
            return {"random_state": self.random_state}

        def set_params(self, random_state):
            self.random_state = random_state
            return self

    class Run:
        def score(self, name, model, n_images):
            return {"total_acc": float(model.random_state), "few_shot": None}

    class Ctx:
        seed, run = 3, Run()

        def __init__(self):
            self.fitted = []

        def data_of(self, key):
            return np.zeros((4, 1, 2, 2)), np.arange(4)

        def fit_row(self, stage, model, X, y):
            self.fitted.append(model.random_state)
            return model, 1.0

        def row_recorded(self, stage):
            pass

    class Row:
        students, tables, data = 3, ("t",), "random"

        def model(self, ctx):
            return Student(ctx.seed + 5)

    ctx = Ctx()
    report, seconds = fit_students(ctx, Row(), "r", Student(np.int64(8)), 2.0, 4)
    assert ctx.fitted == [1008, 2008] and seconds == 4.0
    assert [s["random_state"] for s in report["students"]] == [8, 1008, 2008]
    assert report["total_acc"] == np.mean([8, 1008, 2008])
