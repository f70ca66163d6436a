"""Seed files merged into one record per profile, and its Markdown report.

:func:`merge` reads every ``<out>/<profile>/seed<N>.json`` and writes
``<out>/<profile>.json`` (rows as mean and standard deviation over seeds,
beside the paper's figures) and ``<out>/<profile>.md`` (:func:`markdown`).
``benchmarks/report.py`` runs it from the command line.
"""

from __future__ import annotations

import json

import numpy as np

from .common import HERE, write_json
from .profiles import settings
from .students import add_students, students_markdown

PAPER_TABLES = json.loads((HERE / "paper_tables.json").read_text())
#: Published figures of the standard CIFAR10-LT benchmark (for ``standard`` profiles).
PUBLISHED_STANDARD = json.loads((HERE / "published_standard.json").read_text())

# The paper's row order (rows are recorded in another order: cheap ones first).
ROW_ORDER = {
    "table1": ["Original", "GM Distilled", "MTT Distilled"],
    "table2": ["Original + Original", "Original + GM Distilled", "Original + MTT Distilled"],
    "table3": ["Original + Original", "GM Distilled + GM Distilled", "Original + GM Distilled"],
}

#: Our table's rows -> the paper's (tables.json) table and row: the same names.
_PAPER_TABLES = {
    "table1": "table1_direct",
    "table2": "table2_two_stage",
    "table3": "table3_ablation",
}
PAPER_ROWS = {
    (t, name): (_PAPER_TABLES[t], name) for t, names in ROW_ORDER.items() for name in names
}


def paper_row(table, name, profile_name):
    key = PAPER_ROWS.get((table, name))
    if key is None or profile_name not in ("paper", "cpu"):
        return None
    for row in PAPER_TABLES[key[0]]:
        if row["dataset"] == key[1]:
            return {
                k: row.get(k)
                for k in ("train_images", "total_acc", "acc_std", "group_acc", "per_class_acc")
            }
    return None


def mean_std(values):
    """Mean, std and count of the finite ``values`` (None where there are none: a few-shot
    accuracy where no class has fewer than 20 training images is NaN)."""
    values = [v for v in values if v is not None and np.isfinite(v)]
    if not values:
        return None
    return {"mean": float(np.mean(values)), "std": float(np.std(values)), "n": len(values)}


def _runs(seed_record, key):
    """``key`` (commit or command) of every run of a seed file, oldest first (history
    entries without it, such as renames, are left out)."""
    history = seed_record.get("history", [])
    return [*(h[key] for h in history if key in h), seed_record[key]]


