"""Rows scored by several students (``Row.students``): their fits, mean report and
Markdown. A small set's figure under one student mixes the set with that student's
initialisation and batch order; the mean of a few is the set's own."""

from __future__ import annotations

import numbers

import numpy as np

#: Student ``j`` of a row with ``students > 1`` has the first student's ``random_state``
#: + STUDENT_STEP * j.
STUDENT_STEP = 1000


def fit_students(ctx, row, name, first, seconds, n_images):
    """``row.students`` fits of the row's recipe (the first, ``first``, already made),
    student ``j`` with ``random_state`` r + 1000 j, r the first's (the seed where the recipe
    sets none): their mean report, each one's total and few-shot accuracy in
    ``"students"``, and the seconds of all the fits."""
    X, y = ctx.data_of(row.data)
    base = first.get_params().get("random_state") if hasattr(first, "get_params") else None
    base = int(base) if isinstance(base, numbers.Integral) else ctx.seed  # numpy ints too
    reports = [ctx.run.score(name, first, n_images)]
    for j in range(1, row.students):
        stage = f"{row.tables[0]}:{name}:student{j}"
        model = row.model(ctx).set_params(random_state=base + STUDENT_STEP * j)
        model, spent = ctx.fit_row(stage, model, X, y)
        reports.append(ctx.run.score(name, model, n_images))
        ctx.row_recorded(stage)
        seconds += spent
    states = [base + STUDENT_STEP * j for j in range(row.students)]
    return mean_report(reports, states), seconds


def mean_report(reports, random_states):
    """The mean of long-tail reports of one set (every numeric field, class by class for
    ``per_class_acc``; ``acc_std`` is then the mean per student), and in ``"students"``
    each one's ``random_state``, total and few-shot accuracy."""
    mean = dict(reports[0])
    for key, value in reports[0].items():
        if key == "per_class_acc":
            mean[key] = {c: float(np.mean([r[key][c] for r in reports])) for c in value}
        elif isinstance(value, float):
            mean[key] = float(np.mean([r[key] for r in reports]))
    mean["students"] = [
        {"random_state": s, "total_acc": r["total_acc"], "few_shot": r.get("few_shot")}
        for s, r in zip(random_states, reports)
    ]
    return mean


def add_students(rows, seeds, table):
    """Give each merged row of ``table`` scored by several students their scores, seed by
    seed (``{"seed<N>": [...]}``); other rows are left as they are."""
    for row in rows:
        students = {
            f"seed{s['seed']}": r["students"]
            for s in seeds
            for r in s["tables"].get(table, [])
            if r["name"] == row["name"] and "students" in r
        }
        if students:
            row["students"] = students


def students_markdown(rows):
    """Each student of the rows scored by several (``Row.students``): total and few-shot
    accuracy, seed by seed."""
    rows = [r for r in rows if r.get("students")]
    if not rows:
        return []

    def one(s):
        few = "-" if s.get("few_shot") is None else f"{s['few_shot']:.1f}"
        return f"{s['total_acc']:.1f} / {few}"

    lines = ["Each student (total / few-shot accuracy, random_state in brackets):", ""]
    lines += ["| model | seed | students |", "|---|---|---|"]
    for r in rows:
        for seed, students in r["students"].items():
            each = ", ".join(f"{one(s)} ({s['random_state']})" for s in students)
            lines.append(f"| {r['name']} | {seed} | {each} |")
    return [*lines, ""]
