"""Expert-trajectory training time with 1 and 2 Dask workers on this machine.

MTT's expert trajectories are independent training runs, so they spread
over joblib tasks (``TrajectoryMatchingDistiller(n_jobs=...)``); under
``joblib.parallel_config(backend="dask")`` the tasks run on the workers of
a Dask cluster. This script times ``train_expert_trajectories`` locally (one
process) and on a ``LocalCluster`` of 1 and 2 worker processes (one thread
each), checks that every run returns the trajectories of a one-thread local
run bit for bit (a process with more intra-op threads rounds differently,
slightly; that difference is reported too), and writes
``<out>/scale_out_<profile>_<device>.json`` and ``.md``.

Examples
--------
python benchmarks/scale_out.py --profile smoke
python benchmarks/scale_out.py --profile paper --source ../shared/data/cifar10 --experts 4
"""

from __future__ import annotations

import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch
from joblib import parallel_config

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from ltdd_bench import timed
from ltdd_bench.common import load_data
from ltdd_bench.profiles import PROFILES
from sklearn_ltdd.augmentation import DSA
from sklearn_ltdd.distillation import train_expert_trajectories
from sklearn_ltdd.nets import ConvNet


def main(argv=None):
    parser = timed.arguments(__doc__, profiles=["smoke", "cpu", "paper"], profile="smoke")
    parser.add_argument("--experts", type=int, default=4)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args(argv)
    import distributed

    p = PROFILES[args.profile]
    data = load_data(p, args.source)
    X, y = data.X_train, data.y_train
    kwargs = dict(
        module=ConvNet,
        module_kwargs={"width": p["width"], "n_classes": len(data.target_names)},
        n_experts=args.experts,
        epochs=args.epochs,
        lr=0.01,
        batch_size=256,
        augmentation=DSA(),
        seed=0,
        device="cpu",
    )
    warm_up = {**kwargs, "n_experts": 1, "epochs": 1}

    trajectories = []

    def local(threads):
        def call():
            torch.set_num_threads(threads)
            trajectories.append(train_expert_trajectories(X, y, **kwargs))
            torch.set_num_threads(default)
            return {"workers": 0}

        return call

    def on_cluster(n):
        def call():
            cluster = distributed.LocalCluster(
                n_workers=n,
                threads_per_worker=1,
                processes=True,
                dashboard_address=None,
                silence_logs=50,
            )
            client = distributed.Client(cluster)
            try:
                # Warm-up on every worker (imports, first-call costs), as in this process.
                client.run(train_expert_trajectories, X[:64], y[:64], **warm_up)
                start = time.perf_counter()
                if n == 1:
                    # joblib runs a single job in this process, not on the worker:
                    # the one-worker row submits the whole call to the worker instead.
                    future = client.submit(
                        train_expert_trajectories, client.scatter(X), y, **kwargs
                    )
                    trajectories.append(future.result())
                else:
                    # n_jobs=-1: one task per worker thread of the cluster.
                    with parallel_config(backend="dask"):
                        trajectories.append(train_expert_trajectories(X, y, n_jobs=-1, **kwargs))
                # The training alone is timed (not the cluster's start, warm-up and close),
                # and all its rows are "LocalCluster": both replace run_variants' own.
                seconds = time.perf_counter() - start
                return {"where": "LocalCluster", "workers": n, "seconds": seconds}
            finally:
                client.close()
                cluster.close()

        return call

    # Workers run one thread each; a process with another intra-op thread count
    # rounds its reductions differently, so the exact reference is
    # a local run on one thread, and the default-thread run is timed beside it.
    default = torch.get_num_threads()
    rows = {
        f"local process, {default} threads": local(default),
        "local process, 1 thread": local(1),
        **{f"LocalCluster #{i}": on_cluster(n) for i, n in enumerate(args.workers)},
    }
    record = timed.new_record(
        "scale_out",
        profile=args.profile,
        distributed=distributed.__version__,
        n_images=int(len(y)),
        width=p["width"],
        experts=args.experts,
        epochs=args.epochs,
    )
    # The device as this script has always named it (and its files by it).
    record["device"] = f"CPU {platform.machine()} ({os.cpu_count()} cores)"
    path = timed.result_path(args.out, f"scale_out_{args.profile}", record)
    train_expert_trajectories(X[:64], y[:64], **warm_up)
    timed.run_variants(record, rows, path, key="where")
    reference = trajectories[1]
    for row, result in zip(record["runs"], trajectories):
        row.update(
            identical_to_1_thread=bool(np.array_equal(result, reference)),
            max_abs_diff=float(np.abs(result - reference).max()),
        )
        print(row, flush=True)
    return timed.finish(path, record, markdown)


def markdown(record):
    lines = [
        f"# Expert trajectories on Dask workers: {record['device']}",
        "",
        f"- profile {record['profile']} ({record['n_images']} images, ConvNet width "
        f"{record['width']}); {record['experts']} experts x {record['epochs']} epochs with DSA; "
        f"torch {record['torch']}, distributed {record['distributed']}; "
        f"commit {record['commit']}",
        f"- command: `{record['command']}`",
        "",
    ]
    lines += timed.table(
        ["where", "workers", "seconds", "identical to the 1-thread local run", "max abs diff"],
        [
            [
                r["where"],
                r["workers"],
                f"{r['seconds']:.1f}",
                r["identical_to_1_thread"],
                f"{r['max_abs_diff']:.2g}",
            ]
            for r in record["runs"]
        ],
        align="lrrlr",
    )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
