"""Reproduce the paper's Tables 1-3 and Figure 1 on CIFAR10-LT, beside baselines.

Thin by design: every model is built from the public API of ``sklearn_ltdd``
(and imbalanced-learn's samplers for the baselines). One run covers one or
more seeds of one profile and writes

* ``<out>/<profile>/seed<N>.json``: every row of that seed (all figures,
  device, torch version, commit, command, wall time per stage);
* ``<out>/<profile>.json`` and ``<out>/<profile>.md``: all seed files of the
  profile merged (mean +- std over seeds) beside the paper's figures, so
  seeds run on different machines or sessions are merged by rerunning with
  ``--merge-only``;
* ``<out>/<profile>_figure1_<data>.png``: Figure 1 (t-SNE + centroids) for
  balanced, long-tailed and distilled training data (with ``--figure``).

Distillations run in checkpointed chunks under ``--artifacts``: a finished
checkpoint is the distilled set and is reused, an unfinished one is
continued exactly. Rows already in a seed's file (``--resume-from``) are
kept, and ``--time-limit`` stops in time, so the tables fill in over
several runs (GPU windows, see ``campaign.py``).

Profiles
--------
paper     CIFAR10-LT, r=100, at most 1,000 images per class (2,478 images),
          ConvNet3 (width 128), 300 epochs, GM 1000 iterations, MTT 5000
          iterations with 100 experts: the paper's setting.
standard  The standard CIFAR10-LT (r=100, 12,406 images), 200 epochs.
cpu       The paper's data with a reduced budget that runs on two CPU cores
          (width 32, 30 epochs, 10 GM iterations, 100 MTT iterations).
smoke     digits-LT, tiny everything: the whole script in under a minute.

Examples
--------
python benchmarks/reproduce_paper.py --profile smoke
python benchmarks/reproduce_paper.py --profile paper --seeds 0 --source ../shared/data/cifar10
python benchmarks/reproduce_paper.py --profile paper --merge-only
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch
from imblearn.over_sampling import RandomOverSampler
from imblearn.under_sampling import RandomUnderSampler
from joblib import Memory
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression

from sklearn_ltdd import (
    ClassGrouper,
    ConvNetClassifier,
    DecoupledClassifier,
    DistributionMatchingDistiller,
    GradientMatchingDistiller,
    TrajectoryMatchingDistiller,
    TwoStageClassifier,
)
from sklearn_ltdd.datasets import load_cifar10_lt, load_digits_lt
from sklearn_ltdd.grouping import plot_class_groups
from sklearn_ltdd.metrics import format_long_tail_table, long_tail_report
from sklearn_ltdd.sampling import ImageSampler, PrecomputedSampler

HERE = Path(__file__).resolve().parent
PAPER_TABLES = json.loads((HERE / "paper_tables.json").read_text())

PROFILES = {
    "paper": {
        "data": "cifar10", "max_per_class": 1000, "width": 128, "epochs": 300,
        "distilled_epochs": 301, "dsa_epochs": 1001, "ipc": 10,
        "gm": {"n_iterations": 1000},
        "mtt": {"n_iterations": 5000, "n_experts": 100},
        "dm": {"n_iterations": 20000}, "idm": {"n_iterations": 20000},
        "seeds": [0, 1, 2],
    },
    "standard": {
        "data": "cifar10", "max_per_class": None, "width": 128, "epochs": 200,
        "distilled_epochs": 301, "dsa_epochs": 1001, "ipc": 10,
        "gm": {"n_iterations": 1000},
        "mtt": {"n_iterations": 5000, "n_experts": 100},
        "dm": {"n_iterations": 20000}, "idm": {"n_iterations": 20000},
        "seeds": [0],
    },
    "cpu": {
        "data": "cifar10", "max_per_class": 1000, "width": 32, "epochs": 30,
        "distilled_epochs": 300, "dsa_epochs": 300, "ipc": 10,
        "gm": {"n_iterations": 10, "outer_loop": 10, "inner_loop": 10},
        "mtt": {"n_iterations": 100, "n_experts": 5},
        "dm": {"n_iterations": 200}, "idm": {"n_iterations": 100, "network_interval": 10},
        "seeds": [0],
        "cpu_budget": True,
    },
    "smoke": {
        "data": "digits", "max_per_class": None, "width": 8, "epochs": 5,
        "distilled_epochs": 20, "dsa_epochs": 20, "ipc": 2,
        "gm": {"n_iterations": 2},
        "mtt": {"n_iterations": 2, "n_experts": 2, "syn_steps": 2, "max_start_epoch": 2,
                "zca": False, "lr_img": 1.0},
        "dm": {"n_iterations": 2}, "idm": {"n_iterations": 2, "network_interval": 1},
        "seeds": [0],
    },
}


# -- data ---------------------------------------------------------------------------
def _payload_module():
    """``benchmarks/payload.py``, imported by path (this file also runs as a module)."""
    spec = importlib.util.spec_from_file_location("ltdd_payload", HERE / "payload.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def payload_profile(profile):
    """Which training subset of a payload file a profile reads."""
    return "paper" if profile["max_per_class"] == 1000 else "standard"


def load_data(profile, source, balanced=False):
    """The profile's data; ``balanced`` gives Figure 1's balanced training set.

    ``source`` is a CIFAR-10 hub id or folder, or a payload file written by
    ``benchmarks/payload.py`` (numpy only: what a GPU machine without
    ``datasets`` reads).
    """
    if profile["data"] == "digits":
        return load_digits_lt(imbalance_ratio=1) if balanced else load_digits_lt()
    if source is not None and str(source).endswith(".npz"):
        return _payload_module().load(source, profile=payload_profile(profile),
                                      balanced=balanced)
    if balanced:
        full = load_cifar10_lt(source=source, max_per_class=profile["max_per_class"])
        per_class = len(full.y_train) // len(full.target_names)
        return load_cifar10_lt(source=source, imbalance_ratio=1, max_per_class=per_class)
    return load_cifar10_lt(source=source, max_per_class=profile["max_per_class"])


# -- time limits ----------------------------------------------------------------------
class OutOfTime(Exception):
    """The run's time limit or distillation budget is spent; finished work is saved."""


