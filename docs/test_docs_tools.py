"""Tests of the documentation's build-time helpers (results page, API check)."""

import json
from pathlib import Path

import pytest
from api_check import documented_names, missing_from_api_page, public_names
from render_results import NO_RESULTS, render_results, write_results_page

DOCS = Path(__file__).resolve().parent


def test_api_page_lists_every_public_object():
    assert missing_from_api_page(DOCS / "api.rst") == []


def test_api_check_reports_a_missing_name(tmp_path):
    text = (DOCS / "api.rst").read_text(encoding="utf-8").replace("   ClassGrouper\n", "")
    page = tmp_path / "api.rst"
    page.write_text(text, encoding="utf-8")
    # Both the subpackage name and its top-level re-export are then missing.
    assert missing_from_api_page(page) == [
        "sklearn_ltdd.ClassGrouper",
        "sklearn_ltdd.grouping.ClassGrouper",
    ]
    assert "sklearn_ltdd.grouping.ClassGrouper" in public_names()
    assert "sklearn_ltdd.grouping.ClassGrouper" not in documented_names(text)


@pytest.mark.parametrize("make_folder", [False, True])
def test_no_results_page(tmp_path, make_folder):
    folder = tmp_path / "results"
    if make_folder:
        folder.mkdir()
        (folder / "notes.md").write_text("not a result")
    assert render_results(folder) == (NO_RESULTS + "\n", [])


def _result():
    return {
        "profile": "paper",
        "device": ["NVIDIA H100"],
        "torch": "2.5.0",
        "commit": ["abc1234"],
        "command": ["python a.py --seed 0", "python a.py --seed 1"],
        "seeds": [0, 1],
        "wall_time_s": {
            "distill_gm": {"mean": 12.25, "std": 1.0, "n": 2},
            "total": 30.0,
            "broken": None,
        },
        "tables": {
            "table2": [
                {
                    "name": "Original + GM Distilled",
                    "train_images": 2578,
                    "total_acc": {"mean": 41.04, "std": 0.51, "n": 2},
                    "acc_std": {"mean": 19.0, "std": 0.0, "n": 1},
                    "group_acc": None,
                    "per_class_acc": {"airplane": {"mean": 75.0, "std": 2.0}},
                    "paper": {
                        "total_acc": 40.4,
                        "acc_std": 20.1,
                        "group_acc": None,
                        "per_class_acc": {"airplane": 75.5},
                    },
                }
            ],
            "table1": [{"name": "only a name"}],
        },
    }


def test_results_tables(tmp_path):
    (tmp_path / "paper.json").write_text(json.dumps(_result()))
    text, problems = render_results(tmp_path)
    assert problems == []
    assert text.index("Table 1:") < text.index("Table 2:")  # paper order, not file order
    assert "NVIDIA H100" in text and "abc1234" in text and "python a.py --seed 1" in text
    row = (
        "   * - Original + GM Distilled\n     - 2578\n     - 41.0 ± 0.5\n     - 40.4\n     - +0.6\n"
    )
    assert row in text
    assert "     - 19.0\n     - 20.1\n     - -1.1\n" in text  # one run: no ± 0.0
    assert "   * - only a name\n     - n/a\n" in text
    assert "     - 12.2 ± 1.0\n" in text and "     - 30.0\n" in text
    assert "   * - (paper)\n     - 75.5\n" in text
    assert "Incomplete" not in text


def test_an_incomplete_run_says_so(tmp_path):
    (tmp_path / "paper.json").write_text(json.dumps({**_result(), "incomplete_seeds": [2]}))
    text, problems = render_results(tmp_path)
    assert problems == []
    assert "**Incomplete:** seed(s) 2 stopped" in text


def test_speed_file_and_bad_files(tmp_path):
    speed = {
        "device": "CPU",
        "runs": [
            {"method": "DC", "ipc": 10, "s_per_it": 0.5, "peak_gib": None, "default_total_s": 500},
            {"method": "MTT experts", "ipc": 10, "s_per_expert_epoch": 0.25},
        ],
    }
    (tmp_path / "distill_speed_paper_cpu.json").write_text(json.dumps(speed))
    (tmp_path / "broken.json").write_text("{")
    (tmp_path / "list.json").write_text("[]")
    text, problems = render_results(tmp_path)
    assert text.index("Distillation speed") < text.index("broken.json")
    assert "0.5000 per iteration" in text and "0.2500 per expert epoch" in text
    assert len(problems) == 2
    assert problems[0].startswith("could not read broken.json: ")
    assert problems[1] == "list.json does not hold a JSON object"


def test_write_only_when_changed(tmp_path):
    target = tmp_path / "generated" / "results.inc"
    assert write_results_page(tmp_path / "absent", target) == []
    stamp = target.stat().st_mtime_ns
    write_results_page(tmp_path / "absent", target)
    assert target.stat().st_mtime_ns == stamp
    assert target.read_text() == NO_RESULTS + "\n"


def test_a_search_file_renders_its_choice_and_candidates():
    from render_results import render_result

    lines = render_result(
        "search_x",
        {
            "profile": "cpu",
            "device": "CPU",
            "best_params": {"routing": "soft"},
            "test": {"total_acc": 33.1, "acc_std": 10.1, "group_acc": 81.5},
            "cv_results": [{"params": {"routing": "soft"}, "mean": 0.329, "std": 0.034}],
            "cv_baselines": [{"name": "LA flat", "mean": 0.351, "std": 0.02}],
            "validation_verdict": "On the validation folds it loses to LA flat.",
            "baselines_on_test": [
                {
                    "name": "LA",
                    "total_acc": {"mean": 41.1, "std": 0.0, "n": 1},
                    "acc_std": {"mean": 17.9, "std": 0.0, "n": 1},
                }
            ],
        },
    )
    text = "\n".join(lines)
    assert ":Chosen: {'routing': 'soft'}" in text
    assert "total 33.1 %, Acc Std 10.1, group 81.5 %" in text
    assert "32.9 ± 3.4" in text and "41.1" in text
    assert "baseline (one network): LA flat" in text and "35.1 ± 2.0" in text
    assert "On the validation folds it loses to LA flat." in text


def test_a_scale_out_file_is_shown_as_its_report():
    # scale_out.py writes its own Markdown report (re-rendered from the JSON by a test in
    # tests/test_benchmarks.py): the page shows it as it is, runs and figures included.
    from render_results import render_result

    results = Path(__file__).resolve().parents[1] / "benchmarks" / "results"
    path = results / "scale_out_cpu_cpu_x86_64__2_cores.json"
    if not path.exists():
        pytest.skip("no committed scale_out result")
    markdown = path.with_suffix(".md").read_text()
    text = "\n".join(render_result(path.stem, json.loads(path.read_text()), markdown))
    assert "Expert trajectories on Dask workers" in text
    assert "LocalCluster" in text and "22.5" in text
    assert "per iteration" not in text  # not mistaken for a speed file


def test_a_report_written_beside_its_json_is_shown():
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "fit_speed_paper_cpu.json").write_text(
            json.dumps({"kind": "fit_speed", "runs": []})
        )
        (folder / "fit_speed_paper_cpu.md").write_text(
            "# Training speed\n\n- command: `python x.py`\n\n| variant | images/s |\n"
            "|---|---:|\n| plain | 300 |\n"
        )
        text, problems = render_results(folder)
    assert problems == [] and "Training speed\n---" in text
    assert "``python x.py``" in text and "   * - plain" in text
