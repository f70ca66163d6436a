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

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from ltdd_bench import timed
from ltdd_bench.common import ROOT, git_commit, slug


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
    parser = timed.arguments(__doc__, repeats=2)
    parser.add_argument("--baseline", required=True, help="an older checkout of this repository")
    parser.add_argument("--args", default="", help="extra arguments of the current demo")
    parser.add_argument(
        "--name", default="", help="suffix of the result files (one file per set of demo arguments)"
    )
    args = parser.parse_args(argv)
    baseline = Path(args.baseline).resolve()
    commits = {
        "baseline": subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=baseline, capture_output=True, text=True
        ).stdout.strip(),
        "current": git_commit(),
    }
    record = timed.new_record("compare_demo", "cpu", commits=commits, current_args=args.args)
    suffix = f"_{slug(args.name)}" if args.name else ""
    path = timed.result_path(args.out, f"compare_demo_{slug(record['device'])}{suffix}")
    with tempfile.TemporaryDirectory(prefix="ltdd_demo_") as work:
        # The two sides alternate, each run a fresh process.
        sides = {
            "baseline": lambda: run_demo(baseline, [], work),
            "current": lambda: run_demo(ROOT, args.args.split(), work),
        }
        timed.run_variants(record, sides, path, repeats=args.repeats, key="side")
    return timed.finish(path, record, markdown)


def markdown(record):
    runs = record["runs"]
    models = timed.medians(runs, "models_total", key="side")
    process = timed.medians(runs, "process", key="side")
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
    ]
    names = ["Original", "GM Distilled", "Original + GM Distilled"]
    lines += timed.table(
        ["side", "run", *names, "models", "process", "total accuracy % (the three models)"],
        [
            [
                r["side"],
                r["repeat"],
                *(f"{r['models'].get(n, 0):.1f}" for n in names),
                f"{r['models_total']:.1f}",
                f"{r['process']:.1f}",
                " / ".join(f"{a:.1f}" for a in r.get("total_acc", {}).values()) or "-",
            ]
            for r in runs
        ],
        align="lrrrrrrl",
    )
    share = models["current"] / models["baseline"]
    whole = process["current"] / process["baseline"]
    lines += [
        "",
        f"The current demo's models take {100 * share:.0f} % of the baseline's time "
        f"(medians; the whole process: {100 * whole:.0f} %).",
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
