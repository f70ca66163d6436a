"""Training speed of ConvNetClassifier against a plain PyTorch loop, one process, one machine.

ConvNet3 (width 128) on the paper's CIFAR10-LT (2,478 images), batches of
256, SGD (momentum 0.9, weight decay 5e-4): a hand-written eager float32
training loop (the yardstick), then ``ConvNetClassifier.fit`` with the
default settings and with ``precision="bf16", compile=True``, each for
``--epochs`` epochs, in turn, ``--repeats`` times. Images per second
count every image of every epoch; the compiled fit's first run includes its
compilation (later runs of the process reuse the compiled code; both are
reported). Writes ``<out>/fit_speed_<device>.json`` and ``.md``.

Examples
--------
python benchmarks/fit_speed.py --source ../shared/data/cifar10
python benchmarks/fit_speed.py --profile smoke --epochs 2 --repeats 1     # seconds
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch
import torch.nn.functional as F

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from ltdd_bench.common import load_data
from ltdd_bench.profiles import PROFILES
from ltdd_bench.timed import (
    arguments,
    finish,
    medians,
    new_record,
    result_path,
    run_variants,
    table,
)
from sklearn_ltdd import ConvNetClassifier
from sklearn_ltdd.nets import ConvNet


def plain_loop(X, y, width, epochs, device, seed=0):
    """The yardstick: eager float32 SGD on device tensors, no framework around it."""
    torch.manual_seed(seed)
    net = ConvNet(
        in_channels=X.shape[1], n_classes=int(y.max()) + 1, image_size=X.shape[2:], width=width
    ).to(device)
    optimizer = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
    X_t, y_t = torch.as_tensor(X, device=device), torch.as_tensor(y, device=device)
    for _ in range(epochs):
        order = torch.randperm(len(y_t), device=device)
        for start in range(0, len(y_t), 256):
            index = order[start : start + 256]
            loss = F.cross_entropy(net(X_t[index]), y_t[index])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    return net


def main(argv=None):
    parser = arguments(
        __doc__, profiles=["paper", "smoke"], profile="paper", repeats=2, device="cpu"
    )
    parser.add_argument("--epochs", type=int, default=3)
    args = parser.parse_args(argv)
    data = load_data(PROFILES[args.profile], args.source)
    X, y = data.X_train, data.y_train
    width = 128 if args.profile == "paper" else PROFILES["smoke"]["width"]
    n_images = len(y) * args.epochs

    def fit(**speed):
        return lambda: ConvNetClassifier(
            module__width=width, max_epochs=args.epochs, device=args.device, random_state=0, **speed
        ).fit(X, y)

    variants = {
        "plain eager fp32 loop": lambda: plain_loop(X, y, width, args.epochs, args.device),
        "ConvNetClassifier, defaults": fit(),
        "ConvNetClassifier, bf16 + compiled": fit(precision="bf16", compile=True),
    }
    record = new_record(
        "fit_speed",
        args.device,
        profile=args.profile,
        n_images=int(len(y)),
        width=width,
        epochs=args.epochs,
    )
    path = result_path(args.out, f"fit_speed_{args.profile}", record)
    run_variants(
        record,
        variants,
        path,
        repeats=args.repeats,
        derive=lambda row: {"images_per_s": n_images / row["seconds"]},
    )
    return finish(path, record, markdown)


def markdown(record):
    runs = record["runs"]
    base = medians(runs, "images_per_s")["plain eager fp32 loop"]
    lines = [
        f"# Training speed of ConvNet3 (width {record['width']}) on {record['device']}",
        "",
        f"- {record['n_images']} images x {record['epochs']} epochs, batches of 256; "
        f"torch {record['torch']}; commit {record['commit']}",
        f"- command: `{record['command']}`",
        *([f"- CPU: {record['cpu']}"] if "cpu" in record else []),
        "- each variant runs in turn, in one process; run 0 of the compiled fit includes "
        "its compilation, later runs reuse the compiled code",
        "",
    ]
    lines += table(
        ["variant", "run", "seconds", "images/s", "against the plain loop"],
        [
            [
                r["variant"],
                r["repeat"],
                f"{r['seconds']:.1f}",
                f"{r['images_per_s']:.0f}",
                f"{r['images_per_s'] / base:.2f}x",
            ]
            for r in runs
        ],
    )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
