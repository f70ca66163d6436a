"""Expert-trajectory training time with 1 and 2 Dask workers on this machine.

MTT's expert trajectories are independent training runs, so they spread
over joblib tasks (``TrajectoryMatchingDistiller(n_jobs=...)``); under
``joblib.parallel_config(backend="dask")`` the tasks run on the workers of
a Dask cluster. This script times ``train_expert_trajectories`` locally (one
process) and on a ``LocalCluster`` of 1 and 2 worker processes (one thread
each), checks that every run returns the same trajectories, and writes
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

import reproduce_paper as rp  # noqa: E402

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

    p = rp.PROFILES[args.profile]
    data = rp.load_data(p, args.source)
    X, y = data.X_train, data.y_train
    kwargs = dict(module=ConvNet, module_kwargs={"width": p["width"], "n_classes": len(
        data.target_names)}, n_experts=args.experts, epochs=args.epochs, lr=0.01,
        batch_size=256, augmentation=DSA(), seed=0, device="cpu")
    runs = []
    start = time.perf_counter()
    reference = train_expert_trajectories(X, y, **kwargs)
    runs.append({"where": "local process", "workers": 0,
                 "seconds": time.perf_counter() - start, "same_as_local": True})
    print(runs[-1], flush=True)
    for n in args.workers:
        cluster = distributed.LocalCluster(n_workers=n, threads_per_worker=1, processes=True,
                                           dashboard_address=None, silence_logs=50)
        client = distributed.Client(cluster)
        try:
            client.run(lambda: __import__("torch").zeros(1))  # workers import torch first
            start = time.perf_counter()
            with parallel_config(backend="dask"):
                trajectories = train_expert_trajectories(X, y, n_jobs=n, **kwargs)
            seconds = time.perf_counter() - start
        finally:
            client.close()
            cluster.close()
        runs.append({"where": "LocalCluster", "workers": n, "seconds": seconds,
                     "same_as_local": bool(np.allclose(trajectories, reference, atol=1e-6,
                                                       rtol=0))})
        print(runs[-1], flush=True)
    device = f"CPU {platform.machine()} ({os.cpu_count()} cores)"
    results = {"profile": args.profile, "device": device, "torch": torch.__version__,
               "distributed": distributed.__version__, "commit": rp.git_commit(),
               "command": " ".join(["python"] + sys.argv), "n_images": int(len(y)),
               "width": p["width"], "experts": args.experts, "epochs": args.epochs, "runs": runs}
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    slug = "".join(c if c.isalnum() else "_" for c in device).strip("_").lower()
    path = out / f"scale_out_{args.profile}_{slug}.json"
    path.write_text(json.dumps(results, indent=1))
    lines = [f"# Expert trajectories on Dask workers: {device}", "",
             f"- profile {args.profile} ({len(y)} images, ConvNet width {p['width']}); "
             f"{args.experts} experts x {args.epochs} epochs with DSA; torch {torch.__version__}, "
             f"distributed {distributed.__version__}; commit {results['commit']}",
             f"- command: `{results['command']}`", "",
             "| where | workers | seconds | same trajectories as local |", "|---|---:|---:|---|"]
    lines += [f"| {r['where']} | {r['workers']} | {r['seconds']:.1f} | {r['same_as_local']} |"
              for r in runs]
    path.with_suffix(".md").write_text("\n".join(lines) + "\n")
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
