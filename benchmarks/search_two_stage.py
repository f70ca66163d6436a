"""Choose a two-stage configuration on validation folds of the training data.

Issue 7: the parts of the two-stage model (loss and augmentation of each
stage, original or distilled stage-2 data) are chosen by ``GridSearchCV``
with stratified folds of the *training* set and a balanced-accuracy scorer;
the test set is used once, to report the refitted winner beside the
practitioner baselines measured by ``reproduce_paper.py`` on the same
profile. Distillation, where a candidate uses it, runs inside each fold, so
no validation image reaches the synthetic set. The flat baselines that the
two-stage model has to beat (logit adjustment, with and without crop/flip)
are scored on the same folds, so the choice can be compared with them
before the test set is looked at.

Writes ``<out>/search_<profile>.json`` and ``.md`` (the full grid, seed 0),
``search_<profile>[_<grid>]_seed<N>.*`` otherwise.

Examples
--------
python benchmarks/search_two_stage.py --profile smoke
python benchmarks/search_two_stage.py --profile paper --source ../shared/data/cifar10
python benchmarks/search_two_stage.py --profile cpu --grid heads --seed 1 \
    --source ../shared/data/cifar10
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, StratifiedKFold, cross_val_score

from ltdd_bench.common import environment, load_data
from ltdd_bench.profiles import PROFILES, convnet
from ltdd_bench.timed import arguments, environment_lines, finish, result_path, table
from sklearn_ltdd import (
    ClassGrouper,
    GradientMatchingDistiller,
    TrajectoryMatchingDistiller,
    TwoStageClassifier,
)
from sklearn_ltdd.metrics import long_tail_report

#: The parameters of an estimator that the record shows (:func:`describe`).
SHOWN = ("criterion", "augmentation", "max_epochs", "n_iterations", "ipc", "class_weight", "C")


def candidates(p, device, seed, gm_iterations, grid="full"):
    """The grid: the parts of issues 7 and 14, each stage on its own.

    "quick": three candidates; "heads": the shared-backbone model's head
    regularisation only.
    """
    net = lambda epochs=None, **kwargs: convnet(p, device, seed, epochs, **kwargs)
    la_flip = {"criterion": "logit_adjusted", "augmentation": "crop_flip"}
    distiller = dict(ipc=p["ipc"], module__width=p["width"], device=device, random_state=seed)
    gm = GradientMatchingDistiller(
        n_iterations=gm_iterations, init="real", augmentation="dsa", **distiller
    )
    # Balanced softmax is logit adjustment with tau=1 up to a constant: not repeated.
    group_nets = [net(augmentation="crop_flip"), net(**la_flip)]
    original = {
        "group_estimator": group_nets,
        "stage2_data": ["original"],
        "class_estimator": [net(**la_flip), net(augmentation="crop_flip")],
        "routing": ["hard", "soft"],
    }
    distilled = {
        "group_estimator": group_nets[1:],
        "stage2_data": [gm],
        "class_estimator": [net(p["dsa_epochs"], augmentation="dsa")],
        "routing": ["hard", "soft"],
    }
    # Issue 14: heads on one network trained on all the data (LA + crop/flip),
    # stage 2 on the original data or a distilled set, through that network.
    # MTT inside every fold (experts and all) is for a GPU: the CPU profile's grid
    # leaves it out (its MTT rows come from reproduce_paper.py instead).
    mtt = TrajectoryMatchingDistiller(**distiller, **p["mtt"])
    head = LogisticRegression(max_iter=1000, class_weight="balanced")
    backbone = {
        "backbone": [net(**la_flip)],
        "group_estimator": [head],
        "class_estimator": [head],
        "stage2_data": ["original", gm] + ([] if p.get("cpu_budget") else [mtt]),
        "routing": ["hard", "soft"],
    }
    if grid == "heads":
        # The heads' regularisation on the frozen features: the backbone has fitted
        # the training images, so their features are cleaner than those of new
        # images and a weakly regularised head over-fits them. Same C in both stages.
        return [
            {
                **backbone,
                "stage2_data": ["original"],
                "routing": ["soft"],
                "group_estimator": [clone(head).set_params(C=c)],
                "class_estimator": [clone(head).set_params(C=c)],
            }
            for c in (1.0, 0.1, 0.01, 0.001, 0.0001)
        ]
    if grid == "quick":
        return [
            {
                **original,
                "group_estimator": group_nets[1:],
                "class_estimator": original["class_estimator"][:1],
                "routing": ["soft"],
            },
            {**distilled, "routing": ["hard"]},
            {**backbone, "stage2_data": ["original"], "routing": ["soft"]},
        ]
    return [original, distilled, backbone]


def flat_baselines(p, device, seed):
    """The single-network baselines of ``reproduce_paper.py`` that a two-stage model must beat."""
    return {
        "Logit adjustment (Menon 2021)": convnet(p, device, seed, criterion="logit_adjusted"),
        "Logit adjustment + crop/flip": convnet(
            p, device, seed, criterion="logit_adjusted", augmentation="crop_flip"
        ),
    }


def test_baselines(out, profile, seed):
    """The baselines that ``reproduce_paper.py`` measured on the test set for the same seed."""
    path = out / profile / f"seed{seed}.json"
    if not path.exists():
        return []
    rows = json.loads(path.read_text())["tables"].get("baselines", [])
    return [
        {
            "name": r["name"],
            "seed": seed,
            "total_acc": {"mean": r["total_acc"], "std": 0.0, "n": 1},
            "acc_std": {"mean": r["acc_std"], "std": 0.0, "n": 1},
        }
        for r in rows
    ]


def describe(params):
    """``params`` as text: an estimator as its class and those of its parameters in SHOWN."""

    def text(value):
        if not hasattr(value, "get_params"):
            return value
        shown = [f"{k}={v!r}" for k, v in value.get_params().items() if k in SHOWN]
        return f"{type(value).__name__}({', '.join(shown)})"

    return {key: text(value) for key, value in params.items()}


def main(argv=None):
    parser = arguments(__doc__, profiles=sorted(PROFILES), profile="smoke", device="auto")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--folds", type=int, default=3)
    parser.add_argument(
        "--gm-iterations",
        type=int,
        default=None,
        help="GM iterations inside each fold (default: the profile's)",
    )
    parser.add_argument(
        "--grid",
        choices=["full", "quick", "heads"],
        default="full",
        help="full: every part; quick: three candidates; heads: the "
        "shared-backbone model's head regularisation C",
    )
    args = parser.parse_args(argv)
    p, seed = PROFILES[args.profile], args.seed
    data = load_data(p, args.source)
    X, y = data.X_train, data.y_train
    env = environment(args)
    start = time.perf_counter()

    # Groups from a CE ConvNet trained on the training data (as in the tables).
    base = convnet(p, args.device, seed).fit(X, y)
    grouper = ClassGrouper(features="precomputed", random_state=seed).fit(base.embed(X), y)
    groups = [g.tolist() for g in grouper.groups_]
    gm_iterations = args.gm_iterations or p["gm"]["n_iterations"]
    folds = StratifiedKFold(args.folds, shuffle=True, random_state=seed)
    search = GridSearchCV(
        TwoStageClassifier(grouper=groups, random_state=seed),
        candidates(p, args.device, seed, gm_iterations, args.grid),
        scoring="balanced_accuracy",
        refit=True,
        cv=folds,
        error_score="raise",
    ).fit(X, y)
    cv_baselines = []
    for name, net in flat_baselines(p, args.device, seed).items():
        scores = cross_val_score(net, X, y, scoring="balanced_accuracy", cv=folds)
        cv_baselines.append(
            {"name": name, "mean": float(scores.mean()), "std": float(scores.std())}
        )
    best, cv = search.best_estimator_, search.cv_results_
    report = long_tail_report(
        data.y_test,
        best.predict(data.X_test),
        name="searched two-stage",
        n_train_images=best.n_train_images_,
        groups=best.groups_,
        target_names=data.target_names,
        train_counts=data.class_counts,
        verbose=True,
    )
    results = {
        "profile": args.profile,
        "seed": seed,
        **env,
        "folds": args.folds,
        "seconds": time.perf_counter() - start,
        "groups": groups,
        "best_params": describe(search.best_params_),
        "best_cv_balanced_accuracy": float(search.best_score_),
        "test": report,
        "cv_results": [
            {"params": describe(params), "mean": float(m), "std": float(s)}
            for params, m, s in zip(cv["params"], cv["mean_test_score"], cv["std_test_score"])
        ],
        "cv_baselines": cv_baselines,
    }
    results["validation_verdict"] = validation_verdict(results)
    results["baselines_on_test"] = test_baselines(Path(args.out), args.profile, seed)
    stem = (
        f"search_{args.profile}"
        + ("" if args.grid == "full" else f"_{args.grid}")
        + ("" if args.grid == "full" and seed == 0 else f"_seed{seed}")
    )
    finish(result_path(args.out, stem), results, markdown)
    print(
        f"best on validation folds: {results['best_params']} "
        f"(balanced accuracy {search.best_score_:.3f})"
    )
    return 0


def validation_verdict(results):
    """One sentence comparing the chosen configuration with the best flat baseline.

    A difference smaller than the larger of the two fold-to-fold standard
    deviations is reported as a tie, not as a win or a loss.
    """
    best = max(results["cv_baselines"], key=lambda r: r["mean"])
    chosen = max(results["cv_results"], key=lambda r: r["mean"])
    diff = 100 * (chosen["mean"] - best["mean"])
    noise = 100 * max(chosen["std"], best["std"])
    if abs(diff) < noise:
        verdict = "is within fold-to-fold noise of"
    else:
        verdict = "beats" if diff > 0 else "loses to"
    return (
        f"On the validation folds the chosen two-stage configuration {verdict} the best "
        f"flat baseline ({best['name']}, {100 * best['mean']:.1f} %): a difference of "
        f"{diff:+.1f} points against a fold standard deviation of up to {noise:.1f}."
    )


def markdown(results):
    test = results["test"]
    lines = [
        f"# Two-stage configuration chosen on validation folds: `{results['profile']}`",
        "",
        *environment_lines(
            results,
            f"; {results['folds']} stratified folds of the training set, balanced-accuracy "
            f"scorer; {results['seconds']:.0f} s",
        ),
        f"- groups: {results['groups']}",
        f"- chosen: `{results['best_params']}` (CV balanced accuracy "
        f"{100 * results['best_cv_balanced_accuracy']:.1f} %)",
        f"- on the test set: total {test['total_acc']:.1f} %, Acc Std {test['acc_std']:.1f}, "
        f"group {test.get('group_acc', float('nan')):.1f} %",
        "",
    ]
    score = lambda r: f"{100 * r['mean']:.1f} ± {100 * r['std']:.1f}"
    rows = [
        [f"`{r['params']}`", score(r)]
        for r in sorted(results["cv_results"], key=lambda r: -r["mean"])
    ]
    rows += [
        [f"baseline (one network): {r['name']}", score(r)] for r in results.get("cv_baselines", [])
    ]
    lines += table(["candidate", "CV balanced acc (%)"], rows)
    if results.get("cv_baselines"):
        lines += ["", results.get("validation_verdict") or validation_verdict(results)]
    on_test = results.get("baselines_on_test")
    if on_test:
        lines += [
            "",
            f"Baselines of the same profile and seed ({results['seed']}) on the test "
            "set (from reproduce_paper.py):",
            "",
        ]
        lines += table(
            ["baseline", "total acc", "Acc Std"],
            [
                [b["name"], f"{b['total_acc']['mean']:.1f}", f"{b['acc_std']['mean']:.1f}"]
                for b in on_test
            ],
        )
        top = max(on_test, key=lambda b: b["total_acc"]["mean"])
        lines += [
            "",
            f"On the test set the chosen configuration reaches {test['total_acc']:.1f} % "
            f"(Acc Std {test['acc_std']:.1f}); the best baseline by total accuracy, "
            f"{top['name']}, {top['total_acc']['mean']:.1f} % "
            f"(Acc Std {top['acc_std']['mean']:.1f}).",
        ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
