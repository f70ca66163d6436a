"""The GPU campaign's queue: the steps of a window, what makes each one done, and its budget.

``campaign.py`` runs these steps in order under one deadline (its docstring
lists them); a step counts as done when the committed state in
``benchmarks/campaign/`` has it passed with the same code, or, for a
reproduction, when its seed file is complete.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

from .common import HERE, ROOT

#: Seconds kept free at the end for the last manifest write.
RESERVE = 8.0
#: A step that would get less than this is skipped ("no time").
MIN_STEP = 20.0


class Step:
    """One queue entry: a command with a time cap and a test for "already done"."""

    def __init__(self, name, cap, command, done=None, kind="command"):
        self.name, self.cap, self.command, self.done, self.kind = name, cap, command, done, kind


def code_hash(*parts):
    """SHA-1 over the Python files under ``parts`` (paths relative to the repository)."""
    digest = hashlib.sha1()
    for part in parts:
        path = ROOT / part
        files = sorted(path.rglob("*.py")) if path.is_dir() else [path]
        for file in files:
            digest.update(str(file.relative_to(ROOT)).encode())
            digest.update(file.read_bytes())
    return digest.hexdigest()[:12]


CUDA_CODE = ("sklearn_ltdd", "tests/test_cuda.py", "tests/conftest.py")
SPEED_CODE = (
    "sklearn_ltdd/distillation",
    "sklearn_ltdd/augmentation",
    "sklearn_ltdd/nets/_modules.py",
    "benchmarks/distill_speed.py",
)


def load_state(campaign):
    """The committed state (``state.json``) of the campaign folder, or an empty one."""
    path = Path(campaign) / "state.json"
    return json.loads(path.read_text()) if path.exists() else {"windows": [], "steps": {}}


def seed_complete(results, profile, seed):
    """Whether ``results`` holds the seed file of ``profile`` and ``seed``, complete."""
    path = Path(results) / profile / f"seed{seed}.json"
    return path.exists() and json.loads(path.read_text()).get("complete") is True


def build_queue(args, state):
    """The steps of a window, in priority order."""
    py = [sys.executable, "-u"]
    out = Path(args.out)
    work = Path(args.work)
    steps_done = state.get("steps", {})

    def done_for(name, code):
        def check():
            entry = steps_done.get(name, {})
            return (
                entry.get("code") == code
                and entry.get("outcome") == "passed"
                and entry.get("dry_run", False) == args.dry_run
            )

        return check

    profile = "smoke" if args.dry_run else "paper"
    source = [] if args.dry_run else ["--source", str(args.payload)]
    device = "cpu" if args.dry_run else "auto"
    queue = [
        Step(
            "preflight",
            60,
            py
            + [str(HERE / "campaign.py"), "preflight"]
            + (["--dry-run"] if args.dry_run else ["--payload", str(args.payload)]),
            kind="preflight",
        )
    ]
    cuda = code_hash(*CUDA_CODE)
    if args.dry_run:
        queue.append(Step("cuda_tests", 0, None, kind="skip:dry run, no CUDA"))
    else:
        queue.append(
            Step(
                "cuda_tests",
                120,
                # The device has no pytest-xdist: pyproject's addopts (-n auto) are dropped.
                [
                    *py,
                    *"-m pytest -q -p no:cacheprovider -o addopts= tests/test_cuda.py".split(),
                ],
                done=done_for("cuda_tests", cuda),
                kind="pytest",
            )
        )
    speed = code_hash(*SPEED_CODE)
    speed_args = (
        "--profile smoke --ipc 1 --iterations 1 --mtt-iterations 1 --warmup 1 --experts 2 "
        "--device cpu".split()
        if args.dry_run
        else "--profile paper --ipc 10 1 --iterations 2 --mtt-iterations 3 --warmup 1 "
        "--experts 10 --expert-epochs 4 --fast".split()
        + source
    )
    queue.append(
        Step(
            "speed",
            200,
            py
            + [str(HERE / "distill_speed.py"), *speed_args, "--out", str(out / "speed")]
            + ["--no-markdown"],
            done=done_for("speed", speed),
            kind="speed",
        )
    )
    runs = (
        [("smoke", 0)]
        if args.dry_run
        else [("paper", 0), ("paper", 1), ("paper", 2), ("standard", 0)]
    )
    for prof, seed in runs:
        command = py + [str(HERE / "reproduce_paper.py"), "--profile", prof]
        command += ["--seeds", str(seed), *source, "--device", device, "--no-merge"]
        command += ["--out", str(out / "rows"), "--resume-from", str(args.results)]
        command += ["--artifacts", str(work / "artifacts")]
        command += ["--experts-cache", str(work / "experts")]
        command += ["--export-tar", str(out / "artifacts.tar")]
        command += ["--figure-dir", str(work / "artifacts" / "figures")]
        if prof == profile and seed == 0:
            command.append("--figure")
        if args.distill_iterations is not None:
            command += ["--distill-iterations", str(args.distill_iterations)]
        queue.append(
            Step(
                f"{prof}_seed{seed}",
                None,
                command,
                done=lambda prof=prof, seed=seed: seed_complete(args.results, prof, seed),
                kind="reproduce",
            )
        )
    return queue, {"cuda_tests": cuda, "speed": speed}


def step_budget(step, remaining):
    """Seconds a step may run with ``remaining`` seconds left in the window."""
    room = remaining - RESERVE
    budget = room if step.cap is None else min(step.cap, room)
    return budget if budget >= MIN_STEP else 0.0