class Budget:
    """A run's limits: a wall-clock deadline and a cap on distillation iterations.

    ``deadline`` is an absolute ``time.time()``; ``iterations`` caps the
    distillation iterations of this run (None: no cap), which makes a
    partial run reproducible in tests.
    """

    def __init__(self, deadline=None, iterations=None):
        self.deadline = deadline
        self.iterations = iterations

    def left(self):
        return float("inf") if self.deadline is None else self.deadline - time.time()


# -- models ------------------------------------------------------------------------
def convnet(profile, device, seed, epochs=None, **kwargs):
    params = {"module__width": profile["width"], "max_epochs": epochs or profile["epochs"],
              "device": device, "random_state": seed}
    params.update(kwargs)
    return ConvNetClassifier(**params)


def evaluator(distiller, profile, device, seed, epochs):
    """The distiller's own evaluation recipe (``make_evaluator``) at the profile's width."""
    return distiller.make_evaluator(max_epochs=epochs, device=device, random_state=seed,
                                    module__width=profile["width"])


#: Seconds a distillation chunk aims at: long enough to amortise its set-up,
#: short enough that a time limit loses little.
CHUNK_SECONDS = 30.0
#: Seconds kept free after a chunk (checkpoint, export, the rows after it).
CHUNK_MARGIN = 10.0


def distil(run, name, attempts, X, y, path, total, budget, export=None):
    """Distil in warm-started chunks, checkpointing after each; returns the fitted distiller.

    ``attempts`` is a list of (label, make) pairs tried in turn: the official
    settings first, then an adaptation if they diverge (the divergence is
    recorded, not hidden). ``path`` is the checkpoint (``save_checkpoint``),
    which is also the distilled set once ``total`` iterations are done;
    ``path.with_suffix(".json")`` records the settings, the outcome of each
    attempt, the iterations and seconds of every chunk and the device.
    An existing checkpoint is continued, so a run stopped by its time limit
    (a GPU window) goes on where it stopped in the next run. Raises
    :class:`OutOfTime` when the budget ends first.
    """
    record_path = path.with_suffix(".json")
    record = (json.loads(record_path.read_text()) if record_path.exists()
              else {"attempts": [], "chunks": [], "seconds": 0.0})

    def note():
        run.notes[name] = {"settings": record.get("settings"), "attempts": record["attempts"],
                           "iterations": f"{record.get('n_iter', 0)}/{total}",
                           "seconds": round(record["seconds"], 1)}

    def save_record():
        path.parent.mkdir(parents=True, exist_ok=True)
        record_path.write_text(json.dumps(record, indent=1))
        note()

    for label, make in attempts:
        if any(a["settings"] == label and a["outcome"] != "ok" for a in record["attempts"]):
            continue  # this setting diverged in an earlier run
        distiller = make().set_params(warm_start=True)
        done = 0
        if path.exists() and record.get("settings") == label:
            try:
                distiller.load_checkpoint(path, X=X)
                done = int(distiller.n_iter_)
            except (ValueError, KeyError, OSError) as exc:  # another version, or not a checkpoint
                print(f"  {name}: starting over; the checkpoint cannot be continued "
                      f"exactly: {exc}", flush=True)
                record.setdefault("restarts", []).append(
                    {"after": record.get("n_iter"), "reason": str(exc)})
                record.update(chunks=[], seconds=0.0, n_iter=0, finished=False)
                distiller = make().set_params(warm_start=True)
                done = 0
            if done >= total:
                note()
                run.reused.append(name)
                run.seconds[f"distill_{name}"] = record["seconds"]
                return distiller
        record["settings"] = label
        path.parent.mkdir(parents=True, exist_ok=True)
        per_it = None
        try:
            while done < total:
                if budget.iterations is not None and budget.iterations <= 0:
                    raise OutOfTime(f"{name}: distillation budget spent at {done}/{total}")
                k = total - done
                if per_it is None:
                    k = 1  # the first chunk measures (and trains MTT's experts)
                else:
                    k = min(k, max(1, int(CHUNK_SECONDS / per_it)))
                    if budget.deadline is not None:
                        k = min(k, int((budget.left() - CHUNK_MARGIN) / per_it))
                if budget.iterations is not None:
                    k = min(k, budget.iterations)
                if k < 1 or budget.left() < CHUNK_MARGIN:
                    raise OutOfTime(f"{name}: time limit at iteration {done}/{total}")
                start = time.perf_counter()
                distiller.set_params(n_iterations=k).fit(X, y)
                seconds = time.perf_counter() - start
                if budget.iterations is not None:
                    budget.iterations -= k
                per_it = seconds / k  # the first chunk's includes MTT's experts
                done = int(distiller.n_iter_)
                record["seconds"] += seconds
                record["chunks"].append({"iterations": k, "seconds": seconds,
                                         "device": run.env["device"], "done": done})
                distiller.save_checkpoint(path)
                record["n_iter"] = done
                record["finished"] = done >= total
                record["final_loss"] = float(distiller.loss_history_[-1])
                if hasattr(distiller, "learned_lr_"):
                    record["learned_lr"] = float(distiller.learned_lr_)
                save_record()
                if export is not None:
                    export()
                print(f"  {name}: {done}/{total} iterations ({seconds:.1f} s for {k})",
                      flush=True)
        except FloatingPointError as exc:
            record["attempts"].append({"settings": label, "outcome": str(exc)})
            print(f"  {name} with {label}: {exc}", flush=True)
            path.unlink(missing_ok=True)
            record.pop("settings", None)
            save_record()
            continue
        record["attempts"].append({"settings": label, "outcome": "ok",
                                   "learned_lr": record.get("learned_lr")})
        save_record()
        if export is not None:
            export()
        run.seconds[f"distill_{name}"] = record["seconds"]
        return distiller
    raise RuntimeError(f"every {name} setting diverged: {record['attempts']}")


