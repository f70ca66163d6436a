"""Statistics matching's parts, one at a time, under one soft-label student (issue 22).

On a profile of ``reproduce_paper.py`` (default ``cpu``), per seed: the
teachers that the default networks could be (the paper's cumulative
reweighting against logit adjustment, both on mixup/CutMix batches), then
students of the logit-adjustment teacher (``make_student``) on

* random real images (the control: same teacher, same recipe);
* the confidence-guided initial views alone (no recovery step);
* the views after recovery at several strengths (``lr_img``, ``n_iterations``),
  with and without the cross-entropy term.

It measures which component carries the gain, and so chose the
distiller's recovery defaults. Writes ``<out>/sm_sweep_<profile>.json`` and
``.md``.

Examples
--------
python benchmarks/sm_sweep.py --profile cpu --seeds 0 1 --source ../shared/data/cifar10
python benchmarks/sm_sweep.py --profile smoke            # seconds
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from imblearn.under_sampling import RandomUnderSampler  # noqa: E402
from sklearn.frozen import FrozenEstimator  # noqa: E402
from sklearn.metrics import balanced_accuracy_score  # noqa: E402

from ltdd_bench.common import command, device_name, git_commit, load_data, versions, write_json  # noqa: E402
from ltdd_bench.profiles import PROFILES, convnet  # noqa: E402
from sklearn_ltdd import StatisticsMatchingDistiller  # noqa: E402
from sklearn_ltdd.nets import make_student  # noqa: E402
from sklearn_ltdd.sampling import ImageSampler  # noqa: E402

#: (name, StatisticsMatchingDistiller parameters); None: random real images.
VARIANTS = [
    ("random real images", None),
    ("initial views only (no recovery)", {"n_iterations": 1, "lr_img": 1e-9}),
    ("recovery: 100 steps at lr 0.001 (default)", {"n_iterations": 100, "lr_img": 0.001}),
    ("recovery: 100 steps at lr 0.01", {"n_iterations": 100, "lr_img": 0.01}),
    (
        "recovery: 100 steps at lr 0.01, ce_weight 1",
        {"n_iterations": 100, "lr_img": 0.01, "ce_weight": 1.0},
    ),
    ("recovery: 100 steps at lr 0.05 (EDC's rate)", {"n_iterations": 100, "lr_img": 0.05}),
    (
        "random real images + recovery at lr 0.01",
        {"n_iterations": 100, "lr_img": 0.01, "init": "real"},
    ),
]
TEACHER = {
    "module__norm": "batchnorm",
    "batch_mixing": "mixup_or_cutmix",
    "augmentation": "crop_flip",
    "lr": 0.05,
    "batch_size": 64,
    "lr_schedule": "cosine",
}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--profile", choices=sorted(PROFILES), default="smoke")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--source", default=None)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--out", default=str(HERE / "results"))
    args = parser.parse_args(argv)
    p = PROFILES[args.profile]
    data = load_data(p, args.source)
    X, y = data.X_train, data.y_train

    def score(model):
        return 100 * balanced_accuracy_score(data.y_test, model.predict(data.X_test))

    record = {
        "kind": "sm_sweep",
        "profile": args.profile,
        "device": device_name(args.device),
        **versions(),
        "commit": git_commit(),
        "command": command(),
        "seeds": args.seeds,
        "teacher_epochs": p["teacher"]["epochs"],
        "student_epochs": p["student_epochs"],
        "teachers": [],
        "rows": [],
    }
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"sm_sweep_{args.profile}.json"
    for seed in args.seeds:
        teachers = {}
        for criterion in ("logit_adjusted", "cumulative_reweighted"):
            start = time.perf_counter()
            net = convnet(
                p, args.device, seed, p["teacher"]["epochs"], criterion=criterion, **TEACHER
            ).fit(X, y)
            teachers[criterion] = net
            record["teachers"].append(
                {
                    "seed": seed,
                    "criterion": criterion,
                    "acc": score(net),
                    "seconds": time.perf_counter() - start,
                }
            )
            print(record["teachers"][-1], flush=True)
        teacher = FrozenEstimator(teachers["logit_adjusted"])
        for name, params in VARIANTS:
            start = time.perf_counter()
            extra = {}
            if params is None:
                sampler = ImageSampler(
                    RandomUnderSampler(
                        sampling_strategy={c: p["ipc"] for c in np.unique(y)}, random_state=seed
                    )
                )
                X_set, y_set = sampler.fit_resample(X, y)
            else:
                sm = StatisticsMatchingDistiller(
                    ipc=p["ipc"],
                    observer=teacher,
                    teacher="observer",
                    module__width=p["width"],
                    device=args.device,
                    random_state=seed,
                    **params,
                ).fit(X, y)
                X_set, y_set = sm.X_syn_, sm.y_syn_
                extra = {
                    "statistics_loss": [float(sm.loss_history_[0]), float(sm.loss_history_[-1])],
                    "timings": sm.timings_,
                }
            made = time.perf_counter() - start
            for soft in (True, False) if name == "random real images" else (True,):
                start = time.perf_counter()
                student = make_student(
                    teacher if soft else None,
                    module__width=p["width"],
                    max_epochs=p["student_epochs"],
                    device=args.device,
                    random_state=seed,
                ).fit(X_set, y_set)
                row = {
                    "seed": seed,
                    "set": name,
                    "labels": "soft" if soft else "hard",
                    "acc": score(student),
                    "set_seconds": made,
                    "student_seconds": time.perf_counter() - start,
                    **extra,
                }
                record["rows"].append(row)
                print(row, flush=True)
                write_json(path, record)
    write_json(path, record)
    path.with_suffix(".md").write_text(markdown(record))
    print(f"wrote {path} and {path.with_suffix('.md')}")
    return 0


def markdown(record):
    def mean(values):
        return f"{np.mean(values):.1f}" + (f" ± {np.std(values):.1f}" if len(values) > 1 else "")

    lines = [
        f"# Statistics matching, part by part: profile `{record['profile']}`",
        "",
        f"- device: {record['device']}; torch {record['torch']}; commit {record['commit']}",
        f"- command: `{record['command']}`",
        f"- seeds {record['seeds']}; teachers {record['teacher_epochs']} epochs; students "
        f"`make_student`, {record['student_epochs']} epochs",
        "",
        "Teachers (balanced test accuracy, %):",
        "",
        "| loss (BN ConvNet3, mixup/CutMix) | total acc | seconds |",
        "|---|---:|---:|",
    ]
    for criterion in dict.fromkeys(t["criterion"] for t in record["teachers"]):
        rows = [t for t in record["teachers"] if t["criterion"] == criterion]
        lines.append(
            f"| {criterion} | {mean([t['acc'] for t in rows])} | "
            f"{np.mean([t['seconds'] for t in rows]):.0f} |"
        )
    lines += [
        "",
        "Students of the logit-adjustment teacher on 10 images per class (mean ± std over seeds):",
        "",
        "| set | labels | total acc | statistics loss (first, last) |",
        "|---|---|---:|---|",
    ]
    keys = dict.fromkeys((r["set"], r["labels"]) for r in record["rows"])
    for name, labels in keys:
        rows = [r for r in record["rows"] if r["set"] == name and r["labels"] == labels]
        losses = [r["statistics_loss"] for r in rows if "statistics_loss" in r]
        loss = (
            f"{np.mean([a for a, _ in losses]):.2f} → {np.mean([b for _, b in losses]):.2f}"
            if losses
            else "-"
        )
        lines.append(f"| {name} | {labels} | {mean([r['acc'] for r in rows])} | {loss} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
