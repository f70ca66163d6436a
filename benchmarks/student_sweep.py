"""Soft-label students and statistics matching, chosen on validation data (issue 28).

Every figure here is a **validation** score: the test sets are not used. On

* ``cpu``: the CPU profile's CIFAR10-LT (2,478 images, ConvNet3 width 32), scored
  on a balanced validation set of 500 images per class drawn from the CIFAR-10
  training images the long tail leaves out (``load_cifar10_lt(n_val_per_class=500)``);
  ``cpu_r100`` the same with a head class of 4,500 images (the standard
  CIFAR10-LT's shape at ratio 100, leaving 500 images per class out);
* ``digits``: digits-LT at imbalance ratio 20 (width 32), scored on a stratified
  quarter of its training set held out (the teachers and sets use the rest);
* ``digits_cv``: the same by 4-fold cross-validation: seed k is fold k (the teachers,
  those of the ``digits_*`` profiles, and the sets fitted on the other folds),

each grid point is a student (``make_student``) of a teacher trained on the training
part, fitted on a set (statistics matching's, random real images) with its soft labels.
``--grid recipes`` compares student recipes, ``--grid sm`` statistics matching's parts,
``--grid sm_cv`` its defaults beside a few settings, the one with the highest mean gain
over random real images marked chosen (``cv_choice``; the digits profiles' ``sm_cv``),
``--grid arch`` students of other networks (AlexNet) under a few recipes (issue 29).
Grids: ``ltdd_bench/student_grids.py``; data settings and teachers:
``ltdd_bench/student_groups.py``. The record (``results/student_sweep_<grid>.json``)
keeps every cell and is continued when run again; ``.md`` is rendered from it.

Examples
--------
python benchmarks/student_sweep.py --grid recipes --groups digits --seeds 0 1
python benchmarks/student_sweep.py --grid sm_cv --groups digits_cv --seeds 0 1 2 3
python benchmarks/student_sweep.py --grid sm_pool --groups cpu --seeds 0 1 \
    --source ../shared/data/cifar10
python benchmarks/student_sweep.py --grid arch --groups cpu_r100 --seeds 0 1 \
    --source ../shared/data/cifar10
python benchmarks/student_sweep.py --grid recipes --groups smoke   # seconds
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import joblib
import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from sklearn.frozen import FrozenEstimator
from sklearn.metrics import balanced_accuracy_score
from sklearn.model_selection import StratifiedKFold, train_test_split

from ltdd_bench.common import changed_params, command, device_name, git_commit, versions
from ltdd_bench.student_grids import BEFORE, GRID_ISSUES, GRIDS, RECORDS
from ltdd_bench.student_groups import GROUPS, TEACHER_VARIANTS, TEACHERS
from ltdd_bench.sweeps import Cell, SweepRecord, pivot_markdown, random_real_images
from sklearn_ltdd import ConvNetClassifier, CoresetSampler, StatisticsMatchingDistiller
from sklearn_ltdd.metrics import per_class_accuracy, shot_accuracy
from sklearn_ltdd.nets import LogitAverage, make_student


def load_group(name, source, seed=0):
    """(X_train, y_train, X_val, y_val) of a data setting (of a cross-validated one, the
    training and validation parts of fold ``seed``)."""
    from sklearn_ltdd.datasets import load_cifar10_lt, load_digits_lt

    g = GROUPS[name]
    if g["data"] == "cifar":
        head = g.get("max_per_class", 1000)
        data = load_cifar10_lt(source, max_per_class=head, n_val_per_class=500)
        return data.X_train, data.y_train, data.X_val, data.y_val
    data = load_digits_lt(imbalance_ratio=20)
    if "folds" in g:
        if not 0 <= seed < g["folds"]:
            raise ValueError(
                f"--seeds of group {name!r} are its folds: 0 to {g['folds'] - 1}, not {seed}"
            )
        folds = StratifiedKFold(g["folds"], shuffle=True, random_state=0)
        train, val = list(folds.split(data.X_train, data.y_train))[seed]
        return data.X_train[train], data.y_train[train], data.X_train[val], data.y_train[val]
    X, X_val, y, y_val = train_test_split(
        data.X_train, data.y_train, test_size=0.25, stratify=data.y_train, random_state=0
    )
    return X, y, X_val, y_val


def scores(model, X_val, y_val, counts):
    pred = model.predict(X_val)
    shots = shot_accuracy(y_val, pred, counts)
    per_class = per_class_accuracy(y_val, pred)
    tail = np.argsort(counts)[:4]  # the four smallest classes
    return {
        "acc": 100 * balanced_accuracy_score(y_val, pred),
        "few_shot": 100 * shots["few"] if np.isfinite(shots["few"]) else None,
        "tail4": 100 * float(np.mean(np.asarray(per_class)[tail])),
        "per_class": [round(100 * float(a), 2) for a in per_class],
    }


def teacher(group, recipe, seed, X, y, cache, device):
    """The group's teacher for ``seed``, trained once and kept in ``cache``
    (``(network, seconds)``; seconds None when it came from the cache)."""
    path = cache / f"teacher_{recipe}_seed{seed}.joblib"
    g = GROUPS[group]
    epochs = g["teacher_epochs"]  # one number, or one per recipe
    if recipe in TEACHER_VARIANTS:
        base, epochs = TEACHER_VARIANTS[recipe]
    else:
        base, epochs = recipe, epochs[recipe] if isinstance(epochs, dict) else epochs
    net = ConvNetClassifier(
        module__width=g["width"],
        max_epochs=epochs,
        device=device,
        random_state=seed,
        **TEACHERS[base],
    )
    if path.exists():
        cached = joblib.load(path)
        changed = changed_params(cached, net)
        if not changed:
            return cached, None
        print(f"cached {path.name} had {changed}; fitting it again", flush=True)
    start = time.perf_counter()
    net.fit(X, y)
    seconds = time.perf_counter() - start
    joblib.dump(net, path)
    return net, seconds


def make_set(kind, group, ipc, seed, labeller, observer, X, y, device, sm_params):
    if kind == "random4":
        return CoresetSampler(
            ipc=ipc, strategy="random", combine=4, random_state=seed
        ).fit_resample(X, y)
    if kind == "random":
        return random_real_images(X, y, ipc, seed)  # a class with fewer keeps them all
    g = GROUPS[group]
    params = {"n_iterations": g.get("sm_iterations", 100), **BEFORE, **sm_params}
    two = labeller is not observer
    sm = StatisticsMatchingDistiller(
        ipc=ipc,
        observer=FrozenEstimator(observer),
        teacher=FrozenEstimator(labeller.estimators_[1]) if two else "observer",
        labeller="ensemble" if two else "teacher",
        module__width=g["width"],
        device=device,
        random_state=seed,
        **params,
    )
    return sm.fit_resample(X, y)


def run(args):
    record = SweepRecord.open(
        Path(args.out) / f"student_sweep_{RECORDS.get(args.grid, args.grid)}.json",
        {
            "kind": "student_sweep",
            "grid": RECORDS.get(args.grid, args.grid),
            "device": device_name(args.device),
            **versions(),
            "commit": git_commit(),
            "command": command(),
        },
    )
    points = GRIDS[args.grid]
    if args.points:
        points = [p for p in points if any(key in p.name for key in args.points)]
    if args.exact:
        points = [p for p in points if p.name in args.exact]
    for group in args.groups:
        g = GROUPS[group]
        cache = Path(args.artifacts) / "student_sweep" / group
        cache.mkdir(parents=True, exist_ok=True)
        loaded = {}  # the data, loaded once (per fold where the seeds are folds)
        for seed in args.seeds:
            part = seed if "folds" in g else None
            if part not in loaded:
                loaded[part] = load_group(group, args.source, seed)
            X, y, X_val, y_val = loaded[part]
            counts = np.bincount(y)
            key = f"{group}: data" + (f" (fold {seed} of {g['folds']})" if "folds" in g else "")
            record.note(
                key, {"train_counts": counts.tolist(), "val_counts": np.bincount(y_val).tolist()}
            )
            for recipe in g["teachers"]:
                nets = {}

                def network(k, name=recipe, seed=seed):
                    """Teacher ``k`` of recipe ``name`` (0: the teacher; 1: a second one,
                    seed + 100)."""
                    if (k, name) not in nets:
                        net, seconds = teacher(
                            group, name, seed + 100 * k, X, y, cache, args.device
                        )
                        key = f"{group}: teacher {name} seed {seed + 100 * k}"
                        if key not in record.notes:
                            record.note(
                                key, {**scores(net, X_val, y_val, counts), "seconds": seconds}
                            )
                        elif seconds is not None:  # refitted: new cells pair with old ones
                            check_refit(key, record.notes[key], net, X_val, y_val, counts)
                        print(key, round(record.notes[key]["acc"], 1), flush=True)
                        nets[k, name] = net
                    return nets[k, name]

                for ipc in g["ipcs"]:
                    label = f"{group}, teacher {recipe}, ipc {ipc}"
                    sets = {}
                    for point in points:
                        cell = Cell(label, point.name, point.column, seed)
                        if record.has(cell):
                            continue
                        name = point.teacher or recipe
                        labeller = network(0, name)
                        if point.ensemble:
                            labeller = LogitAverage.of_fitted([network(0, name), network(1, name)])
                            key = f"{group}: teachers {name} seeds {seed}+{seed + 100}"
                            if key not in record.notes:
                                record.note(key, scores(labeller, X_val, y_val, counts))
                        set_key = (point.kind, point.sm, point.ensemble, name)
                        if set_key not in sets:
                            start = time.perf_counter()
                            sets[set_key] = make_set(
                                point.kind,
                                group,
                                ipc,
                                seed,
                                labeller,
                                network(0, name),
                                X,
                                y,
                                args.device,
                                dict(point.sm),
                            )
                            record.note(
                                f"{label}: set {point.kind} {dict(point.sm)} "
                                f"{'two teachers ' if point.ensemble else ''}{name} "
                                f"seed {seed} seconds",
                                time.perf_counter() - start,
                            )
                        start = time.perf_counter()
                        params = dict(point.student)
                        if "module" not in params:  # another network has its own size
                            params["module__width"] = g["width"]
                        student = make_student(
                            FrozenEstimator(labeller),
                            max_epochs=g["student_epochs"],
                            device=args.device,
                            random_state=seed,
                            **params,
                        ).fit(*sets[set_key])
                        figures = {
                            **scores(student, X_val, y_val, counts),
                            "seconds": time.perf_counter() - start,
                            "teacher_shift": getattr(student, "teacher_shift_", None),
                        }
                        record.add(cell, figures)
                        print(
                            f"  {label} | {point.name} | {point.column} | seed {seed}: "
                            f"{figures['acc']:.1f} (tail {figures['tail4']:.1f}, "
                            f"{figures['seconds']:.0f} s)",
                            flush=True,
                        )
    write_markdown(record, GRIDS[RECORDS.get(args.grid, args.grid)])


def check_refit(key, noted, net, X_val, y_val, counts):
    """Warn where a teacher fitted again scores other than the record's: the cells
    measured before it would then not pair with the new ones."""
    acc = scores(net, X_val, y_val, counts)["acc"]
    if abs(acc - noted["acc"]) > 1e-6:
        warnings.warn(
            f"{key} fitted again scores {acc:.2f} % against {noted['acc']:.2f} % in the "
            "record: its new cells do not pair with the old ones (start a new record)",
            stacklevel=2,
        )


def write_markdown(record, points):
    path = record.path.with_suffix(".md")
    path.write_text(render_markdown(record, points))
    print(f"wrote {path}")


def controls(points) -> dict:
    """Each point's control: random real images under the same teacher(s) (a random point's
    own: the grid's first point, the base control)."""
    out = {}
    for point in points:
        same = [
            p.name
            for p in points
            if p.kind == "random"
            and p.ensemble == point.ensemble
            and p.teacher == point.teacher
            and dict(p.student) == dict(point.student)
        ]
        if point.control:
            out[point.name] = point.control
        else:
            out[point.name] = same[0] if point.kind != "random" and same else points[0].name
    return out


