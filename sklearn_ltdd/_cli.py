"""Command line: ``sklearn-ltdd demo|distill|evaluate`` (also ``python -m sklearn_ltdd``)."""

from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np


def _demo(args) -> int:
    from .datasets import load_digits_lt
    from .distillation import GradientMatchingDistiller
    from .grouping import ClassGrouper
    from .metrics import format_long_tail_table, long_tail_report
    from .nets import ConvNetClassifier
    from .sampling import PrecomputedSampler
    from .two_stage import TwoStageClassifier

    data = load_digits_lt(random_state=args.random_state)
    print(data.DESCR)
    print(
        f"training images per class: {data.class_counts.tolist()} "
        f"({len(data.y_train)} in all); balanced test set: {len(data.y_test)}"
    )

    fast = {"precision": args.precision, "compile": COMPILE[args.compile]}

    def convnet(epochs):
        return ConvNetClassifier(
            module__width=args.width, max_epochs=epochs, device=args.device, **fast
        )

    reports, timings = [], {}

    def record(name, model, n_images, seconds):
        timings[name] = seconds
        groups = getattr(model, "groups_", None)
        report = long_tail_report(
            data.y_test,
            model.predict(data.X_test),
            name=name,
            n_train_images=n_images,
            groups=groups,
            target_names=data.target_names,
            verbose=False,
        )
        if groups is not None:
            report["groups"] = [g.tolist() for g in groups]
        reports.append(report)
        print(f"{name}: {seconds:.1f} s", flush=True)

    start = time.perf_counter()
    original = convnet(args.epochs).set_params(random_state=args.random_state)
    record(
        "Original",
        original.fit(data.X_train, data.y_train),
        len(data.y_train),
        time.perf_counter() - start,
    )

    start = time.perf_counter()
    distiller = GradientMatchingDistiller(
        ipc=args.ipc,
        n_iterations=args.iterations,
        init="real",
        module__width=args.width,
        device=args.device,
        random_state=args.random_state,
        **fast,
    )
    X_syn, y_syn = distiller.fit_resample(data.X_train, data.y_train)
    distill_seconds = time.perf_counter() - start
    distilled = convnet(args.distilled_epochs).set_params(random_state=args.random_state)
    record("GM Distilled", distilled.fit(X_syn, y_syn), len(y_syn), time.perf_counter() - start)

    start = time.perf_counter()
    two_stage = TwoStageClassifier(
        grouper=ClassGrouper(estimator=convnet(args.epochs)),
        group_estimator=convnet(args.epochs),
        class_estimator=convnet(args.distilled_epochs),
        stage2_data=PrecomputedSampler(X_syn, y_syn),  # the set distilled above
        random_state=args.random_state,
    ).fit(data.X_train, data.y_train)
    record(
        "Original + GM Distilled",
        two_stage,
        two_stage.n_train_images_,
        time.perf_counter() - start + distill_seconds,
    )
    print()
    print(format_long_tail_table(reports))
    print(f"\ngroups found by ClassGrouper: {reports[-1]['groups']}")
    if args.plot:
        _plot(data, two_stage, "Original + GM Distilled", args.plot)
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(
                {"reports": reports, "seconds": timings, "settings": vars(args)},
                fh,
                indent=2,
                default=str,
            )
    return 0


# -- data ------------------------------------------------------------------------------------
def _load(args):
    """The ``SOURCE`` of a command: "digits" (embedded) or anything load_image_dataset reads."""
    if args.source == "digits":
        from .datasets import load_digits_lt

        kwargs = {} if args.imbalance_ratio is None else {"imbalance_ratio": args.imbalance_ratio}
        return load_digits_lt(random_state=args.random_state, **kwargs)
    from .datasets import load_image_dataset

    return load_image_dataset(
        source=args.source,
        image_size=args.image_size,
        imbalance_ratio=args.imbalance_ratio,
        max_per_class=args.max_per_class,
        random_state=args.random_state,
    )


