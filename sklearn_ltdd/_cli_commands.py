"""The subcommands of the command line (:mod:`sklearn_ltdd._cli` parses their options):
``demo``, ``distill`` and ``evaluate``, and the data, distillers and teachers they build."""

from __future__ import annotations

import json
import time

import numpy as np

# The choices of --method, and what the choices of --compile and --debias stand for.
METHODS = ("gm", "dsa", "mtt", "dm", "idm", "sm", "coreset")
COMPILE = {"auto": "auto", "on": True, "off": False}
DEBIAS = {"cumulative": "cumulative", "logit_adjusted": "logit_adjusted", "none": None}


def _demo(args) -> int:
    from .datasets import load_digits_lt
    from .distillation import GradientMatchingDistiller
    from .grouping import ClassGrouper
    from .metrics import format_long_tail_table
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
        report = _test_report(data, model, name, n_images, groups, data.target_names)
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


def _EpochBar(desc):
    """One progress bar per fit, over its epochs."""
    from .utils._progress import EpochProgress

    return EpochProgress(desc)


# -- distill -----------------------------------------------------------------------------------
def _distiller(args):
    from .distillation import (
        DistributionMatchingDistiller,
        GradientMatchingDistiller,
        StatisticsMatchingDistiller,
        TrajectoryMatchingDistiller,
    )

    common = {
        "ipc": args.ipc,
        "module__width": args.width,
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
            debias=DEBIAS[args.debias],
            teacher_epochs=args.teacher_epochs,
            ce_target=args.ce_target,
            **common,
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
    from .metrics import format_long_tail_table
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
    report = _test_report(
        data, model, name, n_images, groups, target_names, train_counts=data.class_counts
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


def _test_report(data, model, name, n_images, groups, target_names, train_counts=None):
    """:func:`~sklearn_ltdd.metrics.long_tail_report` of ``model`` on ``data``'s test set,
    without printing (the commands print the table themselves)."""
    from .metrics import long_tail_report

    return long_tail_report(
        data.y_test,
        model.predict(data.X_test),
        name=name,
        n_train_images=n_images,
        groups=groups,
        target_names=target_names,
        train_counts=train_counts,
        verbose=False,
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
