"""Regenerate ``results/<profile>.md`` (and ``.json``) from the committed seed files.

Merges every ``<results>/<profile>/seed<N>.json`` (mean and standard
deviation over seeds, beside the paper's figures) and writes
``<out>/<profile>.json`` and ``<out>/<profile>.md``; nothing is fitted. The
seed files are what ``reproduce_paper.py`` and the GPU campaign write, so
the report always follows from them.

Examples
--------
python benchmarks/report.py cpu
python benchmarks/report.py paper --out /tmp/check     # compare with the committed one
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from ltdd_bench.tables import merge


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("profile", help="a profile with seed files, e.g. cpu or paper")
    parser.add_argument(
        "--results", default=str(HERE / "results"), help="the folder holding <profile>/seed<N>.json"
    )
    parser.add_argument(
        "--out", default=None, help="where the .json and .md go (default: --results)"
    )
    args = parser.parse_args(argv)
    results = Path(args.results)
    out = Path(args.out) if args.out else results
    if out.resolve() != results.resolve():  # merge reads and writes one folder
        target = out / args.profile
        target.mkdir(parents=True, exist_ok=True)
        for seed_file in sorted((results / args.profile).glob("seed*.json")):
            shutil.copyfile(seed_file, target / seed_file.name)
    merge(out, args.profile)
    return 0


if __name__ == "__main__":
    sys.exit(main())