# -- one seed --------------------------------------------------------------------
# The paper's row order (rows are recorded in another order: cheap ones first).
ROW_ORDER = {
    "table1": ["Original", "GM Distilled", "MTT Distilled"],
    "table2": ["Original + Original", "Original + GM Distilled", "Original + MTT Distilled"],
    "table3": ["Original + Original", "GM Distilled + GM Distilled", "Original + GM Distilled"],
}


class Run:
    """Fits models of one seed, records reports and wall times.

    ``previous`` is this seed's record from an earlier run (another GPU
    window, or the CPU): its rows are kept and not recomputed.
    """

    def __init__(self, data, profile, env, seed, checkpoint=None, previous=None):
        self.data, self.profile, self.env, self.seed = data, profile, env, seed
        self.device = env["run_device"]
        self.checkpoint = checkpoint
        previous = previous or {}
        self.complete = False
        self.groups = previous.get("groups")
        self.rows = previous.get("tables", {})
        self.figures = previous.get("figures", {})
        self.seconds = {k: v for k, v in previous.get("wall_time_s", {}).items()
                        if k not in ("total", "load_data")}
        self.reused = []  # distilled sets loaded from --artifacts
        self.notes = previous.get("distillation") or {}
        self.history = previous.get("history", [])
        self.added = []

    def has(self, table, name):
        return any(r["name"] == name for r in self.rows.get(table, []))

    def record(self, table, name, model, n_images, seconds, groups=None):
        X_test = self.data.X_test
        report = long_tail_report(self.data.y_test, model.predict(X_test), name=name,
                                  n_train_images=n_images, groups=groups,
                                  target_names=self.data.target_names,
                                  train_counts=self.data.class_counts, verbose=False)
        report["seconds"] = seconds
        report["device"] = self.env["device"]
        if groups is not None:
            report["groups"] = [[str(self.data.target_names[c]) for c in g] for g in groups]
        print(f"  [{table}] {name}: total {report['total_acc']:.1f} %, Acc Std "
              f"{report['acc_std']:.1f} ({seconds:.0f} s)", flush=True)
        return self.add(table, report)

    def add(self, table, report):
        """Put a report in ``table`` (in the paper's row order) and checkpoint."""
        rows = self.rows.setdefault(table, [])
        rows[:] = [r for r in rows if r["name"] != report["name"]]
        rows.append(dict(report))
        self.added.append(f"{table}: {report['name']}")
        order = ROW_ORDER.get(table)
        if order:
            rows.sort(key=lambda r: order.index(r["name"]) if r["name"] in order else len(order))
        if self.checkpoint is not None:
            self.checkpoint(self)
        return report

    def fit(self, stage, model, X, y):
        start = time.perf_counter()
        model.fit(X, y)
        seconds = time.perf_counter() - start
        self.seconds[stage] = self.seconds.get(stage, 0.0) + seconds
        return model, seconds


