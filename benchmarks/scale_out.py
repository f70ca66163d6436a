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

import argparse
import json
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

from ltdd_bench.common import git_commit, load_data  # noqa: E402
from ltdd_bench.profiles import PROFILES  # noqa: E402
from sklearn_ltdd.augmentation import DSA  # noqa: E402
from sklearn_ltdd.distillation import train_expert_trajectories  # noqa: E402
from sklearn_ltdd.nets import ConvNet  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--profile", choices=["smoke", "cpu", "paper"], default="smoke")
    parser.add_argument("--source", default=None)
    parser.add_argument("--experts", type=int, default=4)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--out", default=str(HERE / "results"))
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
    runs = []
    # Workers run one thread each; a process with another intra-op thread count
    # rounds its reductions differently, so the exact reference is
    # a local run on one thread, and the default-thread run is timed beside it.
    threads = torch.get_num_threads()
    train_expert_trajectories(X[:64], y[:64], **{**kwargs, "n_experts": 1, "epochs": 1})  # warm-up
    start = time.perf_counter()
    local = train_expert_trajectories(X, y, **kwargs)
    runs.append(
        {
            "where": f"local process, {threads} threads",
            "workers": 0,
            "seconds": time.perf_counter() - start,
        }
    )
    torch.set_num_threads(1)
    start = time.perf_counter()
    reference = train_expert_trajectories(X, y, **kwargs)
    runs.append(
        {"where": "local process, 1 thread", "workers": 0, "seconds": time.perf_counter() - start}
    )
    torch.set_num_threads(threads)
    for run, result in zip(runs, (local, reference)):
        run.update(
            identical_to_1_thread=bool(np.array_equal(result, reference)),
            max_abs_diff=float(np.abs(result - reference).max()),
        )
        print(run, flush=True)
    for n in args.workers:
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
            client.run(
                train_expert_trajectories, X[:64], y[:64], **{**kwargs, "n_experts": 1, "epochs": 1}
            )
            start = time.perf_counter()
            if n == 1:
                # joblib runs a single job in this process, not on the worker:
                # the one-worker row submits the whole call to the worker instead.
                trajectories = client.submit(
                    train_expert_trajectories, client.scatter(X), y, **kwargs
                ).result()
            else:
                # n_jobs=-1: one task per worker thread of the cluster.
                with parallel_config(backend="dask"):
                    trajectories = train_expert_trajectories(X, y, n_jobs=-1, **kwargs)
            seconds = time.perf_counter() - start
        finally:
            client.close()
            cluster.close()
        runs.append(
            {
                "where": "LocalCluster",
                "workers": n,
                "seconds": seconds,
                "identical_to_1_thread": bool(np.array_equal(trajectories, reference)),
                "max_abs_diff": float(np.abs(trajectories - reference).max()),
            }
        )
        print(runs[-1], flush=True)
    device = f"CPU {platform.machine()} ({os.cpu_count()} cores)"
    results = {
        "profile": args.profile,
        "device": device,
        "torch": torch.__version__,
        "distributed": distributed.__version__,
        "commit": git_commit(),
        "command": " ".join(["python"] + sys.argv),
        "n_images": int(len(y)),
        "width": p["width"],
        "experts": args.experts,
        "epochs": args.epochs,
        "runs": runs,
    }
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    slug = "".join(c if c.isalnum() else "_" for c in device).strip("_").lower()
    path = out / f"scale_out_{args.profile}_{slug}.json"
    path.write_text(json.dumps(results, indent=1))
    lines = [
        f"# Expert trajectories on Dask workers: {device}",
        "",
        f"- profile {args.profile} ({len(y)} images, ConvNet width {p['width']}); "
        f"{args.experts} experts x {args.epochs} epochs with DSA; torch {torch.__version__}, "
        f"distributed {distributed.__version__}; commit {results['commit']}",
        f"- command: `{results['command']}`",
        "",
        "| where | workers | seconds | identical to the 1-thread local run | max abs diff |",
        "|---|---:|---:|---|---:|",
    ]
    lines += [
        f"| {r['where']} | {r['workers']} | {r['seconds']:.1f} | "
        f"{r['identical_to_1_thread']} | {r['max_abs_diff']:.2g} |"
        for r in runs
    ]
    path.with_suffix(".md").write_text("\n".join(lines) + "\n")
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