def render_markdown(record, points) -> str:
    """The record as Markdown (a function of the record alone: the committed .md is this)."""
    meta = record.meta
    lines = [
        f"# Students on validation data: grid `{meta['grid']}` "
        f"(issue {GRID_ISSUES.get(meta['grid'], 28)})",
        "",
        f"- device: {meta['device']}; torch {meta['torch']}; commit(s) "
        f"{sorted({e['commit'] for e in record.cells.values()})}",
        *[
            f"- command: `{h['command']}` (commit {h['commit']})"
            for h in dict((h["command"], h) for h in record.meta["history"]).values()
        ],
        "- balanced **validation** accuracy (%), mean ± std over seeds; few-shot: classes "
        "with fewer than 20 training images; tail: the four smallest classes; '- control': "
        "the difference from the control named (random real images under the same teacher "
        "and student), paired by seed; the test sets are not used",
        "",
    ]
    folds = {k.split(":")[0]: k.split(" of ")[-1].rstrip(")") for k in record.notes if "(fold" in k}
    for group, n in folds.items():
        lines.append(
            f"- {group}: cross-validation; seed k is fold k of {n} stratified folds of the "
            "training set (teachers and sets fitted on the other folds, scored on fold k), "
            "so mean ± std is over the folds"
        )
    for key, value in record.notes.items():
        if "teacher" in key and isinstance(value, dict) and "acc" in value:
            lines.append(f"- {key}: {value['acc']:.1f} % (tail {value['tail4']:.1f})")
    columns = list(dict.fromkeys(p.column for p in points))
    names = list(dict.fromkeys(p.name for p in points))
    for group in dict.fromkeys(e["group"] for e in record.cells.values()):
        lines += ["", f"## {group}", ""]
        lines += pivot_markdown(
            record.entries(group),
            columns,
            [("acc", "acc"), ("few_shot", "few-shot"), ("tail4", "tail")],
            control="random" if "random" in columns else None,
            points=names,
            control_point=None if "random" in columns else controls(points),
        )
        lines += _per_class_against_named_controls(record.entries(group), points)
        if meta["grid"] == "sm_cv":
            choice = cv_choice(record.entries(group))
            lines += ["", f"Chosen (the highest mean difference from the control): **{choice}**"]
    return "\n".join(lines) + "\n"