def run_seed(args, profile, data, seed, artifacts, env, checkpoint=None, previous=None,
             budget=None, export=None):
    """Every row of one seed, skipping those already in ``previous``.

    Order: the rows that need no distilled set (and Figure 1's first two
    panels), then the GM distillation in checkpointed chunks and its rows,
    then MTT (experts, chunks) and its rows. ``checkpoint(run)`` is called
    after each recorded row, ``export()`` after each distillation chunk and
    figure, so a run stopped by a time limit (a GPU window) keeps what it
    finished; :class:`OutOfTime` ends the run early when ``budget`` is spent.
    """
    device, p = env["run_device"], profile
    budget = budget or Budget()
    run = Run(data, p, env, seed, checkpoint, previous)
    X, y = data.X_train, data.y_train
    ipc, n = p["ipc"], len(y)
    tables = set(args.tables)
    cache = {}
    seed_dir = artifacts / f"seed{seed}"

    def original():
        if "original" not in cache:
            cache["original"] = run.fit("train_original", convnet(p, device, seed), X, y)
        return cache["original"]

    def groups():
        """Eq. 3 on the final-layer features of the Original model (recorded once)."""
        if run.groups is None:
            model, _ = original()
            start = time.perf_counter()
            grouper = ClassGrouper(features="precomputed", random_state=seed)
            grouper.fit(model.embed(X), y)
            run.groups = [g.tolist() for g in grouper.groups_]
            run.seconds["grouping"] = time.perf_counter() - start
            print(f"  groups: {[[str(data.target_names[c]) for c in g] for g in run.groups]}",
                  flush=True)
        return run.groups

    def frozen_groups():
        """Stage 1 on the original data, shared by every "Original + X" row."""
        if "group_clf" not in cache:
            clf, _ = run.fit("train_group_classifier", convnet(p, device, seed), X,
                             _group_labels(groups(), y))
            cache["group_clf"] = FrozenEstimator(clf)
        return cache["group_clf"]

    def two_stage(stage1_clf, stage2_data, class_estimator):
        return TwoStageClassifier(grouper=groups(), group_estimator=stage1_clf,
                                  class_estimator=class_estimator, stage2_data=stage2_data,
                                  random_state=seed)

    def gm():
        """The GM distiller (fitted, or loaded from its finished checkpoint)."""
        if "gm" not in cache:
            cache["gm"] = distil(run, "gm", [("official", lambda: GradientMatchingDistiller(
                ipc=ipc, module_params={"width": p["width"]}, device=device, random_state=seed,
                **p["gm"]))], X, y, seed_dir / f"gm_ipc{ipc}.npz", p["gm"]["n_iterations"],
                budget, export)
        return cache["gm"]

    def mtt():
        if "mtt" not in cache:
            memory = Memory(Path(args.experts_cache or artifacts / "experts"), verbose=0)
            settings = {k: v for k, v in p["mtt"].items() if k != "n_iterations"}

            def make(**changes):
                return lambda: TrajectoryMatchingDistiller(
                    ipc=ipc, module_params={"width": p["width"]}, device=device,
                    random_state=seed, memory=memory, **{**settings, **changes})

            # MTT's CIFAR-10 settings match 2 expert epochs; a long-tailed epoch is
            # ~10 batches, so the student overshoots and the step size collapses.
            # If they diverge, match 10 expert epochs instead (recorded either way).
            cache["mtt"] = distil(run, "mtt", [
                ("official", make()), ("expert_epochs=10", make(expert_epochs=10))],
                X, y, seed_dir / f"mtt_ipc{ipc}.npz", p["mtt"]["n_iterations"], budget, export)
        return cache["mtt"]

    def row(table, name):
        """Whether ``table`` asks for row ``name`` and it is not done yet."""
        wanted = {"table1": "1", "table2": "2", "table3": "3", "baselines": "baselines",
                  "extra": "extra", "backbone": "backbone"}[table]
        return wanted in tables and not run.has(table, name)

    # -- rows that need no distilled set ------------------------------------------
    if row("table1", "Original"):
        model, sec = original()
        run.record("table1", "Original", model, n, sec)
    if tables & {"2", "3", "extra"}:
        groups()
    if row("table2", "Original + Original") or row("table3", "Original + Original"):
        model, sec = run.fit("two_stage_original", two_stage(
            frozen_groups(), "original", convnet(p, device, seed)), X, y)
        report = run.record("table2", "Original + Original", model, 2 * n, sec, groups())
        run.add("table3", report)
    if "baselines" in tables:
        baselines(run, p, device, seed, X, y, cache)

    def backbone(kind):
        """The CE backbone is the Original model; the LA+flip one is that baseline's."""
        if kind == "ce":
            return FrozenEstimator(original()[0])
        if "la_flip" not in cache:
            cache["la_flip"] = run.fit("backbone:la_flip", convnet(p, device, seed, **LA_FLIP),
                                       X, y)[0]
        return FrozenEstimator(cache["la_flip"])

    if "extra" in tables:
        extra_rows(run, p, device, seed, X, y, groups, frozen_groups, gm=None)
    if "backbone" in tables:
        backbone_rows(run, p, device, seed, X, y, groups, backbone)
    first_seed = seed == args.seeds[0]
    if args.figure and first_seed:
        figure1(args, run, p, device, seed, data, ["balanced", "original"], export=export)

    # -- the GM set and its rows ---------------------------------------------------------
    gm_epochs = p["distilled_epochs"]
    if row("table1", "GM Distilled"):
        model, sec = run.fit("train_gm", evaluator(gm(), p, device, seed, gm_epochs),
                             gm().X_syn_, gm().y_syn_)
        run.record("table1", "GM Distilled", model, ipc * len(data.target_names), sec)
    if row("table2", "Original + GM Distilled") or row("table3", "Original + GM Distilled"):
        X_gm, y_gm = gm().X_syn_, gm().y_syn_
        model, sec = run.fit("two_stage_gm", two_stage(
            frozen_groups(), PrecomputedSampler(X_gm, y_gm),
            evaluator(gm(), p, device, seed, gm_epochs)), X, y)
        report = run.record("table2", "Original + GM Distilled", model, n + len(y_gm), sec,
                            groups())
        run.add("table3", report)  # Original + GM in Table 3: the same model
    if row("table3", "GM Distilled + GM Distilled"):
        X_gm, y_gm = gm().X_syn_, gm().y_syn_
        model, sec = run.fit("two_stage_gm_gm", TwoStageClassifier(
            grouper=groups(), group_estimator=evaluator(gm(), p, device, seed, gm_epochs),
            class_estimator=evaluator(gm(), p, device, seed, gm_epochs),
            stage1_data=PrecomputedSampler(X_gm, y_gm), stage2_data=PrecomputedSampler(X_gm, y_gm),
            random_state=seed), X, y)
        run.record("table3", "GM Distilled + GM Distilled", model, 2 * len(y_gm), sec, groups())
    if "extra" in tables:
        extra_rows(run, p, device, seed, X, y, groups, frozen_groups, gm=gm)
    if "backbone" in tables:
        backbone_rows(run, p, device, seed, X, y, groups, backbone, sets={"GM": gm})
    if args.figure and first_seed:
        figure1(args, run, p, device, seed, data, ["distilled"], gm=gm, export=export)

    # -- the MTT set and its rows (MTT's own evaluation: make_evaluator) -------------------
    mtt_epochs = p["dsa_epochs"]
    if row("table1", "MTT Distilled"):
        model, sec = run.fit("train_mtt", evaluator(mtt(), p, device, seed, mtt_epochs),
                             mtt().X_syn_, mtt().y_syn_)
        run.record("table1", "MTT Distilled", model, len(mtt().y_syn_), sec)
    if row("table2", "Original + MTT Distilled"):
        model, sec = run.fit("two_stage_mtt", two_stage(
            frozen_groups(), PrecomputedSampler(mtt().X_syn_, mtt().y_syn_),
            evaluator(mtt(), p, device, seed, mtt_epochs)), X, y)
        run.record("table2", "Original + MTT Distilled", model, n + len(mtt().y_syn_), sec,
                   groups())
    if "backbone" in tables:
        backbone_rows(run, p, device, seed, X, y, groups, backbone, sets={"MTT": mtt})

    # -- distribution matching (issue 15): DM, IDM and IDM with a balanced queue ----------
    if "dm" in tables and "dm" in p:
        variants = [("DM", "dm", {}), ("IDM", "idm", {}),
                    ("IDM (balanced queue)", "idm", {"balance": "sampling"})]
        for label, method, extra in variants:
            key = label.lower().replace(" ", "_").replace("(", "").replace(")", "")
            if run.has("table1", f"{label} Distilled") and \
                    run.has("table2", f"Original + {label} Distilled"):
                continue

            def make(method=method, extra=extra):
                return DistributionMatchingDistiller(
                    ipc=ipc, method=method, module_params={"width": p["width"]}, device=device,
                    random_state=seed, **{**p[method], **extra})

            distiller = distil(run, key, [("official", make)], X, y,
                               seed_dir / f"{key}_ipc{ipc}.npz", p[method]["n_iterations"],
                               budget, export)
            images = len(distiller.y_syn_)
            if not run.has("table1", f"{label} Distilled"):
                model, sec = run.fit(f"train_{key}", evaluator(distiller, p, device, seed,
                                                               p["dsa_epochs"]),
                                     distiller.X_syn_, distiller.y_syn_)
                run.record("table1", f"{label} Distilled", model, images, sec)
            if not run.has("table2", f"Original + {label} Distilled"):
                model, sec = run.fit(f"two_stage_{key}", two_stage(
                    frozen_groups(), PrecomputedSampler(distiller.X_syn_, distiller.y_syn_),
                    evaluator(distiller, p, device, seed, p["dsa_epochs"])), X, y)
                run.record("table2", f"Original + {label} Distilled", model, n + images, sec,
                           groups())
    run.complete = True
    return run


