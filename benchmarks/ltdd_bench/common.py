"""What every benchmark script records and shares: commit, device, JSON, budgets, data."""

from __future__ import annotations

import json
import os
import platform
import shlex
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parents[1]  # benchmarks/
ROOT = HERE.parent


def git_commit() -> str:
    """The checkout's commit (``+dirty`` with uncommitted changes).

    On a machine without the repository's ``.git`` (a GPU window receives a
    copy of the working tree), ``$LTDD_COMMIT`` says which commit it is.
    """
    if os.environ.get("LTDD_COMMIT"):
        return os.environ["LTDD_COMMIT"]
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            cwd=HERE,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            cwd=HERE,
        ).stdout.strip()
        commit += "+dirty" if dirty else ""
    except (OSError, subprocess.CalledProcessError):
        commit = "unknown"
    return commit or "unknown"


def device_name(device="auto") -> str:
    """The GPU's name, or the CPU with its cores and torch threads."""
    import torch

    if torch.cuda.is_available() and str(device) != "cpu":
        return torch.cuda.get_device_name(0)
    return (
        f"CPU ({platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"{torch.get_num_threads()} threads)"
    )


def cpu_description() -> str:
    """The CPU's model, torch's vector capability and whether bfloat16 is native there
    (AVX512-BF16 or AMX-BF16; without them ``precision="bf16"`` is emulated, slowly)."""
    import torch

    from sklearn_ltdd.utils._acceleration import native_bf16

    name = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as info:
            name = next(
                (line.split(":", 1)[1].strip() for line in info if line.startswith("model name")),
                name,
            )
    except OSError:
        pass
    bf16 = "native bf16" if native_bf16("cpu") else "no native bf16 (emulated)"
    return f"{name}; {torch.backends.cpu.get_cpu_capability()}; {bf16}"


def versions() -> dict:
    """Versions of the packages a figure depends on."""
    import numpy
    import sklearn
    import skorch
    import torch

    return {
        "torch": torch.__version__,
        "numpy": numpy.__version__,
        "scikit-learn": sklearn.__version__,
        "skorch": skorch.__version__,
        "cuda": torch.version.cuda,
        "python": platform.python_version(),
    }


def command() -> str:
    """The command line as a shell would take it again (arguments with spaces quoted)."""
    return shlex.join(["python"] + sys.argv)


def environment(args) -> dict:
    """The record of a ``reproduce_paper.py`` run (``run_device`` is not saved)."""
    import torch

    return {
        "device": device_name(args.device),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "commit": git_commit(),
        "command": command(),
        "run_device": args.device,
    }


def write_json(path, data) -> Path:
    """Write JSON atomically: a temporary name beside it, then a rename, so a
    kill at any moment leaves the old file or the new one, never half of one."""
    path = Path(path)
    tmp = path.with_name(path.name + ".part")
    tmp.write_text(json.dumps(data, indent=1))
    os.replace(tmp, path)
    return path


def slug(text: str) -> str:
    """A file-name fragment of ``text``: letters and digits, the rest as underscores."""
    return "".join(c if c.isalnum() else "_" for c in text).strip("_").lower()


# -- time limits --------------------------------------------------------------------------
class OutOfTime(Exception):
    """The run's time limit or distillation budget is spent; finished work is saved."""


class Budget:
    """A run's limits: a wall-clock deadline and a cap on distillation iterations.

    ``deadline`` is an absolute ``time.time()``; ``iterations`` caps the
    distillation iterations of this run (None: no cap), which makes a
    partial run reproducible in tests.
    """

    def __init__(self, deadline=None, iterations=None):
        self.deadline = deadline
        self.iterations = iterations

    @classmethod
    def from_limit(cls, seconds=None, iterations=None, started=None):
        started = time.time() if started is None else started
        return cls(None if seconds is None else started + seconds, iterations)

    def left(self) -> float:
        return float("inf") if self.deadline is None else self.deadline - time.time()

    def spent(self) -> bool:
        return self.left() <= 0


# -- data --------------------------------------------------------------------------------
def is_payload(source) -> bool:
    """Whether ``source`` names a numpy payload file (``benchmarks/payload.py``)."""
    return source is not None and str(source).endswith(".npz")


def load_data(profile: dict, source=None, balanced: bool = False):
    """A profile's data; ``balanced`` gives Figure 1's balanced training set.

    ``source`` is a CIFAR-10 hub id or folder, or a payload file written by
    ``benchmarks/payload.py`` (numpy only: what a GPU machine without
    ``datasets`` reads).
    """
    from sklearn_ltdd.datasets import load_cifar10_lt, load_digits_lt

    if profile["data"] == "digits":
        ratio = profile.get("imbalance_ratio", 10)
        return (
            load_digits_lt(imbalance_ratio=1) if balanced else load_digits_lt(imbalance_ratio=ratio)
        )
    if is_payload(source):
        from .payload_io import load

        name = "paper" if profile["max_per_class"] == 1000 else "standard"
        return load(source, profile=name, balanced=balanced)
    if balanced:
        full = load_cifar10_lt(source=source, max_per_class=profile["max_per_class"])
        per_class = len(full.y_train) // len(full.target_names)
        return load_cifar10_lt(source=source, imbalance_ratio=1, max_per_class=per_class)
    return load_cifar10_lt(source=source, max_per_class=profile["max_per_class"])


def changed_params(fitted, fresh) -> dict:
    """The plain-valued parameters (numbers, strings) ``fresh`` sets otherwise than
    ``fitted``: name -> (fitted's, fresh's); device and verbosity aside."""
    if not hasattr(fresh, "get_params"):
        return {}
    old, new = fitted.get_params(deep=False), fresh.get_params(deep=False)
    plain = (int, float, str, bool, type(None))
    return {
        k: (old.get(k), v)
        for k, v in new.items()
        if k not in ("device", "verbose") and isinstance(v, plain) and old.get(k) != v
    }