def merge(out, profile_name):
    """Merge the seed files of ``profile_name`` under ``out``; write and return the record."""
    files = sorted((out / profile_name).glob("seed*.json"))
    seeds = [json.loads(f.read_text()) for f in files]
    if not seeds:
        raise SystemExit(f"no seed files under {out / profile_name}")
    tables = {}
    found = [t for s in seeds for t in s["tables"]]
    for table in [*TITLES, *dict.fromkeys(t for t in found if t not in TITLES)]:
        names = []
        for s in seeds:
            names += [r["name"] for r in s["tables"].get(table, []) if r["name"] not in names]
        rows = []
        for name in names:
            reports = [r for s in seeds for r in s["tables"].get(table, []) if r["name"] == name]
            first = reports[0]
            rows.append(
                {
                    "name": name,
                    "train_images": first["train_images"],
                    "seeds": [
                        s["seed"]
                        for s in seeds
                        if any(r["name"] == name for r in s["tables"].get(table, []))
                    ],
                    "total_acc": mean_std([r["total_acc"] for r in reports]),
                    "balanced_acc": mean_std([r["balanced_acc"] for r in reports]),
                    "acc_std": mean_std([r["acc_std"] for r in reports]),
                    "group_acc": mean_std([r.get("group_acc") for r in reports]),
                    "few_shot": mean_std([r.get("few_shot") for r in reports]),
                    "per_class_acc": {
                        c: mean_std([r["per_class_acc"][c] for r in reports])
                        for c in first["per_class_acc"]
                    },
                    "seconds": mean_std([r.get("seconds") for r in reports]),
                    "groups": first.get("groups"),
                    "paper": paper_row(table, name, profile_name),
                    "trained_on": sorted(
                        {
                            r.get("device") or s["device"]
                            for s in seeds
                            for r in s["tables"].get(table, [])
                            if r["name"] == name
                        }
                    ),
                }
            )
        add_students(rows, seeds, table)
        if rows:
            tables[table] = rows
    merged = {
        "profile": profile_name,
        "settings": settings(seeds[0]["settings"]),
        "seeds": [s["seed"] for s in seeds],
        "device": sorted({s["device"] for s in seeds}),
        "torch": sorted({s["torch"] for s in seeds}),
        # Every run that added rows to a seed file (its history), not only the last.
        "commit": sorted({c for s in seeds for c in _runs(s, "commit")}),
        "command": list(dict.fromkeys(c for s in seeds for c in _runs(s, "command"))),
        "incomplete_seeds": [s["seed"] for s in seeds if s.get("complete") is False],
        "wall_time_s": {
            k: mean_std([s["wall_time_s"].get(k) for s in seeds])
            for k in dict.fromkeys(k for s in seeds for k in s["wall_time_s"])
        },
        "loaded_stages": sorted({k for s in seeds for k in _loaded(s)}),
        "groups": [s.get("groups") for s in seeds],
        "distillation": [s.get("distillation") for s in seeds],
        "figures": [s.get("figures") for s in seeds],
        "missing": {
            f"seed{s['seed']}": [
                f"{t}: {n}"
                for t, names in ROW_ORDER.items()
                for n in names
                if not any(r["name"] == n for r in s["tables"].get(t, []))
            ]
            for s in seeds
        },
        "tables": tables,
    }
    if pairs := {t: p for t in tables if (p := paired(seeds, t))}:
        merged["paired"] = pairs
    merged["missing"] = {k: v for k, v in merged["missing"].items() if v}
    write_json(out / f"{profile_name}.json", merged)
    (out / f"{profile_name}.md").write_text(markdown(merged))
    print(f"merged {len(seeds)} seed file(s) into {out / profile_name}.json and .md")
    return merged


def paired(seeds, table):
    """Each soft-label row of ``table`` minus the table's random real images with soft
    labels, seed by seed: total and few-shot accuracy (the images column says how many
    each set holds)."""

    def by_seed(name):
        return {
            s["seed"]: r for s in seeds for r in s["tables"].get(table, []) if r["name"] == name
        }

    names = list(dict.fromkeys(r["name"] for s in seeds for r in s["tables"].get(table, [])))
    control = next(
        (n for n in names if n.startswith("Random ") and n.endswith(", soft labels")), None
    )
    if control is None:
        return []
    base, out = by_seed(control), []
    for name in names:
        rows = by_seed(name)
        common = [k for k in rows if k in base]
        if name == control or not name.endswith(", soft labels") or not common:
            continue
        diffs = {
            key: [
                rows[k][key] - base[k][key]
                for k in common
                if None not in (rows[k].get(key), base[k].get(key))
            ]
            for key in ("total_acc", "few_shot")
        }
        out.append(
            {
                "name": name,
                "control": control,
                "seeds": common,
                "train_images": rows[common[0]]["train_images"],
                "control_images": base[common[0]]["train_images"],
                **{key: mean_std(d) for key, d in diffs.items()},
                "total_per_seed": diffs["total_acc"],
            }
        )
    return out


def _paired_markdown(rows):
    if not rows:
        return []
    lines = [
        f"Against {rows[0]['control']} (paired by seed: each seed's row minus the "
        "control's, points):",
        "",
        "| model | images (control's) | total acc | few-shot acc | total, per seed |",
        "|---|---:|---:|---:|---|",
    ]
    for r in rows:
        per_seed = ", ".join(
            f"seed {k}: {_signed(d)}" for k, d in zip(r["seeds"], r["total_per_seed"])
        )
        lines.append(
            f"| {r['name']} | {r['train_images']} ({r['control_images']}) | "
            f"{_pm_signed(r['total_acc'])} | {_pm_signed(r['few_shot'])} | "
            f"{per_seed} |"
        )
    return lines + [""]


def _pm_signed(stat):
    if stat is None:
        return "-"
    sign = _signed(stat["mean"])
    return f"{sign} ± {stat['std']:.1f}" if stat["n"] > 1 else sign