LA_FLIP = {"criterion": "logit_adjusted", "augmentation": "crop_flip"}


def baselines(run, p, device, seed, X, y, cache=None):
    """What a practitioner would try, same ConvNet3 and training budget."""
    n = len(y)
    for name, kwargs in [
        ("Class-balanced CE (Cui 2019)", {"criterion": "class_balanced"}),
        ("Logit adjustment (Menon 2021)", {"criterion": "logit_adjusted"}),
        ("Logit adjustment + crop/flip", LA_FLIP),
        ("CE + crop/flip", {"augmentation": "crop_flip"}),
    ]:
        if run.has("baselines", name):
            continue
        model, sec = run.fit(f"baseline:{name}", convnet(p, device, seed, **kwargs), X, y)
        run.record("baselines", name, model, n, sec)
        if cache is not None and kwargs is LA_FLIP:
            cache["la_flip"] = model  # the backbone of the issue-14 rows
    # Random over-sampling: the same number of SGD steps as the others.
    X_ros, y_ros = ImageSampler(RandomOverSampler(random_state=seed)).fit_resample(X, y)
    epochs = max(1, round(p["epochs"] * n / len(y_ros)))
    name = f"Random over-sampling ({epochs} epochs)"
    if not run.has("baselines", name):
        model, sec = run.fit("baseline:ros", convnet(p, device, seed, epochs), X_ros, y_ros)
        run.record("baselines", name, model, len(y_ros), sec)
    # A random balanced subset of ipc real images per class: distillation's baseline,
    # trained as a DC set is evaluated.
    name = f"Random {p['ipc']} real images per class"
    if not run.has("baselines", name):
        strategy = {c: p["ipc"] for c in np.unique(y)}
        X_sub, y_sub = ImageSampler(RandomUnderSampler(sampling_strategy=strategy,
                                                       random_state=seed)).fit_resample(X, y)
        model, sec = run.fit("baseline:random", convnet(p, device, seed, p["distilled_epochs"]),
                             X_sub, y_sub)
        run.record("baselines", name, model, len(y_sub), sec)


def extra_rows(run, p, device, seed, X, y, groups, frozen_groups, gm=None):
    """Issue 7: two-stage models built from better parts, kept apart from the paper's rows.

    Called once without ``gm`` (the rows on original data) and once with
    ``gm()`` giving the fitted GM distiller (the rows on its set).
    """
    n = len(y)
    la_flip = {"criterion": "logit_adjusted", "augmentation": "crop_flip"}
    cache = {}

    def group_la():
        if "la" not in cache:
            clf, _ = run.fit("extra:group_la_flip", convnet(p, device, seed, **la_flip), X,
                             _group_labels(groups(), y))
            cache["la"] = FrozenEstimator(clf)
        return cache["la"]

    configs = [
        ("Original(LA+flip) + Original(LA+flip)", group_la, lambda: "original",
         lambda: convnet(p, device, seed, **la_flip), lambda: 2 * n, False),
        ("Original(CE) + Original(LA+flip)", frozen_groups, lambda: "original",
         lambda: convnet(p, device, seed, **la_flip), lambda: 2 * n, False),
        ("Original(LA+flip) + GM(DSA)", group_la,
         lambda: PrecomputedSampler(gm().X_syn_, gm().y_syn_),
         lambda: convnet(p, device, seed, p["dsa_epochs"], augmentation="dsa"),
         lambda: n + len(gm().y_syn_), True),
    ]
    for name, stage1, stage2, clf, images, needs_gm in configs:
        if needs_gm != (gm is not None):
            continue
        soft = f"{name}, soft routing"
        if run.has("extra", name) and run.has("extra", soft):
            continue
        model, sec = run.fit(f"extra:{name}", TwoStageClassifier(
            grouper=groups(), group_estimator=stage1(), class_estimator=clf(),
            stage2_data=stage2(), random_state=seed), X, y)
        run.record("extra", name, model, images(), sec, groups())
        # The same fitted model with soft routing (argmax of P(g|x) P(c|g,x)).
        model.set_params(routing="soft")
        run.record("extra", soft, model, images(), 0.0, groups())


def backbone_rows(run, p, device, seed, X, y, groups, backbone, sets=None):
    """Issue 14: decoupled training and the shared-backbone two-stage model.

    Kept apart from the paper's rows. ``backbone("ce")`` is the Original
    ConvNet3 (instance-balanced cross-entropy), ``backbone("la_flip")`` the
    logit-adjustment + crop/flip baseline's network, both trained once on all
    the original data and shared (frozen) by every row. Heads are
    ``LogisticRegression(class_weight="balanced")`` on the backbone's
    features. Called without ``sets`` for the rows on original data, then
    with ``{"GM": gm}`` or ``{"MTT": mtt}`` (functions giving the fitted
    distiller) for the rows on a distilled stage 2.
    """
    n = len(y)
    head = LogisticRegression(max_iter=1000, class_weight="balanced")

    def two_stage(kind, stage2, fine_tune=False, **kwargs):
        return TwoStageClassifier(grouper=groups(), backbone=backbone(kind), fine_tune=fine_tune,
                                  group_estimator=None if fine_tune else head,
                                  class_estimator=None if fine_tune else head,
                                  stage2_data=stage2, random_state=seed, **kwargs)

    if sets is None:
        rows = [
            ("cRT (Kang 2020)", lambda: DecoupledClassifier(
                backbone("ce"), method="crt", random_state=seed), n, False),
            ("tau-normalisation, tau=1 (Kang 2020)", lambda: DecoupledClassifier(
                backbone("ce"), method="tau", tau=1.0), n, False),
            ("cRT on the LA+flip backbone", lambda: DecoupledClassifier(
                backbone("la_flip"), method="crt", random_state=seed), n, False),
            ("Backbone(LA+flip) + heads: original / original",
             lambda: two_stage("la_flip", "original"), 2 * n, True),
        ]
    else:
        (label, distiller), = sets.items()
        rows = [(f"Backbone(LA+flip) + heads: original / {label}",
                 lambda: two_stage("la_flip", PrecomputedSampler(distiller().X_syn_,
                                                                 distiller().y_syn_)),
                 n + len(distiller().y_syn_), True)]
        if label == "GM":
            rows.append((f"Backbone(LA+flip) fine-tuned: original / {label}",
                         lambda: two_stage("la_flip", PrecomputedSampler(
                             distiller().X_syn_, distiller().y_syn_), fine_tune=True),
                         n + len(distiller().y_syn_), True))
    for name, make, images, grouped in rows:
        soft = f"{name}, soft routing"
        if run.has("backbone", name) and (not grouped or run.has("backbone", soft)):
            continue
        model, sec = run.fit(f"backbone:{name}", make(), X, y)
        run.record("backbone", name, model, images, sec, groups() if grouped else None)
        if grouped:
            model.set_params(routing="soft")
            run.record("backbone", soft, model, images, 0.0, groups())