def cv_choice(entries, control="random real images (control)"):
    """The statistics matching point of ``entries`` (one data setting's cells) with the
    highest mean difference from ``control`` over the seeds both have (the folds of a
    cross-validated group); of equal ones, the first in the grid's order."""
    by_point = {}
    for e in entries:
        by_point.setdefault(e["point"], {})[e["seed"]] = e["acc"]
    base = by_point[control]
    gains = {
        point: np.mean([acc[s] - base[s] for s in acc if s in base])
        for point, acc in by_point.items()
        if point != control
    }
    order = [p.name for p in GRIDS["sm_cv"]]
    return max(gains, key=lambda p: (round(float(gains[p]), 6), -order.index(p)))


def _per_class_against_named_controls(entries, points) -> list:
    """Per class, each point with a named control minus that control (means over the seeds
    both have), and the few-shot difference: where a point is a clean comparison (the same
    images with and without one step), which classes gain and which pay."""
    named = [p for p in points if p.control]
    cells = {}
    for e in entries:
        cells.setdefault(e["point"], {})[e["seed"]] = e
    rows = []
    for point in named:
        mine, theirs = cells.get(point.name, {}), cells.get(point.control, {})
        seeds = sorted(set(mine) & set(theirs))
        if not seeds:
            continue
        diff = np.mean(
            [np.subtract(mine[s]["per_class"], theirs[s]["per_class"]) for s in seeds], 0
        )
        few = [
            mine[s]["few_shot"] - theirs[s]["few_shot"]
            for s in seeds
            if mine[s]["few_shot"] is not None
        ]
        few = f"{np.mean(few):+.1f}" if few else "-"  # "-": no class under 20 images
        values = " | ".join(f"{d:+.1f}" for d in diff)
        rows.append(f"| {point.name} | {point.control} | {seeds} | {few} | {values} |")
    if not rows:
        return []
    n = len(next(iter(entries))["per_class"])
    return [
        "",
        "Per class (class index), the point minus its named control, mean over the seeds "
        "both have (balanced validation accuracy, points):",
        "",
        "| point | control | seeds | few-shot | " + " | ".join(str(c) for c in range(n)) + " |",
        "|---|---|---|---:|" + "---:|" * n,
        *rows,
    ]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--grid", choices=sorted(GRIDS), default="recipes")
    parser.add_argument("--groups", nargs="+", choices=sorted(GROUPS), default=["smoke"])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument(
        "--points",
        nargs="+",
        default=None,
        help="only the grid points whose name contains one of these strings",
    )
    parser.add_argument(
        "--exact", nargs="+", default=None, help="only the grid points of exactly these names"
    )
    parser.add_argument("--source", default=None)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--out", default=str(HERE / "results"))
    parser.add_argument("--artifacts", default=str(HERE / "artifacts"))
    run(parser.parse_args(argv))
    return 0


if __name__ == "__main__":
    sys.exit(main())