def _add_data_options(parser):
    parser.add_argument(
        "source",
        help='"digits" (the embedded digits-LT), a Hugging Face '
        "dataset id, a folder of Parquet files or an image folder "
        "(root/<class>/<image>)",
    )
    parser.add_argument(
        "--image-size",
        type=int,
        default=None,
        help="resize images to this square size (needed for mixed sizes)",
    )
    parser.add_argument(
        "--imbalance-ratio",
        type=float,
        default=None,
        help="make the training set long-tailed with this head/tail ratio",
    )
    parser.add_argument(
        "--max-per-class", type=int, default=None, help="head-class size of the long-tailed profile"
    )
    parser.add_argument("--width", type=int, default=128, help="ConvNet width (paper: 128)")
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda")
    parser.add_argument("--random-state", type=int, default=0)


def _EpochBar(desc):
    """One progress bar per fit, over its epochs."""
    from .utils._progress import EpochProgress

    return EpochProgress(desc)


# -- distill -----------------------------------------------------------------------------------
METHODS = ("gm", "dsa", "mtt", "dm", "idm", "sm", "coreset")
COMPILE = {"auto": "auto", "on": True, "off": False}
DEBIAS = {"cumulative": "cumulative", "logit_adjusted": "logit_adjusted", "none": None}


def _distiller(args):
    from .distillation import (
        DistributionMatchingDistiller,
        GradientMatchingDistiller,
        StatisticsMatchingDistiller,
        TrajectoryMatchingDistiller,
    )

    common = {
        "ipc": args.ipc,
        "module_params": {"width": args.width},
        "device": args.device,
        "random_state": args.random_state,
        "verbose": 0 if args.quiet else 1,
        "precision": args.precision,
        "compile": COMPILE[args.compile],
    }
    if args.iterations is not None:
        common["n_iterations"] = args.iterations
    if args.method in ("gm", "dsa"):
        return GradientMatchingDistiller(
            augmentation="dsa" if args.method == "dsa" else None, **common
        )
    if args.method == "mtt":
        span = {} if args.expert_epochs is None else {"expert_epochs": args.expert_epochs}
        return TrajectoryMatchingDistiller(**span, **common)
    if args.method == "sm":
        return StatisticsMatchingDistiller(
            debias=DEBIAS[args.debias], teacher_epochs=args.teacher_epochs, **common
        )
    if args.method == "coreset":
        from .selection import CoresetSampler

        common.pop("n_iterations", None)
        return CoresetSampler(strategy=args.strategy, combine=args.combine, **common)
    return DistributionMatchingDistiller(method=args.method, **common)


def _teacher(args, data):
    """The teacher of ``evaluate --teacher``: statistics matching's default network, trained
    on the training set (batch-norm ConvNet3, the ``--debias`` loss, mixup/CutMix)."""
    from sklearn.frozen import FrozenEstimator

    from .distillation import StatisticsMatchingDistiller

    recipe = StatisticsMatchingDistiller(
        debias=DEBIAS[args.debias],
        teacher_epochs=args.teacher_epochs,
        module__width=args.width,
        device=args.device,
        precision=args.precision,
        compile=COMPILE[args.compile],
    )
    teacher = recipe.default_network(seed=args.random_state)
    if not args.quiet:
        teacher.set_params(callbacks=[("progress", _EpochBar("teacher"))])
    return FrozenEstimator(teacher.fit(data.X_train, data.y_train))


def _distill(args) -> int:
    from .distillation import save_distilled_set

    data = _load(args)
    print(
        f"{len(data.y_train)} training images, per class {data.class_counts.tolist()}", flush=True
    )
    distiller = _distiller(args)
    start = time.perf_counter()
    X_set, y_set = distiller.fit_resample(data.X_train, data.y_train)
    seconds = time.perf_counter() - start
    save_distilled_set(args.out, distiller, mean=data.mean, std=data.std, X=X_set, y=y_set)
    done = (
        f"{distiller.n_iter_} iterations"
        if hasattr(distiller, "n_iter_")
        else f"{args.strategy} selection"
    )
    print(
        f"{type(distiller).__name__}: {done} in {seconds:.1f} s; wrote {len(y_set)} images "
        f"({len(y_set) // len(data.target_names)} per class) to {args.out}"
    )
    return 0