def _group_labels(groups, y):
    lookup = {c: g for g, members in enumerate(groups) for c in members}
    return np.array([lookup[c] for c in y.tolist()])


def figure1(args, run, p, device, seed, data, panels, gm=None, export=None):
    """Figure 1: features of test images from nets trained on balanced, long-tailed and
    distilled data; one PNG per panel, skipped when the seed's record has it."""
    rng = np.random.RandomState(seed)
    keep = rng.choice(len(data.y_test), size=min(2000, len(data.y_test)), replace=False)
    out = Path(args.figure_dir or args.out)
    out.mkdir(parents=True, exist_ok=True)
    for name in panels:
        if name in run.figures:
            continue
        if name == "balanced":
            full = load_data(p, args.source, balanced=True)
            X, y, epochs = full.X_train, full.y_train, p["epochs"]
        elif name == "original":
            X, y, epochs = data.X_train, data.y_train, p["epochs"]
        else:
            X, y, epochs = gm().X_syn_, gm().y_syn_, p["distilled_epochs"]
        start = time.perf_counter()
        grouper = ClassGrouper(estimator=convnet(p, device, seed, epochs), random_state=seed).fit(X, y)
        named = [[str(data.target_names[c]) for c in g] for g in grouper.groups_]
        fig = plot_class_groups(grouper, data.X_test[keep], data.y_test[keep],
                                target_names=data.target_names, random_state=seed,
                                title=f"{name} training data: groups {named}")
        path = out / f"{args.profile}_figure1_{name}.png"
        fig.savefig(path, dpi=110, bbox_inches="tight")
        plt.close(fig)
        run.figures[name] = {"groups": [g.tolist() for g in grouper.groups_],
                             "device": run.env["device"], "file": path.name,
                             "seconds": time.perf_counter() - start}
        if run.checkpoint is not None:
            run.checkpoint(run)
        if export is not None:
            export()
        print(f"  wrote {path}; groups from {name} data: {run.figures[name]['groups']}")


# -- results ----------------------------------------------------------------------
def git_commit():
    """The checkout's commit (``+dirty`` with uncommitted changes).

    On a machine without the repository's ``.git`` (a GPU window receives a
    copy of the working tree), ``$LTDD_COMMIT`` says which commit it is.
    """
    if os.environ.get("LTDD_COMMIT"):
        return os.environ["LTDD_COMMIT"]
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                                text=True, cwd=HERE, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, cwd=HERE).stdout.strip()
        commit += "+dirty" if dirty else ""
    except (OSError, subprocess.CalledProcessError):
        commit = "unknown"
    return commit or "unknown"


def environment(args):
    commit = git_commit()
    device = (torch.cuda.get_device_name(0) if torch.cuda.is_available() and args.device != "cpu"
              else f"CPU ({platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
                   f"{torch.get_num_threads()} threads)")
    return {"device": device, "torch": torch.__version__, "python": platform.python_version(),
            "commit": commit, "command": " ".join(["python"] + sys.argv),
            "run_device": args.device}


PAPER_ROWS = {
    ("table1", "Original"): ("table1_direct", "Original"),
    ("table1", "GM Distilled"): ("table1_direct", "GM Distilled"),
    ("table1", "MTT Distilled"): ("table1_direct", "MTT Distilled"),
    ("table2", "Original + Original"): ("table2_two_stage", "Original + Original"),
    ("table2", "Original + GM Distilled"): ("table2_two_stage", "Original + GM Distilled"),
    ("table2", "Original + MTT Distilled"): ("table2_two_stage", "Original + MTT Distilled"),
    ("table3", "Original + Original"): ("table3_ablation", "Original + Original"),
    ("table3", "GM Distilled + GM Distilled"): ("table3_ablation", "GM Distilled + GM Distilled"),
    ("table3", "Original + GM Distilled"): ("table3_ablation", "Original + GM Distilled"),
}


def paper_row(table, name, profile_name):
    key = PAPER_ROWS.get((table, name))
    if key is None or profile_name not in ("paper", "cpu"):
        return None
    for row in PAPER_TABLES[key[0]]:
        if row["dataset"] == key[1]:
            return {k: row.get(k) for k in ("train_images", "total_acc", "acc_std",
                                            "group_acc", "per_class_acc")}
    return None


def mean_std(values):
    values = [v for v in values if v is not None]
    if not values:
        return None
    return {"mean": float(np.mean(values)), "std": float(np.std(values)), "n": len(values)}


def settings(profile):
    """A profile's settings as recorded: without its default seeds (each file names its own)."""
    return {k: v for k, v in profile.items() if k != "seeds"}


