"""The digits-LT teachers' epochs, chosen by cross-validation on the training data (issue 28).

For each teacher recipe of the ``digits_*`` profiles (logit adjustment with
mixup/CutMix, or with DSA), a ``GridSearchCV`` over ``max_epochs`` with
stratified folds of the long-tailed training set (never the test set), scored
by balanced accuracy. The profiles' teachers take the epochs chosen here.
Writes ``<out>/teacher_cv_digits.json`` and ``.md``.

Examples
--------
python benchmarks/teacher_cv.py --epochs 200 400 800 --folds 3
python benchmarks/teacher_cv.py --epochs 1 2 --folds 2 --out /tmp/cv   # seconds
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from sklearn.model_selection import GridSearchCV, StratifiedKFold

from ltdd_bench.paper_sets import TEACHER
from ltdd_bench.profiles import PROFILES, convnet
from ltdd_bench.sweeps import mean_std
from ltdd_bench.timed import arguments, environment_lines, finish, new_record, result_path, table
from sklearn_ltdd.datasets import load_digits_lt

#: The recipes: the ``digits_<name>_ipc*`` profiles' teachers.
RECIPES = ("la_mix", "la_dsa")


def search(name, X, y, args):
    """The fitted ``GridSearchCV`` of recipe ``name``'s teacher over ``args.epochs``."""
    profile = PROFILES[f"digits_{name}_ipc2"]
    params = {**TEACHER, **profile["teacher"].get("params", {})}
    net = convnet(profile, args.device, args.seed, **params)
    folds = StratifiedKFold(args.folds, shuffle=True, random_state=args.seed)
    grid = {"max_epochs": args.epochs}
    return GridSearchCV(net, grid, scoring="balanced_accuracy", cv=folds, refit=False).fit(X, y)


def chosen(runs, teacher):
    """The run of ``teacher`` with the highest mean score; of equal ones, the fewest epochs."""
    return max(
        (r for r in runs if r["teacher"] == teacher), key=lambda r: (r["mean"], -r["epochs"])
    )


def markdown(record):
    rows = []
    for run in record["runs"]:
        mark = " (chosen)" if run is chosen(record["runs"], run["teacher"]) else ""
        rows.append(
            [
                run["teacher"],
                f"{run['epochs']}{mark}",
                mean_std(run["folds"]),
                ", ".join(f"{s:.1f}" for s in run["folds"]),
                f"{run['fit_seconds']:.0f}",
            ]
        )
    header = ["teacher", "epochs", "balanced accuracy, %", "per fold", "fit s (mean)"]
    return "\n".join(
        [
            "# The digits-LT teachers' epochs, chosen by cross-validation (issue 28)",
            "",
            *environment_lines(record),
            f"- data: digits-LT (ratio 20), its {record['n_train']} training images only; "
            f"{record['folds']} stratified folds (seed {record['seed']}); the teacher's "
            "random_state the same seed",
            "",
            *table(header, rows, "llrlr"),
            "",
        ]
    )


def main(argv=None):
    parser = arguments(__doc__, device="auto")
    parser.add_argument("--epochs", type=int, nargs="+", default=[200, 400, 800])
    parser.add_argument("--folds", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--teachers", nargs="+", choices=RECIPES, default=list(RECIPES))
    args = parser.parse_args(argv)
    data = load_digits_lt(imbalance_ratio=20)
    X, y = data.X_train, data.y_train
    record = new_record("teacher_cv", args.device, n_train=len(y), folds=args.folds, seed=args.seed)
    path = result_path(args.out, "teacher_cv_digits")
    for name in args.teachers:
        cv = search(name, X, y, args).cv_results_
        for i, epochs in enumerate(cv["param_max_epochs"]):
            folds = [100 * float(cv[f"split{k}_test_score"][i]) for k in range(args.folds)]
            run = {
                "teacher": name,
                "epochs": int(epochs),
                "mean": float(np.mean(folds)),
                "folds": folds,
                "fit_seconds": float(cv["mean_fit_time"][i]),
            }
            record["runs"].append(run)
            print(run, flush=True)
    return finish(path, record, markdown)


if __name__ == "__main__":
    raise SystemExit(main())
