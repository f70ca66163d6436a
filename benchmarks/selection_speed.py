"""Making a set of ``ipc`` images per class, timed in one process: selection against distillation.

On a profile of ``reproduce_paper.py`` (default ``cpu``: the paper's 2,478
CIFAR10-LT images, ConvNet3 at the profile's width), with the defaults of
each estimator and the profile's iterations, in turn, ``--repeats`` times:

* ``CoresetSampler`` (difficulty and herding, alone and with ``combine=4``),
  each training its own scoring network for the profile's
  ``coreset.scoring_epochs`` (so the network is counted every time);
* ``DistributionMatchingDistiller`` for the profile's DM iterations.

Issue 24 asks for selection below DM's 200 iterations; the two are
compared only within this run. Writes ``<out>/selection_speed_<profile>_<device>.json``
and ``.md``.

Examples
--------
python benchmarks/selection_speed.py --source ../shared/data/cifar10
python benchmarks/selection_speed.py --profile smoke --repeats 1     # seconds
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from ltdd_bench.common import (  # noqa: E402
    command,
    device_name,
    git_commit,
    load_data,
    slug,
    versions,
    write_json,
)
from ltdd_bench.profiles import PROFILES  # noqa: E402
from sklearn_ltdd import CoresetSampler, DistributionMatchingDistiller  # noqa: E402


def variants(p, device):
    width, ipc = {"module__width": p["width"]}, p["ipc"]
    coreset = {
        "scoring_epochs": p["coreset"]["scoring_epochs"],
        **width,
        "device": device,
        "random_state": 0,
    }
    dm = {k: v for k, v in p["dm"].items()}
    return {
        "coreset: difficulty": lambda: CoresetSampler(ipc=ipc, strategy="difficulty", **coreset),
        "coreset: difficulty, combine=4": lambda: CoresetSampler(
            ipc=ipc, strategy="difficulty", combine=4, **coreset
        ),
        "coreset: herding": lambda: CoresetSampler(ipc=ipc, strategy="herding", **coreset),
        f"DM, {dm['n_iterations']} iterations": lambda: DistributionMatchingDistiller(
            ipc=ipc, **width, device=device, random_state=0, **dm
        ),
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--profile", choices=["cpu", "smoke"], default="cpu")
    parser.add_argument("--source", default=None)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--out", default=str(HERE / "results"))
    args = parser.parse_args(argv)
    p = PROFILES[args.profile]
    data = load_data(p, args.source)
    X, y = data.X_train, data.y_train
    record = {
        "kind": "selection_speed",
        "device": device_name(args.device),
        **versions(),
        "commit": git_commit(),
        "command": command(),
        "profile": args.profile,
        "n_images": int(len(y)),
        "width": p["width"],
        "ipc": p["ipc"],
        "runs": [],
    }
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"selection_speed_{args.profile}_{slug(record['device'])}.json"
    for repeat in range(args.repeats):
        for name, make in variants(p, args.device).items():
            start = time.perf_counter()
            make().fit_resample(X, y)
            record["runs"].append(
                {"variant": name, "repeat": repeat, "seconds": time.perf_counter() - start}
            )
            print(record["runs"][-1], flush=True)
            write_json(path, record)
    path.with_suffix(".md").write_text(markdown(record))
    print(f"wrote {path} and {path.with_suffix('.md')}")
    return 0


def markdown(record):
    names = list(dict.fromkeys(r["variant"] for r in record["runs"]))
    median = {
        n: float(np.median([r["seconds"] for r in record["runs"] if r["variant"] == n]))
        for n in names
    }
    dm = next(n for n in names if n.startswith("DM"))
    lines = [
        f"# Selection against distillation on {record['device']}",
        "",
        f"- profile {record['profile']}: {record['n_images']} images, ConvNet3 width "
        f"{record['width']}, ipc {record['ipc']}; torch {record['torch']}; commit "
        f"{record['commit']}",
        f"- command: `{record['command']}`",
        "- each variant in turn in one process; a coreset's time includes training its "
        "scoring network",
        "",
        "| variant | runs (s) | median (s) | share of DM's time |",
        "|---|---|---:|---:|",
    ]
    for n in names:
        runs = ", ".join(f"{r['seconds']:.1f}" for r in record["runs"] if r["variant"] == n)
        lines.append(f"| {n} | {runs} | {median[n]:.1f} | {100 * median[n] / median[dm]:.0f} % |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
