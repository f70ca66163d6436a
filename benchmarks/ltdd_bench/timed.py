"""Timed comparisons as declarations: named variants, run in turn in one process.

A timing script says what it compares (a dict of variant name -> a callable
that does the work once and may return figures of its own) and how its record
reads as Markdown; this module does the rest, the same way for every script:

* :func:`arguments`: the common command line (``--profile``, ``--source``,
  ``--repeats``, ``--device``, ``--out``), each only where the script wants it;
* :func:`new_record`: the environment every result records (device, package
  versions, commit, command) and the script's own fields, with ``runs`` empty;
* :func:`run_variants`: ``warmup`` untimed calls of each variant, then
  ``repeats`` rounds in which every variant runs once, in the declared order
  (so slow drift of a shared machine falls on every variant alike); each run's
  row (the variant, the round, its seconds and what the callable returned) is
  saved at once, atomically, so a stop keeps every finished run;
* :func:`finish`: the Markdown, rendered from the record alone (the committed
  ``.md`` files re-render byte for byte from their JSON: a test);
* :func:`medians` and :func:`ratios` for the renderers: medians over rounds,
  and each variant's median against a named baseline variant's.

Sweeps (a grid of estimator parameters, each point scored beside its control)
are :mod:`ltdd_bench.sweeps`.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from .common import (
    HERE,
    command,
    cpu_description,
    device_name,
    git_commit,
    slug,
    versions,
    write_json,
)


def arguments(doc, *, profiles=None, profile=None, source=None, repeats=None, device=None):
    """The script's parser: its docstring's first paragraph as description, and of the
    common options those given a default here (``profiles``: the ``--profile`` choices,
    ``profile`` its default; ``source``: ``--source``'s default, or None without it)."""
    parser = argparse.ArgumentParser(
        description=doc.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    if profiles is not None:
        parser.add_argument("--profile", choices=list(profiles), default=profile)
        parser.add_argument("--source", default=source)
    if repeats is not None:
        parser.add_argument("--repeats", type=int, default=repeats)
    if device is not None:
        parser.add_argument("--device", default=device)
    parser.add_argument("--out", default=str(HERE / "results"))
    return parser


def new_record(kind, device="cpu", **fields) -> dict:
    """A timing record: ``kind``, the environment, the script's ``fields``, no runs yet."""
    return {
        "kind": kind,
        "device": device_name(device),
        **versions(),
        "commit": git_commit(),
        "command": command(),
        **({"cpu": cpu_description()} if str(device) == "cpu" else {}),
        **fields,
        "runs": [],
    }


def result_path(out, stem, record=None) -> Path:
    """``<out>/<stem>_<device>.json`` (``record``'s device as a slug), ``out`` created;
    without ``record``, ``<out>/<stem>.json``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    return out / (f"{stem}_{slug(record['device'])}.json" if record else f"{stem}.json")


def run_variants(record, variants, path, *, repeats=1, warmup=0, key="variant", derive=None):
    """Time every variant of ``variants`` (name -> callable) in turn, ``repeats`` rounds.

    Each variant is first called ``warmup`` times untimed. Each timed call adds
    ``{key: name, "repeat": round, "seconds": s, **returned, **derive(row)}`` to
    ``record["runs"]`` (``returned``: the callable's dict, if it returns one), prints
    it and saves ``record`` to ``path``.
    """
    for call in variants.values():
        for _ in range(warmup):
            call()
    for repeat in range(repeats):
        for name, call in variants.items():
            returned, seconds = clocked(call)
            row = {key: name, "repeat": repeat, "seconds": seconds}
            row.update(returned if isinstance(returned, dict) else {})
            row.update(derive(row) if derive else {})
            record["runs"].append(row)
            print(row, flush=True)
            write_json(path, record)
    return record


def finish(path, record, markdown) -> int:
    """Save ``record`` and its Markdown (``markdown(record)``) beside it; 0 (a script's exit)."""
    path = Path(path)
    write_json(path, record)
    path.with_suffix(".md").write_text(markdown(record))
    print(f"wrote {path} and {path.with_suffix('.md')}")
    return 0


def medians(runs, value="seconds", key="variant") -> dict:
    """The median ``value`` of each ``key`` (in the order of first appearance)."""
    names = list(dict.fromkeys(r[key] for r in runs))
    return {n: float(np.median([r[value] for r in runs if r[key] == n])) for n in names}


def ratios(runs, baseline, value="seconds", key="variant") -> dict:
    """Each variant's median ``value`` over the median of the variant ``baseline``."""
    median = medians(runs, value, key)
    return {n: m / median[baseline] for n, m in median.items()}


def table(header, rows, align=None) -> list:
    """A Markdown table: ``header`` names, ``rows`` of cells (strings), ``align`` one of
    "l"/"r" per column (default: the first left, the others right)."""
    align = align or "l" + "r" * (len(header) - 1)
    rule = "|" + "|".join("---" if a == "l" else "---:" for a in align) + "|"
    return ["| " + " | ".join(header) + " |", rule] + [
        "| " + " | ".join(str(c) for c in row) + " |" for row in rows
    ]


def environment_lines(record, note="") -> list:
    """A report's lines on its run: device, torch and commit, then the command (``note``
    after it)."""
    return [
        f"- device: {record['device']}; torch {record['torch']}; commit {record['commit']}",
        f"- command: `{record['command']}`{note}",
    ]


def clocked(call, *args, **kwargs):
    """``(call(*args, **kwargs), the seconds it took)``."""
    start = time.perf_counter()
    return call(*args, **kwargs), time.perf_counter() - start