# -- evaluate -------------------------------------------------------------------------------------
def _evaluate(args) -> int:
    from .distillation import load_distilled_set
    from .grouping import ClassGrouper
    from .metrics import format_long_tail_table, long_tail_report
    from .nets import ConvNetClassifier
    from .sampling import PrecomputedSampler
    from .two_stage import TwoStageClassifier

    data = _load(args)
    target_names = np.asarray(data.target_names)
    distilled = load_distilled_set(args.train) if args.train else None
    teacher = _teacher(args, data) if args.teacher else None
    if distilled is not None and tuple(distilled.X.shape[1:]) != tuple(data.X_train.shape[1:]):
        raise SystemExit(
            f"error: the set {args.train} holds images of shape {distilled.X.shape[1:]}, "
            f"but {args.source} gives {data.X_train.shape[1:]}; pass the --image-size it "
            f"was distilled at."
        )

    soft = _soft_labels(args, distilled, teacher)
    speed = {"precision": args.precision, "compile": COMPILE[args.compile]}

    def net(on_distilled, desc):
        callbacks = None if args.quiet else [("progress", _EpochBar(desc))]
        if on_distilled and (teacher is not None or soft is not None):  # the student recipe
            from .nets import make_student

            params = {"max_epochs": args.epochs} if args.epochs else {}
            return make_student(
                teacher,
                module__width=args.width,
                device=args.device,
                random_state=args.random_state,
                callbacks=callbacks,
                **speed,
                **params,
            )
        augmentation = args.augmentation
        if augmentation is None:  # as the set's method evaluates: DSA where it distilled with it
            uses_dsa = on_distilled and (distilled.params or {}).get("augmentation") == "dsa"
            augmentation = "dsa" if uses_dsa else "none"
        lr = args.lr
        if lr is None:
            lr = distilled.learned_lr if on_distilled and distilled.learned_lr else 0.01
        epochs = args.epochs or 300
        clf = ConvNetClassifier(
            module__width=args.width,
            max_epochs=epochs,
            lr=lr,
            criterion=args.criterion,
            augmentation=None if augmentation == "none" else augmentation,
            device=args.device,
            random_state=args.random_state,
            callbacks=callbacks,
            **speed,
        )
        if on_distilled and distilled.whitening is not None:  # MTT's set: whitened inputs
            from sklearn.frozen import FrozenEstimator
            from sklearn.pipeline import make_pipeline

            return make_pipeline(FrozenEstimator(distilled.whitening), clf)
        return clf

    start = time.perf_counter()
    if args.two_stage:
        stage2 = "original" if distilled is None else PrecomputedSampler(distilled.X, distilled.y)
        model = TwoStageClassifier(
            grouper=ClassGrouper(
                n_groups=args.groups,
                estimator=net(False, "grouping network"),
                random_state=args.random_state,
            ),
            group_estimator=net(False, "stage 1"),
            class_estimator=net(distilled is not None or teacher is not None, "stage 2"),
            stage2_data=stage2,
            random_state=args.random_state,
        )
        name = "Original + " + (
            "Original" if distilled is None else f"{distilled.method.replace('Distiller', '')} set"
        )
        model.fit(data.X_train, data.y_train)
        n_images, groups = model.n_train_images_, model.groups_
    elif distilled is None:
        model = net(teacher is not None, "training").fit(data.X_train, data.y_train)
        name, n_images, groups = "Original", len(data.y_train), None
    else:
        model = net(True, "training").fit(distilled.X, distilled.y if soft is None else soft)
        name = f"{distilled.method.replace('Distiller', '')} set"
        n_images, groups = len(distilled.y), None
    if teacher is not None:
        name += ", soft labels"
    elif soft is not None:
        name += ", its saved soft labels"
    seconds = time.perf_counter() - start
    report = long_tail_report(
        data.y_test,
        model.predict(data.X_test),
        name=name,
        n_train_images=n_images,
        groups=groups,
        target_names=target_names,
        train_counts=data.class_counts,
        verbose=False,
    )
    report["seconds"] = seconds
    print(format_long_tail_table([report]))
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"report": report, "settings": vars(args)}, fh, indent=2, default=str)
        print(f"wrote {args.json}")
    if args.plot:
        _plot(data, model, name, args.plot)
    return 0


