"""Compare two or more ``distill_speed.py`` result files measured side by side.

For each (method, path, ipc) present in the first file, prints seconds per
iteration (per expert epoch for the experts) in every file, and the ratio
of each later file to the first. Runs of the same code can be given more
than once (repeats, interleaved with the others, say how noisy the machine
was): they are averaged per label.

Examples
--------
python benchmarks/compare_speed.py before=old/a.json before=old/b.json after=new/a.json \\
    after=new/b.json --out benchmarks/results/distill_speed_cpu_comparison.md
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from ltdd_bench.timed import table


def figures(result):
    """(method, path, ipc) -> seconds per iteration (per expert epoch for the experts)."""
    values = ((r, r.get("s_per_it", r.get("s_per_expert_epoch"))) for r in result["runs"])
    return {(r["method"], r.get("path", "eager"), r["ipc"]): v for r, v in values if v is not None}


def compare(labelled):
    """``labelled``: list of (label, result dict). Returns the Markdown report."""
    per_label = {}  # label -> the figures of each of its files
    for label, result in labelled:
        per_label.setdefault(label, []).append(figures(result))
    labels = list(per_label)
    means = {
        label: {
            k: sum(p[k] for p in per if k in p) / sum(k in p for p in per)
            for k in set().union(*per)
        }
        for label, per in per_label.items()
    }
    first = labels[0]
    header = ["method", "path", "ipc", *(f"{l} (s)" for l in labels)]
    header += [f"{l} / {first}" for l in labels[1:]]
    rows = []
    for key in sorted(means[first]):
        cells = [f"{means[l][key]:.4f}" if key in means[l] else "-" for l in labels]
        ratios = [
            f"{means[l][key] / means[first][key]:.2f}" if key in means[l] else "-"
            for l in labels[1:]
        ]
        rows.append([*key, *cells, *ratios])
    return "\n".join(table(header, rows, "llr" + "r" * (2 * len(labels) - 1)))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("files", nargs="+", help="LABEL=path/to/distill_speed.json")
    parser.add_argument("--out", default=None, help="write the report here too (Markdown)")
    args = parser.parse_args(argv)
    labelled, sources = [], []
    for item in args.files:
        label, _, path = item.partition("=")
        if not path:
            raise SystemExit(f"give each file as LABEL=PATH, got {item!r}")
        result = json.loads(Path(path).read_text())
        labelled.append((label, result))
        sources.append(
            f"- {label}: `{path}` ({result['device']}, torch {result['torch']}, "
            f"commit {result.get('commit', 'unknown')}; `{result['command']}`)"
        )
    report = "\n".join(
        ["# Distillation speed, side by side", "", *sources, "", compare(labelled), ""]
    )
    print(report)
    if args.out:
        Path(args.out).write_text(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
