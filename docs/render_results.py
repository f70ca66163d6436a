"""Render ``benchmarks/results/*.json`` as reStructuredText tables.

``conf.py`` calls :func:`write_results_page` when the build starts; the
output, ``generated/results_tables.inc``, is included by ``results.rst``.
Standard library only. Preview the text with::

    python docs/render_results.py benchmarks/results

Two kinds of file are recognised; every key may be missing (shown as "n/a"):

* a reproduction of the paper (``benchmarks/reproduce_paper.py``)::

    {"profile": "paper", "device": "...", "torch": "...", "commit": "...",
     "command": "...", "seeds": [0, 1, 2], "settings": {...},
     "wall_time_s": {"stage": 12.3},
     "tables": {"table1": [
         {"name": "Original", "train_images": 2478,
          "total_acc": {"mean": 37.0, "std": 0.5, "n": 3},
          "acc_std": {"mean": 32.0, "std": 0.4},
          "group_acc": null,
          "per_class_acc": {"airplane": {"mean": 90.0, "std": 1.0}},
          "paper": {"total_acc": 37.6, "acc_std": 32.4, "group_acc": null,
                    "per_class_acc": {"airplane": 90.6}}}]}}

  ``device``, ``torch``, ``commit`` and ``command`` may also be lists (one
  entry per seed file merged), and a wall time may be a ``{"mean", "std"}``
  dict. Accuracies are in percent, as in the paper.

* a distillation speed measurement (``benchmarks/distill_speed.py``), with a
  ``"runs"`` list of ``{"method", "ipc", "s_per_it" or
  "s_per_expert_epoch", "peak_gib", ...}``.

Only the top level of the folder is read (per-seed files in subfolders are
merged into the top-level file by the benchmark script).
"""

from __future__ import annotations

import json
import math
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from render_markdown import markdown_to_rst  # noqa: E402

#: Result files whose script writes a Markdown report beside them, shown as it is.
REPORTED = (
    "compare_official",
    "fit_speed",
    "compare_demo",
    "sm_sweep",
    "scale_out",
    "selection_speed",
)
#: Titles of the known tables, in the order they are shown.
TABLE_TITLES = {
    "table1": "Table 1: ConvNet3 trained directly on the original or a distilled set",
    "table2": "Table 2: the two-stage model, original data in stage 1",
    "table3": "Table 3: which data each stage trains on",
    "baselines": "Baselines a practitioner would try",
    "extra": "Other two-stage variants (not in the paper)",
    "dm": "Distribution matching: DM and IDM (not in the paper)",
    "backbone": "Decoupled training and the shared-backbone two-stage model (not in the paper)",
    "soft": "Soft labels: one student recipe on every small set, hard and soft labels "
    "(not in the paper)",
    "coreset": "Coresets under hard labels (not in the paper)",
    "fast": "The fast settings (bf16 + compiled), beside the rows above",
}
MISSING = "n/a"
NO_RESULTS = (
    "No results have been committed yet: ``benchmarks/results/`` holds no "
    "``*.json`` file. Run ``benchmarks/reproduce_paper.py`` (or "
    "``benchmarks/distill_speed.py``) and commit its JSON output to fill "
    "this page."
)
SUMMARY_HEADER = [
    "Name",
    "Images",
    "Total acc (%)",
    "Paper",
    "Diff.",
    "Acc Std (%)",
    "Paper",
    "Diff.",
    "Group acc (%)",
    "Trained on",
]


