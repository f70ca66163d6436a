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

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from ltdd_bench import timed
from ltdd_bench.common import load_data
from ltdd_bench.profiles import PROFILES
from sklearn_ltdd import CoresetSampler, DistributionMatchingDistiller


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
    parser = timed.arguments(
        __doc__, profiles=["cpu", "smoke"], profile="cpu", repeats=2, device="cpu"
    )
    args = parser.parse_args(argv)
    p = PROFILES[args.profile]
    data = load_data(p, args.source)
    X, y = data.X_train, data.y_train
    record = timed.new_record(
        "selection_speed",
        args.device,
        profile=args.profile,
        n_images=int(len(y)),
        width=p["width"],
        ipc=p["ipc"],
    )
    path = timed.result_path(args.out, f"selection_speed_{args.profile}", record)
    # Each run makes its estimator afresh and fits it (the making is timed too).
    fits = {
        name: lambda make=make: make().fit_resample(X, y)
        for name, make in variants(p, args.device).items()
    }
    timed.run_variants(record, fits, path, repeats=args.repeats)
    return timed.finish(path, record, markdown)


def markdown(record):
    median = timed.medians(record["runs"])
    dm = next(n for n in median if n.startswith("DM"))
    share = timed.ratios(record["runs"], dm)
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
    ]
    lines += timed.table(
        ["variant", "runs (s)", "median (s)", "share of DM's time"],
        [
            [
                n,
                ", ".join(f"{r['seconds']:.1f}" for r in record["runs"] if r["variant"] == n),
                f"{m:.1f}",
                f"{100 * share[n]:.0f} %",
            ]
            for n, m in median.items()
        ],
        align="llrr",
    )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
