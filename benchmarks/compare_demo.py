"""The README demo at two commits, side by side on one machine: its models' seconds.

Runs ``python -m sklearn_ltdd demo`` from an older checkout of this
repository (``--baseline``, e.g. a ``git worktree`` of the commit before a
speed change) and from this one, alternately, ``--repeats`` times each, in
fresh processes with the same threads, and reads each model's seconds from
the demo's ``--json`` report. Writes ``<out>/compare_demo_<device>.json`` and
``.md`` with both commits and the share of the baseline's time the current
commit needs.

Examples
--------
git worktree add /tmp/ltdd-baseline 57bac92
python benchmarks/compare_demo.py --baseline /tmp/ltdd-baseline --repeats 2
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from ltdd_bench.common import (  # noqa: E402
    ROOT,
    command,
    device_name,
    git_commit,
    slug,
    versions,
    write_json,  # noqa: E402
)


def run_demo(checkout, extra, work):
    """The demo of ``checkout`` in a fresh process: its report's seconds and the wall time."""
    report = Path(work) / f"demo_{time.time_ns()}.json"
    env = dict(os.environ, PYTHONPATH=str(checkout))
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "sklearn_ltdd", "demo", "--json", str(report), *extra],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
    )
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"the demo of {checkout} failed:\n{proc.stderr[-3000:]}")
    result = json.loads(report.read_text())
    seconds = result["seconds"]
    return {
        "models": seconds,
        "models_total": float(sum(seconds.values())),
        "process": wall,
        "total_acc": {r["name"]: r["total_acc"] for r in result.get("reports", [])},
    }


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--baseline", required=True, help="an older checkout of this repository")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--args", default="", help="extra arguments of the current demo")
    parser.add_argument(
        "--name", default="", help="suffix of the result files (one file per set of demo arguments)"
    )
    parser.add_argument("--out", default=str(HERE / "results"))
    args = parser.parse_args(argv)
    baseline = Path(args.baseline).resolve()
    commits = {
        "baseline": subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=baseline, capture_output=True, text=True
        ).stdout.strip(),
        "current": git_commit(),
    }
    record = {
        "kind": "compare_demo",
        "device": device_name("cpu"),
        **versions(),
        "command": command(),
        "commits": commits,
        "current_args": args.args,
        "runs": [],
    }
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    suffix = f"_{slug(args.name)}" if args.name else ""
    path = out / f"compare_demo_{slug(record['device'])}{suffix}.json"
    with tempfile.TemporaryDirectory(prefix="ltdd_demo_") as work:
        for repeat in range(args.repeats):
            for side, checkout, extra in (
                ("baseline", baseline, []),
                ("current", ROOT, args.args.split()),
            ):
                row = {"side": side, "repeat": repeat, **run_demo(checkout, extra, work)}
                record["runs"].append(row)
                print(row, flush=True)
                write_json(path, record)
    path.with_suffix(".md").write_text(markdown(record))
    print(f"wrote {path} and {path.with_suffix('.md')}")
    return 0


def markdown(record):
    def median(side, key):
        return float(np.median([r[key] for r in record["runs"] if r["side"] == side]))

    lines = [
        f"# The README demo at two commits on {record['device']}",
        "",
        f"- baseline commit {record['commits']['baseline']}, current commit "
        f"{record['commits']['current']} (demo arguments: "
        f"`{record['current_args'] or 'none'}`); torch {record['torch']}",
        f"- command: `{record['command']}`",
        "- the two demos ran alternately, each in a fresh process; seconds of its three "
        "models as the demo reports them, and of the whole process",
        "",
        "| side | run | Original | GM Distilled | Original + GM Distilled | models | "
        "process | total accuracy % (the three models) |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in record["runs"]:
        m = r["models"]
        acc = " / ".join(f"{a:.1f}" for a in r.get("total_acc", {}).values()) or "-"
        lines.append(
            f"| {r['side']} | {r['repeat']} | {m.get('Original', 0):.1f} | "
            f"{m.get('GM Distilled', 0):.1f} | {m.get('Original + GM Distilled', 0):.1f}"
            f" | {r['models_total']:.1f} | {r['process']:.1f} | {acc} |"
        )
    share = median("current", "models_total") / median("baseline", "models_total")
    process = median("current", "process") / median("baseline", "process")
    lines += [
        "",
        f"The current demo's models take {100 * share:.0f} % of the baseline's time "
        f"(medians; the whole process: {100 * process:.0f} %).",
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