def _signed(value):
    return f"{round(value, 1) + 0.0:+.1f}"  # 0.0, never -0.0


def _pm(stat):
    if stat is None:
        return "-"
    return f"{stat['mean']:.1f} ± {stat['std']:.1f}" if stat["n"] > 1 else f"{stat['mean']:.1f}"


def _short_device(name):
    """'NVIDIA H100 80GB HBM3' -> 'H100'; CPUs as 'CPU'."""
    if name.startswith("CPU"):
        return "CPU"
    return name.replace("NVIDIA ", "").split(" ")[0]


def _diff(stat, paper):
    if stat is None or paper is None:
        return "-"
    return f"{stat['mean'] - paper:+.1f}"


TITLES = {
    "table1": "Table 1: ConvNet3 trained on the original and on distilled sets (ipc=10)",
    "table2": "Table 2: two-stage model, stage 1 on the original data",
    "table3": "Table 3: which data each stage trains on",
    "baselines": "Baselines a practitioner would try (same ConvNet3 and budget)",
    "extra": "Two-stage models built from better parts (issue 7; not in the paper)",
    "backbone": "Decoupled training and the shared-backbone two-stage model (issue 14; "
    "not in the paper)",
    "soft": "Soft labels: one student recipe on every small set, with hard labels and with the "
    "teacher's soft labels (issues 22 and 28; the recipe and statistics matching's settings "
    "chosen on validation data; not in the paper)",
    "soft_students": "Soft labels, each set scored by three students (random_state seed, "
    "+ 1000, + 2000; their mean), less one student's luck (issue 28)",
    "soft_kd": "Soft labels as issue 22 measured them: the first student recipe ('kd': KL at "
    "temperature 4, SGD, DSA + CutMix, an instance-norm student) and a 100-epoch teacher; "
    "kept for reference (the first soft-labels table replaces it)",
    "coreset": "Coresets under hard labels: real images chosen per class, one student recipe "
    "(the profile's coreset_recipe where it names one; issue 24; not in the paper)",
    "fast": "The fast settings (bf16 + compiled): rows of the tables above, trained (and "
    "distilled) with precision='bf16', compile=True (issue 23)",
    "cross_arch": "Other students: the SM set (the label as its target) and random real "
    "images with the teacher's soft labels, each network learning the same ConvNet3 "
    "teacher (issue 29)",
}


LOADED_NOTE = (
    "; a stage marked loaded was made by an earlier run, of this profile or another"
    " (its seconds are that fit's), and total counts only the runs that wrote the seed files"
)


def _loaded(seed) -> list:
    """The stages of ``seed``'s wall times that its runs loaded from ``--artifacts``
    instead of making (a network's stage is its name; a distilled set's, ``distill_<name>``)."""
    reused = set(seed.get("reused_artifacts") or ())
    return [
        k
        for k in seed.get("wall_time_s", {})
        if k in reused or (k.startswith("distill_") and k[len("distill_") :] in reused)
    ]