# -- formatting helpers ---------------------------------------------------------------
def _number(value):
    """``value`` as a finite float, or None."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _stat(entry, key):
    """``(mean, std)`` of ``entry[key]``, a ``{"mean", "std", "n"}`` dict or a number.

    The std is None when absent or when the mean is over a single run.
    """
    value = entry.get(key) if isinstance(entry, dict) else None
    if isinstance(value, dict):
        std = _number(value.get("std"))
        if value.get("n") == 1:
            std = None
        return _number(value.get("mean")), std
    return _number(value), None


def format_mean_std(mean, std) -> str:
    """``"37.6 ± 0.4"``, ``"37.6"`` without a std, "n/a" without a mean.

    Examples
    --------
    >>> format_mean_std(37.61, 0.449), format_mean_std(37.6, None), format_mean_std(None, 1)
    ('37.6 ± 0.4', '37.6', 'n/a')
    """
    if mean is None:
        return MISSING
    return f"{mean:.1f}" if std is None else f"{mean:.1f} ± {std:.1f}"


def format_difference(mean, paper) -> str:
    """Measured minus paper, signed; "n/a" if either is missing.

    Examples
    --------
    >>> format_difference(38.8, 37.6), format_difference(36.0, 36.3), format_difference(1.0, None)
    ('+1.2', '-0.3', 'n/a')
    """
    if mean is None or paper is None:
        return MISSING
    return f"{mean - paper:+.1f}"


_SPECIAL = re.compile(r"([\\`*_|\[\]<>])")
_LIST_START = re.compile(r"^([-+*#]|\d+[.)]|[a-zA-Z][.)]|\(\w+\))(\s|$)")


def escape(text) -> str:
    """Make arbitrary text safe as inline reStructuredText (e.g. in a table cell).

    Examples
    --------
    >>> print(escape("GM *distilled* | ipc_10"))
    GM \\*distilled\\* \\| ipc\\_10
    >>> print(escape("1. run"))  # would otherwise start an enumerated list
    \\1. run
    """
    text = " ".join(str(text).split())
    if not text:
        return MISSING
    text = _SPECIAL.sub(r"\\\1", text)
    if _LIST_START.match(text):
        text = "\\" + text
    return text


def _as_list(value) -> list[str]:
    """A str, a list of them, or nothing, as a list of non-empty strings."""
    if value is None:
        return []
    items = value if isinstance(value, (list, tuple)) else [value]
    return [str(item) for item in items if item is not None and str(item).strip()]


def _joined(value) -> str:
    items = _as_list(value)
    return ", ".join(escape(item) for item in items) if items else MISSING


def _list_table(header, rows, *, title=None, widths=None) -> list[str]:
    lines = [f".. list-table:: {title}" if title else ".. list-table::", "   :header-rows: 1"]
    if widths:
        lines.append(f"   :widths: {' '.join(str(w) for w in widths)}")
    lines.append("")
    for row in [header, *rows]:
        for i, cell in enumerate(row):
            lines.append(f"   {'*' if i == 0 else ' '} - {cell}")
    lines.append("")
    return lines


def _heading(text, char) -> list[str]:
    text = escape(text)
    return [text, char * max(len(text), 3), ""]


def _literal(label, text_lines) -> list[str]:
    lines = [f"{label}::", ""]
    lines += [f"    {line}" for line in text_lines]
    return lines + [""]


def _run_header(result, fields) -> list[str]:
    """Device, torch and ``fields`` (label, text) as a field list, then the command(s)."""
    lines = [f":Device: {_joined(result.get('device'))}", f":torch: {_joined(result.get('torch'))}"]
    lines += [f":{label}: {text}" for label, text in fields] + [""]
    commands = _as_list(result.get("command"))
    if commands:
        lines += _literal("Command" if len(commands) == 1 else "Commands", commands)
    return lines


def _percent(value):
    """A fraction as a percentage, or None."""
    value = _number(value)
    return None if value is None else 100 * value


# -- reproduction tables -----------------------------------------------------------------
def summary_rows(rows) -> list[list[str]]:
    """Name, images, total acc, paper, difference, Acc Std, paper, difference, group acc."""
    out = []
    for row in rows:
        if not isinstance(row, dict):
            continue
        paper = row.get("paper") if isinstance(row.get("paper"), dict) else {}
        total, total_std = _stat(row, "total_acc")
        spread, spread_std = _stat(row, "acc_std")
        group, group_std = _stat(row, "group_acc")
        paper_total = _number(paper.get("total_acc"))
        paper_spread = _number(paper.get("acc_std"))
        paper_group = _number(paper.get("group_acc"))
        images = row.get("train_images")
        group_cell = format_mean_std(group, group_std)
        if paper_group is not None:
            group_cell += f" (paper {paper_group:.1f})"
        out.append(
            [
                escape(row.get("name", MISSING)),
                str(images)
                if isinstance(images, int) and not isinstance(images, bool)
                else MISSING,
                format_mean_std(total, total_std),
                MISSING if paper_total is None else f"{paper_total:.1f}",
                format_difference(total, paper_total),
                format_mean_std(spread, spread_std),
                MISSING if paper_spread is None else f"{paper_spread:.1f}",
                format_difference(spread, paper_spread),
                group_cell,
                escape(", ".join(str(d) for d in _as_list(row.get("trained_on")))) or MISSING,
            ]
        )
    return out


def per_class_rows(rows):
    """Header and rows of per-class accuracy (mean ± std), classes in first-seen order."""
    classes = []
    for row in rows:
        per_class = row.get("per_class_acc") if isinstance(row, dict) else None
        if isinstance(per_class, dict):
            classes += [c for c in per_class if c not in classes]
    if not classes:
        return None, []
    out = []
    for row in rows:
        if not isinstance(row, dict):
            continue
        per_class = row.get("per_class_acc")
        per_class = per_class if isinstance(per_class, dict) else {}
        out.append(
            [escape(row.get("name", MISSING))]
            + [format_mean_std(*_stat(per_class, c)) for c in classes]
        )
        paper = row.get("paper") if isinstance(row.get("paper"), dict) else {}
        paper_classes = paper.get("per_class_acc")
        if isinstance(paper_classes, dict) and paper_classes:
            out.append(
                ["(paper)"]
                + [format_mean_std(_number(paper_classes.get(c)), None) for c in classes]
            )
    return ["Name", *(escape(c) for c in classes)], out


def render_table(key, rows) -> list[str]:
    """A heading, the summary table and the per-class table of one paper table."""
    lines = _heading(TABLE_TITLES.get(key, str(key)), "~")
    if not isinstance(rows, list) or not rows:
        return [*lines, "No rows.", ""]
    lines += _list_table(
        SUMMARY_HEADER, summary_rows(rows), widths=[20, 7, 12, 7, 7, 12, 7, 7, 14, 9]
    )
    header, class_rows = per_class_rows(rows)
    if class_rows:
        lines += _list_table(header, class_rows, title="Per-class accuracy (%)")
    return lines


def _wall_times(times) -> list[str]:
    if not isinstance(times, dict) or not times:
        return []
    rows = []
    for stage, value in times.items():
        if isinstance(value, dict):
            cell = format_mean_std(*_stat({"t": value}, "t"))
        else:
            cell = MISSING if _number(value) is None else f"{_number(value):.1f}"
        rows.append([escape(stage), cell])
    return _list_table(["Stage", "Wall time (s)"], rows, title="Wall time per stage")


def render_reproduction(name, result) -> list[str]:
    """Run metadata, wall times and tables of one ``reproduce_paper.py`` file."""
    profile = result.get("profile")
    lines = _heading(f"Reproduction: {name}" + (f" (profile {profile})" if profile else ""), "-")
    if profile in PROFILE_NOTES:
        lines += [PROFILE_NOTES[profile], ""]
    seeds = _as_list(result.get("seeds"))
    lines += _run_header(
        result,
        [
            ("Commit", _joined(result.get("commit"))),
            ("Seeds", ", ".join(escape(s) for s in seeds) if seeds else MISSING),
        ],
    )
    incomplete = _as_list(result.get("incomplete_seeds"))
    if incomplete:
        lines += [
            f"**Incomplete:** seed(s) {', '.join(escape(s) for s in incomplete)} stopped "
            "before every row was done (a time limit); the rows shown are finished.",
            "",
        ]
    missing = result.get("missing")
    if isinstance(missing, dict) and missing:
        lines += [
            "**Rows still missing:** "
            + "; ".join(
                f"{escape(seed)}: {escape(', '.join(str(r) for r in rows))}"
                for seed, rows in missing.items()
            ),
            "",
        ]
    settings = result.get("settings")
    if settings:
        lines += _literal("Settings", [json.dumps(settings, sort_keys=True, default=str)])
    groups = result.get("groups")
    if groups:
        lines += [f":Groups found: {escape(json.dumps(groups, default=str))}", ""]
    lines += _wall_times(result.get("wall_time_s"))
    tables = result.get("tables")
    if not isinstance(tables, dict) or not tables:
        return lines + ["This file holds no tables.", ""]
    order = [k for k in TABLE_TITLES if k in tables] + [k for k in tables if k not in TABLE_TITLES]
    for key in order:
        lines += render_table(key, tables[key])
    return lines


# -- speed measurements ---------------------------------------------------------------------
def _seconds(value, digits=4):
    value = _number(value)
    return MISSING if value is None else f"{value:.{digits}f}"


def render_speed(name, result) -> list[str]:
    """One ``distill_speed.py`` file: seconds per iteration and peak GPU memory."""
    lines = _heading(f"Distillation speed: {name}", "-")
    lines += _run_header(
        result,
        [
            (
                "Profile",
                f"{_joined(result.get('profile'))} ({_joined(result.get('n_images'))} "
                f"images, ConvNet width {_joined(result.get('width'))})",
            ),
        ],
    )
    rows = []
    for run in result.get("runs") or []:
        if not isinstance(run, dict):
            continue
        expert = "s_per_expert_epoch" in run
        per = run.get("s_per_expert_epoch") if expert else run.get("s_per_it")
        total = run.get("default_buffer_s") if expert else run.get("default_total_s")
        rows.append(
            [
                escape(run.get("method", MISSING)),
                escape(run.get("ipc", MISSING)),
                f"{_seconds(per)} {'per expert epoch' if expert else 'per iteration'}",
                _seconds(run.get("peak_gib"), 2),
                _seconds(total, 0),
            ]
        )
    if rows:
        lines += _list_table(
            [
                "Method",
                "ipc",
                "Seconds",
                "Peak GPU memory (GiB)",
                "Extrapolated to the defaults (s)",
            ],
            rows,
        )
    else:
        lines += ["This file holds no runs.", ""]
    return lines


def render_search(name, result) -> list[str]:
    """One ``search_two_stage.py`` file: the chosen configuration and the candidates."""
    lines = _heading(f"Two-stage configuration chosen on validation folds: {name}", "-")
    note = PROFILE_NOTES.get(str(result.get("profile")))
    if note:
        lines += [note, ""]
    test = result.get("test") or {}
    lines += _run_header(
        result,
        [
            ("Commit", _joined(result.get("commit"))),
            (
                "Folds",
                f"{_joined(result.get('folds'))} stratified folds of the training set, "
                "balanced-accuracy scorer; the test set is used once",
            ),
            ("Chosen", escape(result.get("best_params", MISSING))),
            (
                "On the test set",
                f"total {_seconds(test.get('total_acc'), 1)} %, Acc Std "
                f"{_seconds(test.get('acc_std'), 1)}, group "
                f"{_seconds(test.get('group_acc'), 1)} %",
            ),
        ],
    )
    rows = [
        [
            escape(c.get("params", MISSING)),
            format_mean_std(_percent(c.get("mean")), _percent(c.get("std"))),
        ]
        for c in result.get("cv_results") or []
        if isinstance(c, dict)
    ]
    rows += [
        [
            escape(f"baseline (one network): {b.get('name', MISSING)}"),
            format_mean_std(_percent(b.get("mean")), _percent(b.get("std"))),
        ]
        for b in result.get("cv_baselines") or []
        if isinstance(b, dict)
    ]
    if rows:
        lines += _list_table(["Candidate", "CV balanced accuracy (%)"], rows)
    if result.get("validation_verdict"):
        lines += [escape(str(result["validation_verdict"])), ""]
    baselines = [
        [
            escape(b.get("name", MISSING)),
            format_mean_std(*_stat(b, "total_acc")),
            format_mean_std(*_stat(b, "acc_std")),
        ]
        for b in result.get("baselines_on_test") or []
        if isinstance(b, dict)
    ]
    if baselines:
        lines += _list_table(
            ["Baseline (same profile, test set)", "Total acc (%)", "Acc Std (%)"], baselines
        )
    return lines


def render_result(name, result, markdown=None) -> list[str]:
    """Sections for one result file, by its kind (``markdown``: its report, if any)."""
    if markdown is not None and (result.get("kind") in REPORTED or name.startswith(REPORTED)):
        # A script that writes its own report: shown as it is.
        return markdown_to_rst(markdown, "-").splitlines() + [""]
    if "best_params" in result:
        return render_search(name, result)
    if "tables" in result or "runs" not in result:
        return render_reproduction(name, result)
    return render_speed(name, result)


#: Profiles of ``reproduce_paper.py`` in the order they are shown; others follow.
PROFILE_ORDER = ("paper", "standard", "cpu", "smoke")
PROFILE_NOTES = {
    "smoke": (
        "The ``smoke`` profile runs the script on digits-LT with tiny settings "
        "to check that it works; its figures say nothing about the method."
    ),
    "cpu": (
        "The ``cpu`` profile is the paper's data with a budget reduced to run on "
        "two CPU cores (narrower network, far fewer iterations and epochs); it is "
        "not the paper's setting."
    ),
}


def _sort_key(item):
    """Reproductions first (by profile), then speed files, then unreadable files."""
    name, result = item
    if not isinstance(result, dict):
        return (2, 0, name)
    if "best_params" in result:
        return (1, 0, name)
    if "tables" in result or "runs" not in result:
        profile = str(result.get("profile"))
        rank = PROFILE_ORDER.index(profile) if profile in PROFILE_ORDER else len(PROFILE_ORDER)
        return (0, rank, name)
    return (1, 0, name)


def render_results(results_dir) -> tuple[str, list[str]]:
    """reStructuredText for every ``*.json`` in ``results_dir``, and problems found.

    Examples
    --------
    >>> text, problems = render_results("/nonexistent")
    >>> text.startswith("No results have been committed yet"), problems
    (True, [])
    """
    results_dir = Path(results_dir)
    files = sorted(results_dir.glob("*.json")) if results_dir.is_dir() else []
    if not files:
        return NO_RESULTS + "\n", []
    loaded, problems = [], []
    for path in files:
        try:
            result = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            problems.append(f"could not read {path.name}: {exc}")
            result = f"This file could not be read: {escape(exc)}"
        else:
            if not isinstance(result, dict):
                problems.append(f"{path.name} does not hold a JSON object")
                result = "This file does not hold a JSON object."
        loaded.append((path.name, result))
    lines = []
    for name, result in sorted(loaded, key=_sort_key):
        if isinstance(result, dict):
            report = results_dir / f"{Path(name).stem}.md"
            lines += render_result(
                Path(name).stem,
                result,
                report.read_text(encoding="utf-8") if report.exists() else None,
            )
        else:
            lines += [*_heading(name, "-"), result, ""]
    return "\n".join(lines).rstrip() + "\n", problems


def write_results_page(results_dir, target) -> list[str]:
    """Write the tables to ``target`` (only when they changed); return problems."""
    text, problems = render_results(results_dir)
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    if not target.exists() or target.read_text(encoding="utf-8") != text:
        target.write_text(text, encoding="utf-8")
    return problems


if __name__ == "__main__":
    default = Path(__file__).resolve().parents[1] / "benchmarks" / "results"
    text, problems = render_results(sys.argv[1] if len(sys.argv) > 1 else default)
    print(text)
    for problem in problems:
        print(f"warning: {problem}", file=sys.stderr)
