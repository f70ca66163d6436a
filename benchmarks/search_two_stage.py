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

import argparse
import json
import sys
import time
from pathlib import Path

from sklearn.model_selection import GridSearchCV, StratifiedKFold, cross_val_score

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from sklearn.base import clone  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402

from ltdd_bench.common import environment, load_data  # noqa: E402
from ltdd_bench.profiles import PROFILES, convnet  # noqa: E402
from sklearn_ltdd import (  # noqa: E402
    ClassGrouper,
    GradientMatchingDistiller,
    TrajectoryMatchingDistiller,
    TwoStageClassifier,
)
from sklearn_ltdd.metrics import long_tail_report  # noqa: E402


def candidates(p, device, seed, gm_iterations, grid="full"):
    """The grid: the parts of issues 7 and 14, each stage on its own.

    "quick": three candidates; "heads": the shared-backbone model's head
    regularisation only.
    """

    def net(epochs=None, **kwargs):
        return convnet(p, device, seed, epochs, **kwargs)

    la_flip = {"criterion": "logit_adjusted", "augmentation": "crop_flip"}
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
        "stage2_data": [
            GradientMatchingDistiller(
                ipc=p["ipc"],
                n_iterations=gm_iterations,
                init="real",
                augmentation="dsa",
                module__width=p["width"],
                device=device,
                random_state=seed,
            )
        ],
        "class_estimator": [net(p["dsa_epochs"], augmentation="dsa")],
        "routing": ["hard", "soft"],
    }
    # Issue 14: heads on one network trained on all the data (LA + crop/flip),
    # stage 2 on the original data or a distilled set, through that network.
    head = LogisticRegression(max_iter=1000, class_weight="balanced")
    gm = distilled["stage2_data"][0]
    mtt = TrajectoryMatchingDistiller(
        ipc=p["ipc"],
        module__width=p["width"],
        device=device,
        random_state=seed,
        **p["mtt"],
    )
    # MTT inside every fold (experts and all) is for a GPU: the CPU profile's grid
    # leaves it out (its MTT rows come from reproduce_paper.py instead).
    stage2 = ["original", gm] + ([] if p.get("cpu_budget") else [mtt])
    backbone = {
        "backbone": [net(**la_flip)],
        "group_estimator": [head],
        "class_estimator": [head],
        "stage2_data": stage2,
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
    out = {}
    for key, value in params.items():
        if hasattr(value, "get_params"):
            shown = {
                k: v
                for k, v in value.get_params().items()
                if k
                in (
                    "criterion",
                    "augmentation",
                    "max_epochs",
                    "n_iterations",
                    "ipc",
                    "class_weight",
                    "C",
                )
            }
            out[key] = (
                f"{type(value).__name__}({', '.join(f'{k}={v!r}' for k, v in shown.items())})"
            )
        else:
            out[key] = value
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--profile", choices=sorted(PROFILES), default="smoke")
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
    parser.add_argument("--source", default=None)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--out", default=str(HERE / "results"))
    args = parser.parse_args(argv)
    p = PROFILES[args.profile]
    data = load_data(p, args.source)
    X, y = data.X_train, data.y_train
    env = environment(args)
    start = time.perf_counter()

    # Groups from a CE ConvNet trained on the training data (as in the tables).
    base = convnet(p, args.device, args.seed).fit(X, y)
    groups = [
        g.tolist()
        for g in ClassGrouper(features="precomputed", random_state=args.seed)
        .fit(base.embed(X), y)
        .groups_
    ]
    model = TwoStageClassifier(grouper=groups, random_state=args.seed)
    gm_iterations = args.gm_iterations or p["gm"]["n_iterations"]
    folds = StratifiedKFold(args.folds, shuffle=True, random_state=args.seed)
    search = GridSearchCV(
        model,
        candidates(p, args.device, args.seed, gm_iterations, args.grid),
        scoring="balanced_accuracy",
        refit=True,
        cv=folds,
        error_score="raise",
    )
    search.fit(X, y)
    cv_baselines = []
    for name, net in flat_baselines(p, args.device, args.seed).items():
        scores = cross_val_score(net, X, y, scoring="balanced_accuracy", cv=folds)
        cv_baselines.append(
            {"name": name, "mean": float(scores.mean()), "std": float(scores.std())}
        )
    best = search.best_estimator_
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
        "seed": args.seed,
        **env,
        "folds": args.folds,
        "seconds": time.perf_counter() - start,
        "groups": groups,
        "best_params": describe(search.best_params_),
        "best_cv_balanced_accuracy": float(search.best_score_),
        "test": report,
        "cv_results": [
            {"params": describe(params), "mean": float(m), "std": float(s)}
            for params, m, s in zip(
                search.cv_results_["params"],
                search.cv_results_["mean_test_score"],
                search.cv_results_["std_test_score"],
            )
        ],
        "cv_baselines": cv_baselines,
    }
    results["validation_verdict"] = validation_verdict(results)
    results["baselines_on_test"] = test_baselines(Path(args.out), args.profile, args.seed)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    stem = (
        f"search_{args.profile}"
        + ("" if args.grid == "full" else f"_{args.grid}")
        + ("" if args.grid == "full" and args.seed == 0 else f"_seed{args.seed}")
    )
    (out / f"{stem}.json").write_text(json.dumps(results, indent=1, default=str))
    (out / f"{stem}.md").write_text(markdown(results))
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
        f"- device: {results['device']}; torch {results['torch']}; commit {results['commit']}",
        f"- command: `{results['command']}`; {results['folds']} stratified folds of the "
        f"training set, balanced-accuracy scorer; {results['seconds']:.0f} s",
        f"- groups: {results['groups']}",
        f"- chosen: `{results['best_params']}` (CV balanced accuracy "
        f"{100 * results['best_cv_balanced_accuracy']:.1f} %)",
        f"- on the test set: total {test['total_acc']:.1f} %, Acc Std {test['acc_std']:.1f}, "
        f"group {test.get('group_acc', float('nan')):.1f} %",
        "",
        "| candidate | CV balanced acc (%) |",
        "|---|---:|",
    ]
    for row in sorted(results["cv_results"], key=lambda r: -r["mean"]):
        lines.append(f"| `{row['params']}` | {100 * row['mean']:.1f} ± {100 * row['std']:.1f} |")
    for row in results.get("cv_baselines", []):
        lines.append(
            f"| baseline (one network): {row['name']} | "
            f"{100 * row['mean']:.1f} ± {100 * row['std']:.1f} |"
        )
    if results.get("cv_baselines"):
        lines += ["", results.get("validation_verdict") or validation_verdict(results)]
    if results.get("baselines_on_test"):
        lines += [
            "",
            f"Baselines of the same profile and seed ({results['seed']}) on the test "
            "set (from reproduce_paper.py):",
            "",
            "| baseline | total acc | Acc Std |",
            "|---|---:|---:|",
        ]
        for b in results["baselines_on_test"]:
            lines.append(
                f"| {b['name']} | {b['total_acc']['mean']:.1f} | {b['acc_std']['mean']:.1f} |"
            )
        top = max(results["baselines_on_test"], key=lambda b: b["total_acc"]["mean"])
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
