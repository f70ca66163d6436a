"""Command line: ``sklearn-ltdd demo|distill|evaluate`` (also ``python -m sklearn_ltdd``).

The parser and :func:`main` live here; the subcommands in :mod:`sklearn_ltdd._cli_commands`.
"""

from __future__ import annotations

import argparse
import sys

from ._cli_commands import COMPILE, DEBIAS, METHODS, _demo, _distill, _evaluate
from .distillation._statistics_matching import CE_TARGETS
from .selection._strategies import STRATEGIES
from .utils._acceleration import PRECISIONS


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


def _add_speed_options(parser):
    parser.add_argument(
        "--precision",
        choices=PRECISIONS,
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
        choices=STRATEGIES,
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
    distill.add_argument(
        "--ce-target",
        choices=CE_TARGETS,
        default="hard",
        help="--method sm: what the recovery's cross-entropy pulls an image towards: its "
        "label (SRe2L, EDC: the default, the higher total on CIFAR10-LT) or its class's "
        "mean probabilities mixed with its label (kinder to the tail, harder on the head), "
        "or of that mean only the mass on the tail's classes (tail_confusions)",
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