def _soft_labels(args, distilled, teacher):
    """The set's saved soft labels, where the set has them and no teacher is trained
    (``--labels``: auto uses them, hard ignores them, soft requires them)."""
    saved = None if distilled is None else distilled.soft_labels
    if args.labels == "soft" and saved is None:
        raise SystemExit(
            f"error: --labels soft, but {args.train or 'the original data'} "
            f"keeps no soft labels (only statistics matching's sets do)."
        )
    if args.labels == "hard" or teacher is not None or saved is None:
        return None
    if args.two_stage:
        raise SystemExit(
            "error: a two-stage model's stage 2 learns a set's soft labels "
            "only through --teacher; use --labels hard or --teacher."
        )
    return saved


def _add_speed_options(parser):
    parser.add_argument(
        "--precision",
        choices=["fp32", "bf16"],
        default="fp32",
        help="the networks' precision (default: fp32)",
    )
    parser.add_argument(
        "--compile",
        choices=sorted(COMPILE),
        default="off",
        help="torch.compile the networks' training: auto (where a compiler "
        "works), on or off (default: off)",
    )


def _plot(data, model, name, path):
    import matplotlib

    matplotlib.use("Agg")
    from .metrics import PerClassAccuracyDisplay

    display = PerClassAccuracyDisplay.from_estimator(
        model,
        data.X_test,
        data.y_test,
        train_counts=data.class_counts,
        target_names=np.asarray(data.target_names),
        name=name,
    )
    display.figure_.savefig(path, dpi=110, bbox_inches="tight")
    print(f"wrote {path}")


