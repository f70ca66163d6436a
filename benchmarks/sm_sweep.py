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

import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from sklearn.frozen import FrozenEstimator
from sklearn.metrics import balanced_accuracy_score

from ltdd_bench.common import load_data, write_json
from ltdd_bench.profiles import PROFILES, convnet
from ltdd_bench.student_grids import BEFORE
from ltdd_bench.sweeps import grouped, mean_std, random_real_images
from ltdd_bench.timed import (
    arguments,
    clocked,
    environment_lines,
    finish,
    new_record,
    result_path,
    table,
)
from sklearn_ltdd import StatisticsMatchingDistiller
from sklearn_ltdd.nets import make_student

#: (name, StatisticsMatchingDistiller parameters); None: random real images (the control,
#: whose students are also fitted on hard labels).
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


def make_set(params, X, y, p, teacher, device, seed):
    """A variant's ``(X, y)`` and the distiller's figures (none for random real images)."""
    if params is None:
        return random_real_images(X, y, p["ipc"], seed), {}
    sm = StatisticsMatchingDistiller(
        ipc=p["ipc"],
        observer=teacher,
        teacher="observer",
        module__width=p["width"],
        device=device,
        random_state=seed,
        **{**BEFORE, **params},  # the defaults it was run with, whatever today's
    ).fit(X, y)
    losses = [float(sm.loss_history_[0]), float(sm.loss_history_[-1])]
    return (sm.X_syn_, sm.y_syn_), {"statistics_loss": losses, "timings": sm.timings_}


def main(argv=None):
    parser = arguments(__doc__, profiles=sorted(PROFILES), profile="smoke", device="auto")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    args = parser.parse_args(argv)
    p = PROFILES[args.profile]
    data = load_data(p, args.source)
    X, y, epochs = data.X_train, data.y_train, p["teacher"]["epochs"]
    score = lambda model: 100 * balanced_accuracy_score(data.y_test, model.predict(data.X_test))
    record = new_record(
        "sm_sweep",
        args.device,
        profile=args.profile,
        seeds=args.seeds,
        teacher_epochs=epochs,
        student_epochs=p["student_epochs"],
        teachers=[],
        rows=[],
    )
    del record["runs"]  # the record's own lists: teachers and rows
    path = result_path(args.out, f"sm_sweep_{args.profile}")
    for seed in args.seeds:
        teachers = {}
        for criterion in ("logit_adjusted", "cumulative_reweighted"):
            net = convnet(p, args.device, seed, epochs, criterion=criterion, **TEACHER)
            teachers[criterion], seconds = clocked(net.fit, X, y)
            acc = score(teachers[criterion])
            record["teachers"].append(
                {"seed": seed, "criterion": criterion, "acc": acc, "seconds": seconds}
            )
            print(record["teachers"][-1], flush=True)
        teacher = FrozenEstimator(teachers["logit_adjusted"])
        for name, params in VARIANTS:
            (images, extra), made = clocked(make_set, params, X, y, p, teacher, args.device, seed)
            for soft in (True, False) if params is None else (True,):
                student = make_student(
                    teacher if soft else None,
                    recipe="kd",  # the recipe it was run with (the default then)
                    module__width=p["width"],
                    max_epochs=p["student_epochs"],
                    device=args.device,
                    random_state=seed,
                )
                student, seconds = clocked(student.fit, *images)
                row = {"seed": seed, "set": name, "labels": "soft" if soft else "hard"}
                row.update(acc=score(student), set_seconds=made, student_seconds=seconds, **extra)
                record["rows"].append(row)
                print(row, flush=True)
                write_json(path, record)
    return finish(path, record, markdown)


def markdown(record):
    lines = [
        f"# Statistics matching, part by part: profile `{record['profile']}`",
        "",
        *environment_lines(record),
        f"- seeds {record['seeds']}; teachers {record['teacher_epochs']} epochs; students "
        f"`make_student`, {record['student_epochs']} epochs",
        "",
        "Teachers (balanced test accuracy, %):",
        "",
    ]
    rows = [
        [c, mean_std([t["acc"] for t in ts]), f"{np.mean([t['seconds'] for t in ts]):.0f}"]
        for c, ts in grouped(record["teachers"], "criterion").items()
    ]
    lines += table(["loss (BN ConvNet3, mixup/CutMix)", "total acc", "seconds"], rows)
    lines += [
        "",
        "Students of the logit-adjustment teacher on 10 images per class (mean ± std over seeds):",
        "",
    ]
    rows = []
    for (name, labels), runs in grouped(record["rows"], "set", "labels").items():
        losses = [r["statistics_loss"] for r in runs if "statistics_loss" in r]
        loss = "{:.2f} → {:.2f}".format(*map(np.mean, zip(*losses))) if losses else "-"
        rows.append([name, labels, mean_std([r["acc"] for r in runs]), loss])
    lines += table(["set", "labels", "total acc", "statistics loss (first, last)"], rows, "llrl")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
