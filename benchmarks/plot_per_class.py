"""Per-class test accuracy of chosen rows of a merged results file, as a bar chart.

Reads ``<results>/<profile>.json`` (``reproduce_paper.py``'s merged file) and
draws, for each chosen row, its per-class accuracy (mean over seeds, error
bars the standard deviation when there are several seeds), classes from
head to tail. By default the rows of the user guide's figure: the paper's
Original + GM model, the shared-backbone model with a GM stage 2 (or on
original data when no GM row exists yet) and logit adjustment.

Examples
--------
python benchmarks/plot_per_class.py --profile cpu
python benchmarks/plot_per_class.py --profile paper --rows "Original" "Logit adjustment + crop/flip"
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))  # ltdd_bench, also when this file is imported by path

from ltdd_bench.tables import find_row

DEFAULT_ROWS = [
    ["Original + GM Distilled"],
    ["Backbone(LA+flip) + heads: original / GM", "Backbone(LA+flip) + heads: original / original"],
    ["Logit adjustment + crop/flip", "Logit adjustment (Menon 2021)"],
]


def choose(merged, wanted):
    """The first present name of each group of alternatives."""
    chosen = []
    for names in wanted:
        for name in names:
            row = find_row(merged, name)
            if row is not None:
                chosen.append(row)
                break
    return chosen


def plot(merged, rows, path):
    classes = list(rows[0]["per_class_acc"])
    x = np.arange(len(classes))
    width = 0.8 / len(rows)
    fig, ax = plt.subplots(figsize=(max(7, 0.8 * len(classes)), 3.6))
    for i, row in enumerate(rows):
        means = [row["per_class_acc"][c]["mean"] for c in classes]
        stds = [row["per_class_acc"][c].get("std", 0.0) for c in classes]
        label = (
            f"{row['name']}: {row['total_acc']['mean']:.1f} %, Acc Std {row['acc_std']['mean']:.1f}"
        )
        ax.bar(
            x + (i - (len(rows) - 1) / 2) * width,
            means,
            width,
            label=label,
            yerr=stds if any(stds) else None,
            capsize=2,
        )
    ax.set_xticks(x, classes, rotation=30, ha="right")
    ax.set_ylabel("test accuracy (%)")
    ax.set_ylim(0, 100)
    devices = ", ".join(merged.get("device", []))
    ax.set_title(
        f"Per-class accuracy, profile {merged['profile']} "
        f"(seeds {merged['seeds']}; {devices}); classes from head to tail",
        fontsize=9,
    )
    ax.legend(fontsize=7, loc="upper right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--profile", default="cpu")
    parser.add_argument("--results", default=str(HERE / "results"))
    parser.add_argument(
        "--rows", nargs="+", default=None, help="row names (default: the user guide's three)"
    )
    parser.add_argument(
        "--out", default=None, help="PNG path (default: <results>/<profile>_per_class.png)"
    )
    args = parser.parse_args(argv)
    merged = json.loads((Path(args.results) / f"{args.profile}.json").read_text())
    wanted = [[name] for name in args.rows] if args.rows else DEFAULT_ROWS
    rows = choose(merged, wanted)
    if not rows:
        raise SystemExit(f"none of the rows {wanted} is in {args.profile}.json")
    out = Path(args.out or Path(args.results) / f"{args.profile}_per_class.png")
    plot(merged, rows, out)
    print(f"wrote {out} ({', '.join(r['name'] for r in rows)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