def _add_teacher_options(parser):
    parser.add_argument(
        "--debias",
        choices=sorted(DEBIAS),
        default="logit_adjusted",
        help="the teacher's (and sm's observer's) long-tail loss: logit_adjusted (the "
        "default: the better teacher on validation data), cumulative (the paper's) or none",
    )
    parser.add_argument(
        "--teacher-epochs",
        type=int,
        default=200,
        help="epochs of the teacher (and sm's observer) (default: 200)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sklearn-ltdd",
        description="Dataset distillation for long-tailed image classification.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser(
        "demo",
        help="run the paper's pipeline on the embedded digits-LT data",
        description=(
            "Train ConvNet3 on digits-LT (scikit-learn's digits made long-tailed, "
            "16x16), on its gradient-matching distilled set, and as the paper's "
            "two-stage model (Original + GM); print a table shaped like the "
            "paper's Table 2. The defaults (width 32, few iterations) keep it "
            "to a few minutes on two CPU cores."
        ),
    )
    demo.add_argument("--width", type=int, default=32, help="ConvNet width (paper: 128)")
    demo.add_argument("--epochs", type=int, default=100, help="epochs on the original data")
    demo.add_argument(
        "--distilled-epochs",
        type=int,
        default=300,
        help="epochs on distilled data (DC's evaluation: 300)",
    )
    demo.add_argument("--ipc", type=int, default=10, help="distilled images per class")
    demo.add_argument(
        "--iterations", type=int, default=10, help="gradient-matching iterations (paper: 1000)"
    )
    demo.add_argument("--device", default="auto", help="auto, cpu or cuda")
    _add_speed_options(demo)
    demo.add_argument("--random-state", type=int, default=0)
    demo.add_argument("--json", default=None, help="also write the figures to this file")
    demo.add_argument(
        "--plot", default=None, help="save the two-stage model's per-class accuracy to this PNG"
    )
    demo.set_defaults(func=_demo)

    examples = "\n".join
    distill = sub.add_parser(
        "distill",
        help="distil a data set into a small balanced one and save it (.npz)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Distil the training set of SOURCE into IPC synthetic images per class.",
        epilog=examples(
            [
                "examples:",
                "  sklearn-ltdd distill digits --method gm --ipc 10 --iterations 20 --width 32 \\",
                "      --out gm.npz",
                "  sklearn-ltdd distill ../data/cifar10 --method dm --ipc 10 \\",
                "      --max-per-class 1000 --imbalance-ratio 100 --out dm.npz",
                "  sklearn-ltdd distill my_images/ --image-size 32 --method idm --ipc 5 \\",
                "      --out idm.npz",
                "  sklearn-ltdd distill digits --method sm --ipc 10 --width 32 \\",
                "      --teacher-epochs 50 --out sm.npz    # the set keeps its soft labels",
                "  sklearn-ltdd distill digits --method coreset --strategy difficulty --ipc 10 \\",
                "      --width 32 --out coreset.npz    # real images, chosen by difficulty",
            ]
        ),
    )
    _add_data_options(distill)
    distill.add_argument(
        "--method",
        choices=METHODS,
        default="gm",
        help="gm (DC), dsa, mtt, dm, idm, sm (statistics matching) or "
        "coreset (real images, selected) (default: gm)",
    )
    distill.add_argument("--ipc", type=int, default=10, help="images per class (default: 10)")
    distill.add_argument(
        "--iterations",
        type=int,
        default=None,
        help="distillation iterations (default: the method's own)",
    )
    distill.add_argument("--out", required=True, help="the .npz file to write")
    distill.add_argument(
        "--strategy",
        default="difficulty",
        choices=["difficulty", "herding", "k_center", "random"],
        help="--method coreset: how real images are chosen (default: difficulty)",
    )
    distill.add_argument(
        "--combine",
        type=int,
        choices=[1, 4],
        default=1,
        help="--method coreset: selected images per stored image (4: a 2x2 "
        "grid at half resolution)",
    )
    distill.add_argument(
        "--expert-epochs",
        type=int,
        default=None,
        help="--method mtt: expert epochs a synthetic trajectory matches "
        "(default: the method's, 2 at ipc 10). On long-tailed data an "
        "epoch is a few batches and the official 2 can diverge; 10 is "
        "the remedy measured on CIFAR10-LT (user guide, MTT)",
    )
    _add_teacher_options(distill)
    _add_speed_options(distill)
    distill.add_argument("--quiet", action="store_true", help="no progress bar")
    distill.set_defaults(func=_distill)

    evaluate = sub.add_parser(
        "evaluate",
        help="train a ConvNet (or the two-stage model) and print its long-tail report",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=(
            "Train on SOURCE's training set (or on a distilled set, --train) and "
            "report per-class accuracy, Acc Std and few-shot accuracy on its test set."
        ),
        epilog=examples(
            [
                "examples:",
                "  sklearn-ltdd evaluate digits --width 32 --epochs 50",
                "  sklearn-ltdd evaluate digits --criterion logit_adjusted --json la.json",
                "  sklearn-ltdd evaluate digits --train gm.npz --two-stage --plot per_class.png",
                "  sklearn-ltdd evaluate digits --train sm.npz --width 32   # its soft labels",
            ]
        ),
    )
    _add_data_options(evaluate)
    evaluate.add_argument(
        "--train", default=None, help="a distilled set (.npz from distill) to train on"
    )
    evaluate.add_argument(
        "--two-stage",
        action="store_true",
        help="the paper's two-stage model: stage 1 on the original data, "
        "stage 2 on the distilled set (or the original data)",
    )
    evaluate.add_argument(
        "--groups", type=int, default=2, help="number of groups of the two-stage model (default: 2)"
    )
    evaluate.add_argument(
        "--criterion",
        default="cross_entropy",
        help="cross_entropy, logit_adjusted, balanced_softmax or class_balanced",
    )
    evaluate.add_argument(
        "--augmentation",
        choices=["none", "crop_flip", "dsa"],
        default=None,
        help="default: dsa on a DSA/MTT/DM set, none otherwise",
    )
    evaluate.add_argument("--epochs", type=int, default=None, help="training epochs (default 300)")
    evaluate.add_argument(
        "--lr",
        type=float,
        default=None,
        help="learning rate (default: 0.01, or an MTT set's learned one)",
    )
    evaluate.add_argument(
        "--teacher",
        action="store_true",
        help="train a teacher on the original data and let the network on "
        "the distilled set (or stage 2) learn its soft labels, with the "
        "student recipe (1000 epochs unless --epochs)",
    )
    evaluate.add_argument(
        "--labels",
        choices=["auto", "hard", "soft"],
        default="auto",
        help="a set's saved soft labels (statistics matching): auto trains "
        "on them where the set has them and --teacher is not given "
        "(with the student recipe), hard ignores them",
    )
    _add_teacher_options(evaluate)
    _add_speed_options(evaluate)
    evaluate.add_argument("--json", default=None, help="also write the report to this file")
    evaluate.add_argument("--plot", default=None, help="save per-class accuracy to this PNG")
    evaluate.add_argument("--quiet", action="store_true", help="no progress bars")
    evaluate.set_defaults(func=_evaluate)
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