def merge(out, profile_name):
    files = sorted((out / profile_name).glob("seed*.json"))
    seeds = [json.loads(f.read_text()) for f in files]
    if not seeds:
        raise SystemExit(f"no seed files under {out / profile_name}")
    tables = {}
    for table in ("table1", "table2", "table3", "baselines", "extra", "backbone"):
        names = []
        for s in seeds:
            names += [r["name"] for r in s["tables"].get(table, []) if r["name"] not in names]
        rows = []
        for name in names:
            reports = [r for s in seeds for r in s["tables"].get(table, []) if r["name"] == name]
            first = reports[0]
            rows.append({
                "name": name,
                "train_images": first["train_images"],
                "seeds": [s["seed"] for s in seeds if any(r["name"] == name for r in s["tables"].get(table, []))],
                "total_acc": mean_std([r["total_acc"] for r in reports]),
                "balanced_acc": mean_std([r["balanced_acc"] for r in reports]),
                "acc_std": mean_std([r["acc_std"] for r in reports]),
                "group_acc": mean_std([r.get("group_acc") for r in reports]),
                "few_shot": mean_std([r.get("few_shot") for r in reports]),
                "per_class_acc": {c: mean_std([r["per_class_acc"][c] for r in reports])
                                  for c in first["per_class_acc"]},
                "seconds": mean_std([r.get("seconds") for r in reports]),
                "groups": first.get("groups"),
                "paper": paper_row(table, name, profile_name),
                "trained_on": sorted({r.get("device") or s_device for r, s_device in
                                      ((r, s["device"]) for s in seeds
                                       for r in s["tables"].get(table, []) if r["name"] == name)}),
            })
        if rows:
            tables[table] = rows
    merged = {
        "profile": profile_name,
        "settings": settings(seeds[0]["settings"]),
        "seeds": [s["seed"] for s in seeds],
        "device": sorted({s["device"] for s in seeds}),
        "torch": sorted({s["torch"] for s in seeds}),
        "commit": sorted({s["commit"] for s in seeds}),
        "command": list(dict.fromkeys(s["command"] for s in seeds)),
        "incomplete_seeds": [s["seed"] for s in seeds if s.get("complete") is False],
        "wall_time_s": {k: mean_std([s["wall_time_s"].get(k) for s in seeds])
                        for k in dict.fromkeys(k for s in seeds for k in s["wall_time_s"])},
        "groups": [s.get("groups") for s in seeds],
        "distillation": [s.get("distillation") for s in seeds],
        "figures": [s.get("figures") for s in seeds],
        "missing": {f"seed{s['seed']}": [f"{t}: {n}" for t, names in ROW_ORDER.items()
                                         for n in names
                                         if not any(r["name"] == n for r in s["tables"].get(t, []))]
                    for s in seeds},
        "tables": tables,
    }
    merged["missing"] = {k: v for k, v in merged["missing"].items() if v}
    (out / f"{profile_name}.json").write_text(json.dumps(merged, indent=1))
    (out / f"{profile_name}.md").write_text(markdown(merged))
    print(f"merged {len(seeds)} seed file(s) into {out / profile_name}.json and .md")
    return merged


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
}


