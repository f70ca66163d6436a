"""Sweeps as declarations: a grid of points, each scored beside its control, resumably.

A sweep is a list of :class:`Cell` s (a point of the grid on one set, for one
seed); :class:`SweepRecord` keeps every finished cell in one JSON file, written
atomically after each, so a run stopped anywhere goes on where it stopped, and
:func:`pivot_markdown` renders the record as a table of means over seeds (one
row per point, one column group per set, a difference against the control
set). Nothing here fits a model: the scripts say what a cell is.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .common import write_json


@dataclass(frozen=True)
class Cell:
    """One measurement: ``point`` (a row of the table) on ``set`` for ``seed``, under
    ``group`` (a data setting: a data set, an ipc, a teacher)."""

    group: str
    point: str
    set: str
    seed: int

    @property
    def key(self) -> str:
        return f"{self.group}|{self.point}|{self.set}|{self.seed}"


@dataclass
class SweepRecord:
    """The JSON record of a sweep: ``meta`` (device, versions, commit, command) and one
    entry per finished cell (``cells``: key -> its figures), plus free notes."""

    path: Path
    meta: dict
    cells: dict = field(default_factory=dict)
    notes: dict = field(default_factory=dict)

    @classmethod
    def open(cls, path, meta, resume=True):
        """The record at ``path`` (its cells kept when ``resume``), with ``meta``'s run
        appended to its history."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        old = json.loads(path.read_text()) if resume and path.exists() else {}
        history = old.get("history", []) + [meta]
        record = cls(
            path,
            {**old.get("meta", {}), **meta, "history": history},
            old.get("cells", {}),
            old.get("notes", {}),
        )
        return record

    def has(self, cell: Cell) -> bool:
        return cell.key in self.cells

    def add(self, cell: Cell, figures: dict) -> dict:
        entry = {
            "group": cell.group,
            "point": cell.point,
            "set": cell.set,
            "seed": cell.seed,
            "commit": self.meta.get("commit"),
            **figures,
        }
        self.cells[cell.key] = entry
        self.save()
        return entry

    def note(self, key, value):
        self.notes[key] = value
        self.save()

    def save(self):
        history = self.meta.get("history", [])
        meta = {k: v for k, v in self.meta.items() if k != "history"}
        write_json(
            self.path, {"meta": meta, "history": history, "cells": self.cells, "notes": self.notes}
        )

    def entries(self, group=None):
        return [e for e in self.cells.values() if group is None or e["group"] == group]


def mean_std(values) -> str:
    """``values``' mean, with ``± std`` over more than one (the finite ones; "-" for none)."""
    values = [v for v in values if v is not None and np.isfinite(v)]
    if not values:
        return "-"
    text = f"{np.mean(values):.1f}"
    return text + (f" ± {np.std(values):.1f}" if len(values) > 1 else "")


def pivot_markdown(entries, sets, metrics, control=None, points=None, control_point=None):
    """A Markdown table: one row per point, for each set the mean ± std over seeds of
    each metric (``metrics``: (key, header) pairs), then each set's mean difference
    from the set ``control`` (paired by seed) in the first metric; or, with
    ``control_point`` (a point's name, or a dict: point -> its control's name), each set's
    difference from the control point's row, and the control's name.

    Returns
    -------
    lines : list of str
    """
    points = points or list(dict.fromkeys(e["point"] for e in entries))
    first = metrics[0][0]
    header = ["point"] + [f"{s}: {h}" for s in sets for _, h in metrics]
    compared = [s for s in sets if control is not None and s != control]
    header += [f"{s} - {control}" for s in compared]
    if control_point is not None:
        header += [f"{s}: - control" for s in sets]
        if isinstance(control_point, dict):
            header.append("control")
    lines = ["| " + " | ".join(header) + " |", "|---" + "|---:" * (len(header) - 1) + "|"]
    for point in points:
        cells = [point]
        for s in sets:
            rows = [e for e in entries if e["point"] == point and e["set"] == s]
            cells += [mean_std([r.get(key) for r in rows]) for key, _ in metrics]
        for s in compared:
            pairs = {}
            for e in entries:
                if e["point"] == point and e["set"] in (s, control):
                    pairs.setdefault(e["seed"], {})[e["set"]] = e[first]
            diffs = [p[s] - p[control] for p in pairs.values() if len(p) == 2]
            cells.append(mean_std(diffs) if diffs else "-")
        mine = control_point.get(point) if isinstance(control_point, dict) else control_point
        for s in sets if control_point is not None else ():
            base = {e["seed"]: e[first] for e in entries if e["point"] == mine and e["set"] == s}
            diffs = [
                e[first] - base[e["seed"]]
                for e in entries
                if e["point"] == point and e["set"] == s and e["seed"] in base
            ]
            cells.append(mean_std(diffs) if diffs and point != mine else "-")
        if not any(c != "-" for c in cells[1:]):
            continue  # nothing measured at this point
        if isinstance(control_point, dict):
            cells.append(mine if mine and mine != point else "-")
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def grouped(rows, *keys) -> dict:
    """``rows`` by their values of ``keys`` (one key: the value; more: a tuple), in the
    order of first appearance."""
    out = {}
    for row in rows:
        values = tuple(row[k] for k in keys)
        out.setdefault(values if len(keys) > 1 else values[0], []).append(row)
    return out


def random_sampler(y, ipc, seed):
    """A sampler of ``ipc`` random real images of each class of ``y`` (all of a class
    with fewer, as a distiller keeps them): the control set of the rows and sweeps."""
    from imblearn.under_sampling import RandomUnderSampler

    from sklearn_ltdd.sampling import ImageSampler

    classes, counts = np.unique(y, return_counts=True)
    strategy = {c: min(ipc, int(n)) for c, n in zip(classes, counts)}
    return ImageSampler(RandomUnderSampler(sampling_strategy=strategy, random_state=seed))


def random_real_images(X, y, ipc, seed):
    """``ipc`` random real images of each class (all of a class with fewer), as ``(X, y)``."""
    return random_sampler(y, ipc, seed).fit_resample(X, y)
