"""The GPU campaign's window driver, run dry on the CPU (smoke profile, no wheels)."""

import json
import os
import signal
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import pytest

from .test_benchmarks import load

ROOT = Path(__file__).resolve().parents[1]


def window(out, state, **env):
    """The environment of a dry-run window writing to ``out`` with state under ``state``."""
    return dict(
        os.environ,
        OUT=str(out),
        LTDD_GPU_DRY_RUN="1",
        PYTHON=sys.executable,
        LTDD_CAMPAIGN=str(state / "campaign"),
        LTDD_RESULTS=str(state / "results"),
        **{k: str(v) for k, v in env.items()},
    )


def run_window(out, state, **env):
    proc = subprocess.run(
        ["bash", "benchmarks/gpu_session.sh"],
        cwd=ROOT,
        env=window(out, state, **env),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return json.loads((out / "campaign.json").read_text())


def gpu_window_args(tmp_path):
    """The arguments of a real (not dry) window, everything under ``tmp_path``."""

    class Args:
        dry_run, out, work, payload = False, tmp_path, tmp_path, tmp_path / "p.npz"
        results, distill_iterations = tmp_path, None

    return Args


def test_windows_obey_the_rules_and_the_next_one_continues(tmp_path):
    campaign = load("campaign")
    reproduce = load("reproduce_paper")
    state = tmp_path / "state"
    # Window 1: the distillation budget stops GM after one of its two iterations.
    first = tmp_path / "out1"
    manifest = run_window(first, state, LTDD_DISTILL_ITERATIONS=1)
    assert campaign.check_out_dir(first) == []
    steps = {s["name"]: s for s in manifest["steps"]}
    assert steps["preflight"]["status"] == "ok" and manifest["preflight"]["data"]["train"] == 503
    assert steps["cuda_tests"]["status"] == "skipped"
    assert steps["speed"]["status"] == "ok"
    assert steps["smoke_seed0"]["status"] == "incomplete"
    assert all(s["budget_s"] <= manifest["deadline_s"] for s in steps.values() if "budget_s" in s)
    assert (first / "log.txt").read_text().count("[campaign]") >= 4
    seed = json.loads((first / "rows" / "smoke" / "seed0.json").read_text())
    assert seed["complete"] is False and "Original" in [r["name"] for r in seed["tables"]["table1"]]
    with tarfile.open(first / "artifacts.tar") as tar:
        names = tar.getnames()
    assert "smoke/seed0/gm_ipc2.npz" in names and "figures/smoke_figure1_original.png" in names

    # Ingest, as after a real window, then window 2 goes on from there.
    assert (
        campaign.main(
            [
                "ingest",
                str(first),
                "--campaign",
                str(state / "campaign"),
                "--results",
                str(state / "results"),
            ]
        )
        == 0
    )
    record = json.loads(
        (state / "campaign" / "artifacts" / "smoke" / "seed0" / "gm_ipc2.json").read_text()
    )
    assert record["n_iter"] == 1 and record["finished"] is False
    assert (state / "results" / "smoke.md").exists()
    second = tmp_path / "out2"
    manifest = run_window(second, state)
    assert campaign.check_out_dir(second) == []
    steps = {s["name"]: s for s in manifest["steps"]}
    assert steps["speed"]["status"] == "done before"  # same code: not measured again
    assert steps["smoke_seed0"]["status"] == "ok"
    seed = json.loads((second / "rows" / "smoke" / "seed0.json").read_text())
    first_rows, second_rows = (h["rows_added"] for h in seed["history"])
    assert "table1: Original" in first_rows and "table1: Original" not in second_rows
    assert "table1: GM Distilled" in second_rows and seed["complete"] is True
    with tarfile.open(second / "artifacts.tar") as tar:
        gm = json.loads(tar.extractfile("smoke/seed0/gm_ipc2.json").read())
    # GM continued from its checkpoint (iteration 1 -> 2), not from the start.
    assert [c["done"] for c in gm["chunks"]] == [1, 2]
    # The window made only what was missing: the first window's files are not re-exported.
    assert (
        "figures/smoke_figure1_original.png"
        not in tarfile.open(second / "artifacts.tar").getnames()
    )
    assert reproduce.merge(state / "results", "smoke")["incomplete_seeds"] == [
        0
    ]  # not ingested yet


def test_a_killed_window_keeps_every_finished_step(tmp_path):
    campaign = load("campaign")
    out = tmp_path / "out"
    proc = subprocess.Popen(
        ["bash", "benchmarks/gpu_session.sh"],
        cwd=ROOT,
        env=window(out, tmp_path / "state"),
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    seed_file = out / "rows" / "smoke" / "seed0.json"
    try:
        deadline = time.time() + 300
        while time.time() < deadline and not seed_file.exists():
            time.sleep(0.2)
        assert seed_file.exists(), "no row was finished within 300 s"
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # as the device tool does at its limit
        proc.wait()
    manifest = json.loads((out / "campaign.json").read_text())
    assert [s["name"] for s in manifest["steps"]][:3] == ["preflight", "cuda_tests", "speed"]
    speed = json.loads(next((out / "speed").glob("*.json")).read_text())
    assert speed["runs"] and json.loads(seed_file.read_text())["tables"]["table1"]
    problems = [p for p in campaign.check_out_dir(out) if "files, over" not in p]
    assert problems == []


@pytest.mark.parametrize("deadline", [540.0, 200.0, 60.0])
def test_step_budgets_fit_the_deadline(deadline, tmp_path):
    campaign = load("campaign")

    queue, _ = campaign.build_queue(gpu_window_args(tmp_path), {"steps": {}})
    used = 0.0
    for step in queue:  # every step uses all it is given
        budget = campaign.step_budget(step, deadline - used)
        assert budget == 0.0 or budget >= campaign.MIN_STEP
        used += budget
    assert used <= deadline - campaign.RESERVE


def test_the_cuda_step_runs_without_pytest_xdist(tmp_path):
    """The device has no pytest-xdist: the window's pytest step must not take the
    project's ``-n auto`` (pyproject.toml) with it."""
    campaign = load("campaign")

    queue, _ = campaign.build_queue(gpu_window_args(tmp_path), {"steps": {}})
    (step,) = [s for s in queue if s.name == "cuda_tests"]
    command = [*step.command[:-1], "-p", "no:xdist", step.command[-1]]  # as if not installed
    proc = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]


def test_out_dir_rules(tmp_path):
    campaign = load("campaign")
    (tmp_path / "a" / "b" / "c").mkdir(parents=True)
    (tmp_path / "a" / "b" / "c" / "deep.json").write_text("{}")
    (tmp_path / "bad name.txt").write_text("x")
    for i in range(8):
        (tmp_path / f"f{i}.txt").write_text("x")
    problems = "\n".join(campaign.check_out_dir(tmp_path))
    assert "more than 2 folders deep" in problems and "name has characters" in problems
    assert "10 files, over 8" in problems