def markdown(merged):
    lines = (
        [
            f"# Results: profile `{merged['profile']}`",
            "",
            f"- seeds: {merged['seeds']}",
            f"- device: {', '.join(merged['device'])}",
            f"- torch: {', '.join(merged['torch'])}; commit: {', '.join(merged['commit'])}",
            f"- settings: `{json.dumps(merged['settings'])}`",
            "- commands:",
        ]
        + [f"  - `{c}`" for c in merged["command"]]
        + [
            "- wall time per stage (s, mean over seeds): "
            + ", ".join(
                f"{k} {v['mean']:.0f}" + (" (loaded)" if k in merged["loaded_stages"] else "")
                for k, v in merged["wall_time_s"].items()
                if v
            )
            + (LOADED_NOTE if merged["loaded_stages"] else ""),
            f"- groups (per seed): {merged['groups']}",
            f"- distillation runs (per seed; settings tried and outcome): "
            f"{json.dumps(merged.get('distillation'))}",
            "",
        ]
        + (
            [
                f"- **incomplete**: seed(s) {merged['incomplete_seeds']} stopped before "
                "every row was done (a time limit); the rows shown for them are finished",
                "",
            ]
            if merged.get("incomplete_seeds")
            else []
        )
        + (
            ["- **rows still missing** (the paper's tables):"]
            + [f"  - {seed}: {', '.join(rows)}" for seed, rows in merged["missing"].items()]
            + [""]
            if merged.get("missing")
            else []
        )
        + [
            "Accuracies in % on the balanced test set, mean ± std over seeds; "
            "'paper' is the paper's figure and 'diff' ours minus the paper's.",
            "",
        ]
    )
    if merged["profile"] != "paper":
        lines += [
            f"**Profile `{merged['profile']}` is not the paper's setting** (see its "
            "settings above: a narrower network, fewer epochs and iterations, or other "
            "data). Its figures show that the pipeline runs end to end; their "
            "differences from the paper's are expected and are not a reproduction.",
            "",
        ]
    for table, rows in merged["tables"].items():
        lines += [
            f"## {TITLES.get(table, table)}",
            "",
            "| model | images | total acc | paper | diff | Acc Std | paper | diff "
            "| group acc | paper | few-shot acc | trained on |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
        ]
        for r in rows:
            paper = r["paper"] or {}
            lines.append(
                f"| {r['name']} | {r['train_images']} | {_pm(r['total_acc'])} | "
                f"{paper.get('total_acc', '-')} | "
                f"{_diff(r['total_acc'], paper.get('total_acc'))} | "
                f"{_pm(r['acc_std'])} | {paper.get('acc_std', '-')} | "
                f"{_diff(r['acc_std'], paper.get('acc_std'))} | {_pm(r['group_acc'])} | "
                f"{paper.get('group_acc') or '-'} | {_pm(r['few_shot'])} | "
                f"{', '.join(_short_device(d) for d in r.get('trained_on', [])) or '-'} |"
            )
        classes = list(rows[0]["per_class_acc"])
        lines += [
            "",
            "Per-class accuracy (%):",
            "",
            "| model | " + " | ".join(classes) + " |",
            "|---|" + "---:|" * len(classes),
        ]
        for r in rows:
            lines.append(
                f"| {r['name']} | "
                + " | ".join(f"{r['per_class_acc'][c]['mean']:.1f}" for c in classes)
                + " |"
            )
            if r["paper"]:
                lines.append(
                    "| (paper) | "
                    + " | ".join(f"{r['paper']['per_class_acc'].get(c, '-')}" for c in classes)
                    + " |"
                )
        lines.append("")
        lines += students_markdown(rows)
        lines += _paired_markdown(merged.get("paired", {}).get(table, []))
    if "standard" in merged["profile"]:
        lines += published_markdown(merged)
    return "\n".join(lines)


def find_row(merged, name):
    """The row called ``name`` in any table of ``merged``; None where there is none."""
    for rows in merged["tables"].values():
        for r in rows:
            if r["name"] == name:
                return r
    return None


def published_markdown(merged):
    """The published table of the standard benchmark beside our rows of the same method."""
    ipc = str(merged["settings"].get("ipc"))
    source = PUBLISHED_STANDARD
    lines = [
        f"## Beside the published CIFAR10-LT table (ipc {ipc})",
        "",
        source["about"],
        "",
        "| published method | labels | published | ours (this table's row) | ours | "
        "ours - published | source; protocol |",
        "|---|---|---:|---|---:|---:|---|",
    ]
    for row in source["rows"]:
        value = row["ipc"].get(ipc)
        if value is None:
            continue
        name = row["ours"].format(ipc=ipc) if row["ours"] else None
        ours = find_row(merged, name) if name else None
        stat = ours["total_acc"] if ours else None
        lines.append(
            f"| {row['method']} | {row['labels']} | {value} | {name or '-'} | "
            f"{_pm(stat)} | {_diff(stat, value)} | {row['source']}; "
            f"{row['protocol']} |"
        )
    if ipc == "10":
        cross = source["cross_architecture"]
        lines += [
            "",
            cross["about"],
            "",
            "| student | published | ours (row) | ours | ours - published |",
            "|---|---:|---|---:|---:|",
        ]
        for row in cross["rows"]:
            ours = find_row(merged, row["ours"])
            stat = ours["total_acc"] if ours else None
            lines.append(
                f"| {row['student']} | {row['value']} | {row['ours']} | {_pm(stat)} | "
                f"{_diff(stat, row['value'])} |"
            )
    return lines + [""]
