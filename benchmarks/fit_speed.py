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

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from ltdd_bench.common import (  # noqa: E402
    command,
    device_name,
    git_commit,
    load_data,
    slug,
    versions,
    write_json,
)
from ltdd_bench.profiles import PROFILES  # noqa: E402
from sklearn_ltdd import ConvNetClassifier  # noqa: E402
from sklearn_ltdd.nets import ConvNet  # noqa: E402


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
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--profile", choices=["paper", "smoke"], default="paper")
    parser.add_argument("--source", default=None)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--out", default=str(HERE / "results"))
    args = parser.parse_args(argv)
    p = PROFILES["paper" if args.profile == "paper" else "smoke"]
    data = load_data(p, args.source)
    X, y = data.X_train, data.y_train
    width = 128 if args.profile == "paper" else p["width"]
    n_images = len(y) * args.epochs
    variants = {
        "plain eager fp32 loop": lambda: plain_loop(X, y, width, args.epochs, args.device),
        "ConvNetClassifier, defaults": lambda: ConvNetClassifier(
            module__width=width, max_epochs=args.epochs, device=args.device, random_state=0
        ).fit(X, y),
        "ConvNetClassifier, bf16 + compiled": lambda: ConvNetClassifier(
            module__width=width,
            max_epochs=args.epochs,
            device=args.device,
            random_state=0,
            precision="bf16",
            compile=True,
        ).fit(X, y),
    }
    record = {
        "kind": "fit_speed",
        "device": device_name(args.device),
        **versions(),
        "commit": git_commit(),
        "command": command(),
        "profile": args.profile,
        "n_images": int(len(y)),
        "width": width,
        "epochs": args.epochs,
        "runs": [],
    }
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"fit_speed_{args.profile}_{slug(record['device'])}.json"
    for repeat in range(args.repeats):
        for name, fit in variants.items():
            start = time.perf_counter()
            fit()
            seconds = time.perf_counter() - start
            record["runs"].append(
                {
                    "variant": name,
                    "repeat": repeat,
                    "seconds": seconds,
                    "images_per_s": n_images / seconds,
                }
            )
            print(record["runs"][-1], flush=True)
            write_json(path, record)
    path.with_suffix(".md").write_text(markdown(record))
    print(f"wrote {path} and {path.with_suffix('.md')}")
    return 0


def markdown(record):
    runs = record["runs"]
    base = np.median([r["images_per_s"] for r in runs if r["variant"].startswith("plain")])
    lines = [
        f"# Training speed of ConvNet3 (width {record['width']}) on {record['device']}",
        "",
        f"- {record['n_images']} images x {record['epochs']} epochs, batches of 256; "
        f"torch {record['torch']}; commit {record['commit']}",
        f"- command: `{record['command']}`",
        "- each variant runs in turn, in one process; run 0 of the compiled fit includes "
        "its compilation, later runs reuse the compiled code",
        "",
        "| variant | run | seconds | images/s | against the plain loop |",
        "|---|---:|---:|---:|---:|",
    ]
    for r in runs:
        lines.append(
            f"| {r['variant']} | {r['repeat']} | {r['seconds']:.1f} | "
            f"{r['images_per_s']:.0f} | {r['images_per_s'] / base:.2f}x |"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