def markdown(merged):
    lines = [f"# Results: profile `{merged['profile']}`", "",
             f"- seeds: {merged['seeds']}", f"- device: {', '.join(merged['device'])}",
             f"- torch: {', '.join(merged['torch'])}; commit: {', '.join(merged['commit'])}",
             f"- settings: `{json.dumps(merged['settings'])}`",
             "- commands:"] + [f"  - `{c}`" for c in merged["command"]] + [
             "- wall time per stage (s, mean over seeds): " + ", ".join(
                 f"{k} {v['mean']:.0f}" for k, v in merged["wall_time_s"].items() if v),
             f"- groups (per seed): {merged['groups']}",
             f"- distillation runs (per seed; settings tried and outcome): "
             f"{json.dumps(merged.get('distillation'))}", "",
             ] + ([f"- **incomplete**: seed(s) {merged['incomplete_seeds']} stopped before "
                   "every row was done (a time limit); the rows shown for them are finished", ""]
                  if merged.get("incomplete_seeds") else []) + (
             ["- **rows still missing** (the paper's tables):"]
             + [f"  - {seed}: {', '.join(rows)}" for seed, rows in merged["missing"].items()]
             + [""] if merged.get("missing") else []) + [
             "Accuracies in % on the balanced test set, mean ± std over seeds; "
             "'paper' is the paper's figure and 'diff' ours minus the paper's.", ""]
    if merged["profile"] != "paper":
        lines += [f"**Profile `{merged['profile']}` is not the paper's setting** (see its "
                  "settings above: a narrower network, fewer epochs and iterations, or other "
                  "data). Its figures show that the pipeline runs end to end; their "
                  "differences from the paper's are expected and are not a reproduction.", ""]
    for table, rows in merged["tables"].items():
        lines += [f"## {TITLES[table]}", "",
                  "| model | images | total acc | paper | diff | Acc Std | paper | diff "
                  "| group acc | paper | few-shot acc | trained on |",
                  "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
        for r in rows:
            paper = r["paper"] or {}
            lines.append(
                f"| {r['name']} | {r['train_images']} | {_pm(r['total_acc'])} | "
                f"{paper.get('total_acc', '-')} | {_diff(r['total_acc'], paper.get('total_acc'))} | "
                f"{_pm(r['acc_std'])} | {paper.get('acc_std', '-')} | "
                f"{_diff(r['acc_std'], paper.get('acc_std'))} | {_pm(r['group_acc'])} | "
                f"{paper.get('group_acc') or '-'} | {_pm(r['few_shot'])} | "
                f"{', '.join(_short_device(d) for d in r.get('trained_on', [])) or '-'} |")
        classes = list(rows[0]["per_class_acc"])
        lines += ["", "Per-class accuracy (%):", "",
                  "| model | " + " | ".join(classes) + " |",
                  "|---|" + "---:|" * len(classes)]
        for r in rows:
            lines.append(f"| {r['name']} | " + " | ".join(
                f"{r['per_class_acc'][c]['mean']:.1f}" for c in classes) + " |")
            if r["paper"]:
                lines.append("| (paper) | " + " | ".join(
                    f"{r['paper']['per_class_acc'].get(c, '-')}" for c in classes) + " |")
        lines.append("")
    return "\n".join(lines)


def export_artifacts(artifacts, tar_path, since=None):
    """Pack ``artifacts`` (less the expert cache) into ``tar_path``, atomically.

    Written beside the target and renamed over it, so a kill at any moment
    leaves the previous archive or the new one, never half of one. With
    ``since`` (a ``time.time()``; default ``$LTDD_EXPORT_SINCE``), only files
    modified since then: a GPU window returns what it made, not what it was
    given.
    """
    if since is None and os.environ.get("LTDD_EXPORT_SINCE"):
        since = float(os.environ["LTDD_EXPORT_SINCE"])
    tar_path = Path(tar_path)
    part = tar_path.with_name(tar_path.name + ".part")
    with tarfile.open(part, "w") as tar:
        for file in sorted(Path(artifacts).rglob("*")):
            rel = file.relative_to(artifacts)
            if not file.is_file() or "experts" in rel.parts:
                continue
            if since is not None and file.stat().st_mtime < since:
                continue
            tar.add(file, arcname=str(rel))
    os.replace(part, tar_path)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", choices=sorted(PROFILES), default="smoke")
    parser.add_argument("--seeds", type=int, nargs="+", default=None,
                        help="seeds to run (default: the profile's)")
    parser.add_argument("--tables", nargs="+",
                        default=["1", "2", "3", "baselines", "extra", "backbone", "dm"],
                        choices=["1", "2", "3", "baselines", "extra", "backbone", "dm"],
                        help="dm: the DM/IDM rows of Tables 1 and 2 (issue 15)")
    parser.add_argument("--source", default=os.environ.get("SKLEARN_LTDD_CIFAR10"),
                        help="CIFAR-10 hub id or local folder, or a payload .npz "
                             "(benchmarks/payload.py)")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--out", default=str(HERE / "results"))
    parser.add_argument("--artifacts", default=str(HERE / "artifacts"),
                        help="distilled sets and their checkpoints (continued when present)")
    parser.add_argument("--experts-cache", default=None,
                        help="joblib cache of MTT's expert trajectories "
                             "(default: <artifacts>/<profile>/experts)")
    parser.add_argument("--resume-from", default=None,
                        help="a results folder whose <profile>/seed<N>.json rows are kept "
                             "and not recomputed (default: --out)")
    parser.add_argument("--time-limit", type=float, default=None,
                        help="seconds this run may take; distillation stops in time and "
                             "keeps its checkpoint, unfinished rows wait for the next run")
    parser.add_argument("--distill-iterations", type=int, default=None,
                        help="at most this many distillation iterations in this run")
    parser.add_argument("--export-tar", default=None,
                        help="after every checkpoint and figure, pack --artifacts into this tar")
    parser.add_argument("--figure", action="store_true", help="also draw Figure 1")
    parser.add_argument("--figure-dir", default=None, help="where Figure 1 goes (default: --out)")
    parser.add_argument("--no-merge", action="store_true",
                        help="write the seed files only (merge later with --merge-only)")
    parser.add_argument("--merge-only", action="store_true",
                        help="only merge the seed files already in --out")
    args = parser.parse_args(argv)
    started = time.time()
    profile = PROFILES[args.profile]
    out = Path(args.out)
    if args.merge_only:
        merge(out, args.profile)
        return 0
    args.seeds = args.seeds if args.seeds is not None else profile["seeds"]
    budget = Budget(None if args.time_limit is None else started + args.time_limit,
                    args.distill_iterations)
    (out / args.profile).mkdir(parents=True, exist_ok=True)
    artifacts = Path(args.artifacts) / args.profile
    export = None
    if args.export_tar:
        def export():
            export_artifacts(args.artifacts, args.export_tar)
    start = time.perf_counter()
    data = load_data(profile, args.source)
    load_seconds = time.perf_counter() - start
    env = environment(args)
    print(f"profile {args.profile}: {len(data.y_train)} training images "
          f"{data.class_counts.tolist()}, device {env['device']}", flush=True)
    resume = Path(args.resume_from or args.out)
    stopped = None
    for seed in args.seeds:
        print(f"seed {seed}", flush=True)
        seed_start = time.perf_counter()
        path = out / args.profile / f"seed{seed}.json"
        previous_path = resume / args.profile / f"seed{seed}.json"
        previous = json.loads(previous_path.read_text()) if previous_path.exists() else None

        def save(run, path=path, seed=seed, seed_start=seed_start):
            wall = {"load_data": load_seconds, **run.seconds,
                    "total": time.perf_counter() - seed_start}
            this = {k: env[k] for k in ("device", "torch", "commit", "command")}
            this["rows_added"] = list(run.added)
            this["complete"] = run.complete
            record = {"profile": args.profile, "seed": seed, "settings": settings(profile),
                      **{k: v for k, v in env.items() if k != "run_device"},
                      "complete": run.complete, "wall_time_s": wall,
                      "reused_artifacts": run.reused, "distillation": run.notes,
                      "groups": run.groups, "figures": run.figures,
                      "history": run.history + [this], "tables": run.rows}
            tmp = path.with_name(path.name + ".part")
            tmp.write_text(json.dumps(record, indent=1))
            os.replace(tmp, path)

        holder = {}

        def checkpoint(run, save=save):
            holder["run"] = run
            save(run)

        try:
            run = run_seed(args, profile, data, seed, artifacts, env, checkpoint, previous,
                           budget, export)
        except OutOfTime as exc:
            stopped = str(exc)
            print(f"stopped: {exc}; finished rows and checkpoints are saved", flush=True)
            if "run" in holder:
                save(holder["run"])
            elif previous is not None and not path.exists():
                path.write_text(json.dumps(previous, indent=1))
            break
        save(run)
        print(format_long_tail_table([r for rows in run.rows.values() for r in rows],
                                     per_class=False))
    if not args.no_merge:
        merge(out, args.profile)
    if stopped:
        print(f"incomplete: {stopped}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
