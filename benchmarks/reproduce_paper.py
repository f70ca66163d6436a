"""Reproduce the paper's Tables 1-3 and Figure 1 on CIFAR10-LT, beside baselines.

Every table is a list of declarations (``ROWS`` and ``FIGURES`` below, ``SETS``
and ``NETWORKS`` in ``ltdd_bench/paper_sets.py``; their types in
``ltdd_bench/declarations.py``): each row
names its table, the estimator that produces it (a recipe, from the public
API of ``sklearn_ltdd`` and imbalanced-learn's samplers), the data it fits
on and the sets it needs. Adding a method's rows means adding declarations;
the runner resolves each set and shared network once per seed. One run
covers one or more seeds of one profile (``ltdd_bench/profiles.py``) and
writes

* ``<out>/<profile>/seed<N>.json``: every row of that seed (all figures,
  device, torch version, commit, command, wall time per stage);
* ``<out>/<profile>.json`` and ``<out>/<profile>.md``: all seed files of the
  profile merged (mean +- std over seeds) beside the paper's figures
  (``benchmarks/report.py`` does only this);
* ``<out>/<profile>_figure1_<data>.png``: Figure 1 (t-SNE + centroids) for
  balanced, long-tailed and distilled training data (with ``--figure``).

Distillations run in checkpointed chunks under ``--artifacts``: a finished
checkpoint is the distilled set and is reused, an unfinished one is
continued exactly. Rows already in a seed's file (``--resume-from``) are
kept, and ``--time-limit`` stops in time, so the tables fill in over
several runs (GPU windows, see ``campaign.py``).

Examples
--------
python benchmarks/reproduce_paper.py --profile smoke
python benchmarks/reproduce_paper.py --profile paper --seeds 0 --source ../shared/data/cifar10
python benchmarks/report.py paper
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))  # ltdd_bench, also when this file is imported by path

from ltdd_bench.chunks import export_artifacts
from ltdd_bench.common import (
    Budget,
    OutOfTime,
    environment,
    load_data,
    write_json,
)
from ltdd_bench.declarations import Declarations, Figure, Row, Shared
from ltdd_bench.paper_sets import (
    FAST,
    LA,
    LA_FLIP,
    NETWORKS,
    SETS,
    coreset_rows,
    dm_rows,
    heads,
    on_set,
    original_plus,
    random_label,
    ros_epochs,
    soft_two_stage_row,
    student_rows,
)
from ltdd_bench.profiles import PROFILES, changed_settings
from ltdd_bench.runner import run_seed, seed_saver
from ltdd_bench.tables import merge, paper_row  # noqa: F401  (paper_row: for tests)
from sklearn_ltdd import DecoupledClassifier, TwoStageClassifier
from sklearn_ltdd.metrics import format_long_tail_table
from sklearn_ltdd.nets import LogitAverage

#: Issue 28: statistics matching with the label as its recovery's target (the default), and
#: with the class's mean probabilities mixed with the label (kinder to the tail).
SM_HARD = "SM (hard cross-entropy target)"
SM_CLASS_MEAN = "SM (class-mean target)"
#: Issue 28: statistics matching with the settings chosen by cross-validation on the training
#: data (``student_sweep.py --grid sm_cv``; the digits profiles' ``sm_cv``).
SM_CV = "SM (settings chosen by cross-validation)"
ROWS = [
    # The paper's rows without a distilled set, then its baselines and issue 7/14 rows.
    Row("table1", "Original", Shared("original")),
    Row(
        ("table2", "table3"),
        "Original + Original",
        lambda c: c.two_stage(c.frozen("group_ce"), "original", c.net()),
    ),
    Row("baselines", "Class-balanced CE (Cui 2019)", lambda c: c.net(criterion="class_balanced")),
    Row("baselines", "Logit adjustment (Menon 2021)", lambda c: c.net(**LA)),
    Row("baselines", "Logit adjustment + crop/flip", Shared("la_flip")),
    Row("baselines", "CE + crop/flip", lambda c: c.net(augmentation="crop_flip")),
    Row(
        "baselines",
        lambda c: f"Random over-sampling ({ros_epochs(c)} epochs)",
        lambda c: c.net(ros_epochs(c)),
        data="ros",
    ),
    Row(
        "baselines",
        lambda c: f"Random {c.ipc} real images per class",
        lambda c: c.net("distilled_epochs"),
        data="random",
    ),
    Row(
        "extra",
        "Original(LA+flip) + Original(LA+flip)",
        soft_routing=True,
        model=lambda c: c.two_stage(c.frozen("group_la_flip"), "original", c.net(**LA_FLIP)),
    ),
    Row(
        "extra",
        "Original(CE) + Original(LA+flip)",
        soft_routing=True,
        model=lambda c: c.two_stage(c.frozen("group_ce"), "original", c.net(**LA_FLIP)),
    ),
    Row(
        "backbone",
        "cRT (Kang 2020)",
        lambda c: DecoupledClassifier(c.frozen("original"), method="crt", random_state=c.seed),
    ),
    Row(
        "backbone",
        "tau-normalisation, tau=1 (Kang 2020)",
        lambda c: DecoupledClassifier(c.frozen("original"), method="tau", tau=1.0),
    ),
    Row(
        "backbone",
        "cRT on the LA+flip backbone",
        lambda c: DecoupledClassifier(c.frozen("la_flip"), method="crt", random_state=c.seed),
    ),
    Row(
        "backbone",
        "Backbone(LA+flip) + heads: original / original",
        heads("original"),
        soft_routing=True,
    ),
    # Gradient matching (DC).
    Row("table1", "GM Distilled", on_set("gm"), data="gm"),
    Row(("table2", "table3"), "Original + GM Distilled", original_plus("gm"), needs=("gm",)),
    Row(
        "table3",
        "GM Distilled + GM Distilled",
        data="original",
        needs=("gm",),
        model=lambda c: TwoStageClassifier(
            grouper=c.groups(),
            group_estimator=c.evaluator("gm"),
            class_estimator=c.evaluator("gm"),
            stage1_data=c.sampler("gm"),
            stage2_data=c.sampler("gm"),
            random_state=c.seed,
        ),
    ),
    Row(
        "extra",
        "Original(LA+flip) + GM(DSA)",
        needs=("gm",),
        soft_routing=True,
        model=lambda c: c.two_stage(
            c.frozen("group_la_flip"), "gm", c.net("dsa_epochs", augmentation="dsa")
        ),
    ),
    Row(
        "backbone",
        "Backbone(LA+flip) + heads: original / GM",
        heads("gm"),
        needs=("gm",),
        soft_routing=True,
    ),
    Row(
        "backbone",
        "Backbone(LA+flip) fine-tuned: original / GM",
        heads("gm", fine_tune=True),
        needs=("gm",),
        soft_routing=True,
    ),
    # Trajectory matching (MTT).
    Row("table1", "MTT Distilled", on_set("mtt"), data="mtt"),
    Row("table2", "Original + MTT Distilled", original_plus("mtt"), needs=("mtt",)),
    Row(
        "backbone",
        "Backbone(LA+flip) + heads: original / MTT",
        heads("mtt"),
        needs=("mtt",),
        soft_routing=True,
    ),
    # Distribution matching (issue 15).
    *dm_rows("DM", "dm"),
    *dm_rows("IDM", "idm"),
    *dm_rows("IDM (balanced queue)", "idm_balanced_queue"),
    # Soft labels (issue 22): the teacher, and every small set under one student recipe.
    Row("baselines", "Logit adjustment + mixup", lambda c: c.net(**LA, batch_mixing="mixup")),
    Row("baselines", "Logit adjustment + CutMix", lambda c: c.net(**LA, batch_mixing="cutmix")),
    Row(
        "soft",
        lambda c: (
            f"Teacher: BN ConvNet3, {c.p['teacher'].get('name', 'LA + mixup/CutMix')}"
            f", {c.p['teacher']['epochs']} epochs"
        ),
        Shared("teacher"),
        select="soft",
    ),
    Row(
        "soft",
        "Teachers: two of the recipe above (seeds s and s + 100), mean logits",
        lambda c: LogitAverage([c.frozen("teacher"), c.frozen("teacher2")]),
        select="soft_teachers",
    ),
    *student_rows(random_label, "random"),
    *student_rows(SM_CLASS_MEAN, "sm"),
    *student_rows(SM_HARD, "sm_hard"),
    *student_rows(SM_CV, "sm_cv", select="soft_cv"),
    # Issue 28's tail target, less one student's luck (asked for by name: 9 fits a seed).
    *(
        Row(
            "soft_students",
            (lambda c, f=label: f"{f(c) if callable(f) else f}, soft labels"),
            lambda c: c.student("teacher"),
            data=key,
            students=3,
            asked_only=True,
        )
        for label, key in ((random_label, "random"), (SM_CLASS_MEAN, "sm"), (SM_HARD, "sm_hard"))
    ),
    soft_two_stage_row(lambda c: random_label(c)[0].lower() + random_label(c)[1:], "random"),
    soft_two_stage_row(SM_CLASS_MEAN, "sm"),
    soft_two_stage_row(SM_HARD, "sm_hard"),
    *student_rows("DM", "dm", select="soft_dm"),
    *student_rows("IDM", "idm", select="soft_idm"),
    *student_rows("IDM (balanced queue)", "idm_balanced_queue", select="soft_idm"),
    *student_rows("GM", "gm", select="soft_bilevel"),
    *student_rows("MTT", "mtt", select="soft_bilevel"),
    # Coresets under hard labels (issue 24), beside the hard-label rows of the soft table.
    *coreset_rows(),
    # The fast settings (issue 23), each beside its default row in another table.
    Row("fast", "Original", lambda c: c.net(**FAST)),
    Row("fast", "Logit adjustment (Menon 2021)", lambda c: c.net(**LA, **FAST)),
    Row("fast", "Logit adjustment + crop/flip", lambda c: c.net(**LA_FLIP, **FAST)),
    Row("fast", "GM Distilled", lambda c: c.evaluator("gm_fast", **FAST), data="gm_fast"),
    Row("fast", "DM Distilled", lambda c: c.evaluator("dm_fast", **FAST), data="dm_fast"),
    Row(
        "fast",
        lambda c: f"{random_label(c)}, soft labels",
        lambda c: c.student("teacher", **FAST),
        data="random",
    ),
]

# Issue 29: other students of the same teacher, on the SM set (the label as its target, the
# package's default) and on random real images.
# In the order wanted: a ResNet-18 student takes 48 min on two CPU cores (pickled every ten
# minutes on the standard profiles, row_checkpoint_s, and resumed from there).
# VGG-11 twice: the gradient-matching code's (instance norm) and EDC's student (vgg11_bn,
# batch norm; EDC's CIFAR-10 code trains every student with the one recipe we follow).
STUDENTS = [
    ("alexnet", "AlexNet", {}),
    ("vgg11", "VGG-11 (batch norm)", {"module__norm": "batchnorm"}),
    ("resnet18", "ResNet-18", {}),
    ("vgg11", "VGG-11", {}),  # the instance-norm one last: 46 min, and not EDC's student
]
ROWS += [
    Row(
        "cross_arch",
        f"{label} student on the {what}, soft labels",
        lambda c, m=module, p=params: c.student("teacher", module=m, **p),
        data=key,
    )
    for module, label, params in STUDENTS
    for key, what in (("sm_hard", "SM set"), ("random", "random real images"))
]

FIGURES = [
    Figure("balanced", "balanced"),
    Figure("original", "original"),
    Figure("distilled", "gm", epochs="distilled_epochs"),
]

DECLARATIONS = Declarations(rows=ROWS, sets=SETS, networks=NETWORKS, figures=FIGURES)
TABLE_KEYS = sorted({row.key for row in ROWS}, key=lambda k: (len(k) > 1, k))


# -- the command line ----------------------------------------------------------------------------
def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--profile", choices=sorted(PROFILES), default="smoke")
    parser.add_argument(
        "--seeds", type=int, nargs="+", default=None, help="seeds to run (default: the profile's)"
    )
    parser.add_argument(
        "--tables",
        nargs="+",
        default=None,
        choices=TABLE_KEYS,
        help="which rows: 1, 2, 3 (the paper's tables), or a table's name "
        "(dm: the DM/IDM rows of Tables 1 and 2); default: every one whose distilled sets "
        "have their settings in the profile",
    )
    parser.add_argument(
        "--source",
        default=os.environ.get("SKLEARN_LTDD_CIFAR10"),
        help="CIFAR-10 hub id or local folder, or a payload .npz (benchmarks/payload.py)",
    )
    parser.add_argument("--device", default="auto")
    parser.add_argument("--out", default=str(HERE / "results"))
    parser.add_argument(
        "--artifacts",
        default=str(HERE / "artifacts"),
        help="distilled sets and their checkpoints (continued when present)",
    )
    parser.add_argument(
        "--experts-cache",
        default=None,
        help="joblib cache of MTT's expert trajectories (default: <artifacts>/<profile>/experts)",
    )
    parser.add_argument(
        "--resume-from",
        default=None,
        help="a results folder whose <profile>/seed<N>.json rows are kept "
        "and not recomputed (default: --out)",
    )
    parser.add_argument(
        "--time-limit",
        type=float,
        default=None,
        help="seconds this run may take; distillation stops in time and "
        "keeps its checkpoint, unfinished rows wait for the next run",
    )
    parser.add_argument(
        "--distill-iterations",
        type=int,
        default=None,
        help="at most this many distillation iterations in this run",
    )
    parser.add_argument(
        "--export-tar",
        default=None,
        help="after every checkpoint and figure, pack --artifacts into this tar",
    )
    parser.add_argument("--figure", action="store_true", help="also draw Figure 1")
    parser.add_argument("--figure-dir", default=None, help="where Figure 1 goes (default: --out)")
    parser.add_argument(
        "--no-merge",
        action="store_true",
        help="write the seed files only (merge later with report.py)",
    )
    parser.add_argument(
        "--merge-only",
        action="store_true",
        help="only merge the seed files already in --out (as report.py)",
    )
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    started = time.time()
    profile = PROFILES[args.profile]
    out = Path(args.out)
    if args.merge_only:
        merge(out, args.profile)
        return 0
    args.seeds = args.seeds if args.seeds is not None else profile["seeds"]
    args.tables, error = DECLARATIONS.runnable(profile, TABLE_KEYS, args.tables)
    if error:
        print(f"error: {error}, which profile {args.profile!r} lacks", file=sys.stderr)
        return 2
    resume = Path(args.resume_from or args.out)
    records = {}  # each seed's earlier record, whose rows are kept
    for seed in args.seeds:
        previous_path = resume / args.profile / f"seed{seed}.json"
        if previous_path.exists():
            records[seed] = json.loads(previous_path.read_text())
            # Kept rows (and stored sets) of other settings would mix in.
            changed = changed_settings(records[seed]["settings"], profile)
            if changed:
                print(
                    f"error: {previous_path} was made with other settings ({', '.join(changed)}"
                    f"): move it and {Path(args.artifacts) / args.profile} away first, so that"
                    " no row or stored set of the old settings is kept",
                    file=sys.stderr,
                )
                return 2
    budget = Budget.from_limit(args.time_limit, args.distill_iterations, started)
    (out / args.profile).mkdir(parents=True, exist_ok=True)
    export = (
        (lambda: export_artifacts(args.artifacts, args.export_tar)) if args.export_tar else None
    )
    start = time.perf_counter()
    data = load_data(profile, args.source)
    load_seconds = time.perf_counter() - start
    env = environment(args)
    print(
        f"profile {args.profile}: {len(data.y_train)} training images "
        f"{data.class_counts.tolist()}, device {env['device']}",
        flush=True,
    )
    stopped = None
    for seed in args.seeds:
        print(f"seed {seed}", flush=True)
        path = out / args.profile / f"seed{seed}.json"
        previous = records.get(seed)
        save = seed_saver(path, args, profile, env, seed, load_seconds)
        holder = {}

        def checkpoint(run, save=save):
            holder["run"] = run
            save(run)

        try:
            run = run_seed(
                DECLARATIONS,
                args,
                profile,
                data,
                seed,
                Path(args.artifacts) / args.profile,
                env,
                checkpoint,
                previous,
                budget,
                export,
            )
        except OutOfTime as exc:
            stopped = str(exc)
            print(f"stopped: {exc}; finished rows and checkpoints are saved", flush=True)
            if "run" in holder:
                save(holder["run"])
            elif previous is not None and not path.exists():
                write_json(path, previous)
            break
        save(run)
        print(
            format_long_tail_table([r for rows in run.rows.values() for r in rows], per_class=False)
        )
    if not args.no_merge:
        merge(out, args.profile)
    if stopped:
        print(f"incomplete: {stopped}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
