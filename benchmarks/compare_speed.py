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


def figures(result):
    out = {}
    for r in result["runs"]:
        value = r.get("s_per_it", r.get("s_per_expert_epoch"))
        if value is None:
            continue
        out[(r["method"], r.get("path", "eager"), r["ipc"])] = value
    return out


def compare(labelled):
    """``labelled``: list of (label, result dict). Returns the Markdown report."""
    by_label = {}
    for label, result in labelled:
        by_label.setdefault(label, []).append(result)
    labels = list(by_label)
    means = {}
    for label, results in by_label.items():
        per = [figures(r) for r in results]
        keys = set().union(*per)
        means[label] = {
            k: sum(p[k] for p in per if k in p) / sum(k in p for p in per) for k in keys
        }
    first = labels[0]
    lines = [
        "| method | path | ipc | "
        + " | ".join(f"{l} (s)" for l in labels)
        + "".join(f" | {l} / {first}" for l in labels[1:])
        + " |",
        "|---|---|---:|" + "---:|" * (2 * len(labels) - 1),
    ]
    for key in sorted(means[first]):
        cells = [f"{means[l][key]:.4f}" if key in means[l] else "-" for l in labels]
        ratios = [
            f"{means[l][key] / means[first][key]:.2f}" if key in means[l] else "-"
            for l in labels[1:]
        ]
        lines.append(f"| {key[0]} | {key[1]} | {key[2]} | " + " | ".join(cells + ratios) + " |")
    return "\n".join(lines)


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
    table = compare(labelled)
    report = "\n".join(["# Distillation speed, side by side", "", *sources, "", table, ""])
    print(report)
    if args.out:
        Path(args.out).write_text(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
