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

Distilled sets and expert trajectories are saved under ``--artifacts`` and
reused, so a rerun of the tables does not distil again.

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
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch
from imblearn.over_sampling import RandomOverSampler
from imblearn.under_sampling import RandomUnderSampler
from joblib import Memory
from sklearn.frozen import FrozenEstimator
from sklearn.pipeline import FunctionTransformer, make_pipeline

from sklearn_ltdd import (
    ClassGrouper,
    ConvNetClassifier,
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
        "distilled_epochs": 300, "dsa_epochs": 1000, "ipc": 10,
        "gm": {"n_iterations": 1000},
        "mtt": {"n_iterations": 5000, "n_experts": 100},
        "seeds": [0, 1, 2],
    },
    "standard": {
        "data": "cifar10", "max_per_class": None, "width": 128, "epochs": 200,
        "distilled_epochs": 300, "dsa_epochs": 1000, "ipc": 10,
        "gm": {"n_iterations": 1000},
        "mtt": {"n_iterations": 5000, "n_experts": 100},
        "seeds": [0],
    },
    "cpu": {
        "data": "cifar10", "max_per_class": 1000, "width": 32, "epochs": 30,
        "distilled_epochs": 300, "dsa_epochs": 300, "ipc": 10,
        "gm": {"n_iterations": 10, "outer_loop": 10, "inner_loop": 10},
        "mtt": {"n_iterations": 100, "n_experts": 5},
        "seeds": [0],
    },
    "smoke": {
        "data": "digits", "max_per_class": None, "width": 8, "epochs": 5,
        "distilled_epochs": 20, "dsa_epochs": 20, "ipc": 2,
        "gm": {"n_iterations": 2},
        "mtt": {"n_iterations": 2, "n_experts": 2, "syn_steps": 2, "max_start_epoch": 2,
                "zca": False, "lr_img": 1.0},
        "seeds": [0],
    },
}


# -- data ---------------------------------------------------------------------------
def load_data(profile, source):
    if profile["data"] == "digits":
        return load_digits_lt()
    return load_cifar10_lt(source=source, max_per_class=profile["max_per_class"])


# -- models ------------------------------------------------------------------------
def convnet(profile, device, seed, epochs=None, **kwargs):
    params = {"module__width": profile["width"], "max_epochs": epochs or profile["epochs"],
              "device": device, "random_state": seed}
    params.update(kwargs)
    return ConvNetClassifier(**params)


def distilled(run, name, attempts, X, y, path):
    """Distil, or load the saved set; returns (X, y, extra).

    ``attempts`` is a list of (label, make) pairs tried in turn: the official
    settings first, then an adaptation if they diverge (the divergence is
    recorded, not hidden). ``extra`` holds the wall time, iterations, final
    loss, the attempts' outcomes and, for MTT, the learned step size; a
    loaded set keeps the record of its run.
    """
    if path.exists():
        data = np.load(path, allow_pickle=False)
        run.reused.append(name)
        extra = json.loads(str(data["extra"]))
        run.seconds[f"distill_{name}"] = extra["seconds"]
        run.notes[name] = extra.get("attempts")
        return data["X"], data["y"], extra
    start = time.perf_counter()
    outcomes = []
    for label, make in attempts:
        distiller = make()
        try:
            X_syn, y_syn = distiller.fit_resample(X, y)
        except FloatingPointError as exc:
            outcomes.append({"settings": label, "outcome": str(exc)})
            print(f"  {name} with {label}: {exc}", flush=True)
            continue
        outcomes.append({"settings": label, "outcome": "ok",
                         "learned_lr": getattr(distiller, "learned_lr_", None)})
        break
    else:
        raise RuntimeError(f"every {name} setting diverged: {outcomes}")
    seconds = time.perf_counter() - start
    run.notes[name] = outcomes
    extra = {"seconds": seconds, "n_iter": int(distiller.n_iter_),
             "final_loss": float(distiller.loss_history_[-1]), "attempts": outcomes}
    arrays = {}
    if isinstance(distiller, TrajectoryMatchingDistiller):
        extra["learned_lr"] = distiller.learned_lr_
        if distiller.zca_ is not None:
            arrays = {"zca_mean": distiller.zca_.mean_, "zca_whitening": distiller.zca_.whitening_}
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, X=X_syn, y=y_syn, extra=json.dumps(extra), **arrays)
    run.seconds[f"distill_{name}"] = seconds
    return X_syn, y_syn, extra


def zca_transformer(path):
    """The MTT set's whitening as a fixed transformer (MTT evaluates in that space)."""
    data = np.load(path, allow_pickle=False)
    if "zca_mean" not in data.files:
        return None
    mean, matrix = data["zca_mean"], data["zca_whitening"]

    def whiten(X):
        flat = np.asarray(X, dtype=np.float32).reshape(len(X), -1)
        return ((flat - mean) @ matrix).reshape(np.shape(X)).astype(np.float32)

    return FunctionTransformer(whiten)


def mtt_evaluator(profile, device, seed, extra, zca):
    """How MTT evaluates its sets: learned step size, DSA, whitened inputs."""
    clf = convnet(profile, device, seed, epochs=profile["dsa_epochs"],
                  lr=max(extra["learned_lr"], 1e-6), augmentation="dsa")
    return clf if zca is None else make_pipeline(zca, clf)


# -- one seed --------------------------------------------------------------------
# The paper's row order (rows are recorded in another order: cheap ones first).
ROW_ORDER = {
    "table1": ["Original", "GM Distilled", "MTT Distilled"],
    "table2": ["Original + Original", "Original + GM Distilled", "Original + MTT Distilled"],
    "table3": ["Original + Original", "GM Distilled + GM Distilled", "Original + GM Distilled"],
}


class Run:
    """Fits models of one seed, records reports and wall times."""

    def __init__(self, data, profile, device, seed, checkpoint=None):
        self.data, self.profile, self.device, self.seed = data, profile, device, seed
        self.checkpoint = checkpoint
        self.complete = False
        self.groups = None
        self.rows = {}
        self.seconds = {}
        self.reused = []  # distilled sets loaded from --artifacts
        self.notes = {}  # how each distillation went (settings tried, outcome)

    def record(self, table, name, model, n_images, seconds, groups=None):
        X_test = self.data.X_test
        report = long_tail_report(self.data.y_test, model.predict(X_test), name=name,
                                  n_train_images=n_images, groups=groups,
                                  target_names=self.data.target_names,
                                  train_counts=self.data.class_counts, verbose=False)
        report["seconds"] = seconds
        if groups is not None:
            report["groups"] = [[str(self.data.target_names[c]) for c in g] for g in groups]
        print(f"  [{table}] {name}: total {report['total_acc']:.1f} %, Acc Std "
              f"{report['acc_std']:.1f} ({seconds:.0f} s)", flush=True)
        return self.add(table, report)

    def add(self, table, report):
        """Put a report in ``table`` (in the paper's row order) and checkpoint."""
        rows = self.rows.setdefault(table, [])
        rows.append(dict(report))
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


def run_seed(args, profile, data, seed, artifacts, checkpoint=None):
    """Every row of one seed. ``checkpoint(run)`` is called after each recorded row.

    Rows that need no distilled set come first and the distillations are made
    on first use, so a run stopped by a time limit (a GPU slot) keeps the
    finished rows (see ``checkpoint``) and the finished distilled sets.
    """
    device, p = args.device, profile
    run = Run(data, p, device, seed, checkpoint)
    X, y = data.X_train, data.y_train
    ipc, n = p["ipc"], len(y)
    tables = set(args.tables)
    sets = {}

    def gm_set():
        """The GM set (X, y), distilled once and saved, or loaded."""
        if "gm" not in sets:
            path = artifacts / f"seed{seed}" / f"gm_ipc{ipc}.npz"
            X_gm, y_gm, _ = distilled(run, "gm", [("official", lambda: GradientMatchingDistiller(
                ipc=ipc, module_params={"width": p["width"]}, device=device, random_state=seed,
                **p["gm"]))], X, y, path)
            sets["gm"] = (X_gm, y_gm)
        return sets["gm"]

    def mtt_set():
        """The MTT set (X, y), its record and its ZCA transform."""
        if "mtt" not in sets:
            path = artifacts / f"seed{seed}" / f"mtt_ipc{ipc}.npz"
            memory = Memory(artifacts / "experts", verbose=0)

            def mtt(**changes):
                return lambda: TrajectoryMatchingDistiller(
                    ipc=ipc, module_params={"width": p["width"]}, device=device,
                    random_state=seed, memory=memory, **{**p["mtt"], **changes})

            # MTT's CIFAR-10 settings match 2 expert epochs; a long-tailed epoch is
            # ~10 batches, so the student overshoots and the step size collapses.
            # If they diverge, match 10 expert epochs instead (recorded either way).
            X_mtt, y_mtt, extra = distilled(run, "mtt", [
                ("official", mtt()), ("expert_epochs=10", mtt(expert_epochs=10))], X, y, path)
            sets["mtt"] = (X_mtt, y_mtt, extra, zca_transformer(path))
        return sets["mtt"]

    # Table 1, first row: ConvNet3 on the original data (also the grouping's features).
    original, sec = run.fit("train_original", convnet(p, device, seed), X, y)
    if "1" in tables or "2" in tables:
        run.record("table1", "Original", original, n, sec)

    # The grouping: eq. 3 on the final-layer features of the Original model.
    start = time.perf_counter()
    grouper = ClassGrouper(features="precomputed", random_state=seed)
    grouper.fit(original.embed(X), y)
    groups = [g.tolist() for g in grouper.groups_]
    run.seconds["grouping"] = time.perf_counter() - start
    run.groups = groups
    print(f"  groups: {[[str(data.target_names[c]) for c in g] for g in groups]}", flush=True)

    # Stage 1 on the original data is shared by every "Original + X" row.
    def two_stage(stage1_clf, stage2_data, class_estimator):
        return TwoStageClassifier(grouper=groups, group_estimator=stage1_clf,
                                  class_estimator=class_estimator, stage2_data=stage2_data,
                                  random_state=seed)

    if tables & {"2", "3", "extra"}:
        group_clf, _ = run.fit("train_group_classifier", convnet(p, device, seed), X,
                               grouper.group_labels(y))
        frozen_groups = FrozenEstimator(group_clf)

    if tables & {"2", "3"}:
        model, sec = run.fit("two_stage_original", two_stage(
            frozen_groups, "original", convnet(p, device, seed)), X, y)
        report = run.record("table2", "Original + Original", model, 2 * n, sec, groups)
        run.add("table3", report)

    if "baselines" in tables:
        baselines(run, p, device, seed, X, y)
    if "extra" in tables:
        extra_rows(run, p, device, seed, X, y, groups, frozen_groups, gm_set)

    # Rows on the GM-distilled set.
    if "1" in tables:
        X_gm, y_gm = gm_set()
        gm_clf, sec = run.fit("train_gm", convnet(p, device, seed, p["distilled_epochs"]), X_gm, y_gm)
        run.record("table1", "GM Distilled", gm_clf, len(y_gm), sec)
    if tables & {"2", "3"}:
        X_gm, y_gm = gm_set()
        model, sec = run.fit("two_stage_gm", two_stage(
            frozen_groups, PrecomputedSampler(X_gm, y_gm),
            convnet(p, device, seed, p["distilled_epochs"])), X, y)
        report = run.record("table2", "Original + GM Distilled", model, n + len(y_gm), sec, groups)
        run.add("table3", report)  # Original + GM in Table 3: the same model
    if "3" in tables:
        X_gm, y_gm = gm_set()
        gm_groups = convnet(p, device, seed, p["distilled_epochs"])
        model, sec = run.fit("two_stage_gm_gm", TwoStageClassifier(
            grouper=groups, group_estimator=gm_groups,
            class_estimator=convnet(p, device, seed, p["distilled_epochs"]),
            stage1_data=PrecomputedSampler(X_gm, y_gm), stage2_data=PrecomputedSampler(X_gm, y_gm),
            random_state=seed), X, y)
        run.record("table3", "GM Distilled + GM Distilled", model, 2 * len(y_gm), sec, groups)
    if args.figure and seed == args.seeds[0]:
        figure1(args, p, device, seed, data, *gm_set())

    # Rows on the MTT-distilled set.
    if "1" in tables:
        X_mtt, y_mtt, mtt_extra, zca = mtt_set()
        mtt_clf, sec = run.fit("train_mtt", mtt_evaluator(p, device, seed, mtt_extra, zca),
                               X_mtt, y_mtt)
        run.record("table1", "MTT Distilled", mtt_clf, len(y_mtt), sec)
    if "2" in tables:
        X_mtt, y_mtt, mtt_extra, zca = mtt_set()
        model, sec = run.fit("two_stage_mtt", two_stage(
            frozen_groups, PrecomputedSampler(X_mtt, y_mtt),
            mtt_evaluator(p, device, seed, mtt_extra, zca)), X, y)
        run.record("table2", "Original + MTT Distilled", model, n + len(y_mtt), sec, groups)
    run.complete = True
    return run


def baselines(run, p, device, seed, X, y):
    """What a practitioner would try, same ConvNet3 and training budget."""
    n = len(y)
    for name, kwargs in [
        ("Class-balanced CE (Cui 2019)", {"criterion": "class_balanced"}),
        ("Logit adjustment (Menon 2021)", {"criterion": "logit_adjusted"}),
        ("Logit adjustment + crop/flip", {"criterion": "logit_adjusted", "augmentation": "crop_flip"}),
        ("CE + crop/flip", {"augmentation": "crop_flip"}),
    ]:
        model, sec = run.fit(f"baseline:{name}", convnet(p, device, seed, **kwargs), X, y)
        run.record("baselines", name, model, n, sec)
    # Random over-sampling: the same number of SGD steps as the others.
    X_ros, y_ros = ImageSampler(RandomOverSampler(random_state=seed)).fit_resample(X, y)
    epochs = max(1, round(p["epochs"] * n / len(y_ros)))
    model, sec = run.fit("baseline:ros", convnet(p, device, seed, epochs), X_ros, y_ros)
    run.record("baselines", f"Random over-sampling ({epochs} epochs)", model, len(y_ros), sec)
    # A random balanced subset of ipc real images per class: distillation's baseline.
    strategy = {c: p["ipc"] for c in np.unique(y)}
    X_sub, y_sub = ImageSampler(RandomUnderSampler(sampling_strategy=strategy,
                                                   random_state=seed)).fit_resample(X, y)
    model, sec = run.fit("baseline:random", convnet(p, device, seed, p["distilled_epochs"]), X_sub, y_sub)
    run.record("baselines", f"Random {p['ipc']} real images per class", model, len(y_sub), sec)


def extra_rows(run, p, device, seed, X, y, groups, frozen_groups, gm_set):
    """Issue 7: two-stage models built from better parts, kept apart from the paper's rows.

    ``gm_set()`` gives the GM-distilled set; the rows on original data run first.
    """
    n = len(y)
    la_flip = {"criterion": "logit_adjusted", "augmentation": "crop_flip"}
    group_la, _ = run.fit("extra:group_la_flip", convnet(p, device, seed, **la_flip), X,
                          _group_labels(groups, y))
    configs = [
        ("Original(LA+flip) + Original(LA+flip)", FrozenEstimator(group_la), lambda: "original",
         convnet(p, device, seed, **la_flip), lambda: 2 * n),
        ("Original(CE) + Original(LA+flip)", frozen_groups, lambda: "original",
         convnet(p, device, seed, **la_flip), lambda: 2 * n),
        ("Original(LA+flip) + GM(DSA)", FrozenEstimator(group_la),
         lambda: PrecomputedSampler(*gm_set()),
         convnet(p, device, seed, p["dsa_epochs"], augmentation="dsa"),
         lambda: n + len(gm_set()[1])),
    ]
    for name, stage1, stage2, clf, images in configs:
        model, sec = run.fit(f"extra:{name}", TwoStageClassifier(
            grouper=groups, group_estimator=stage1, class_estimator=clf, stage2_data=stage2(),
            random_state=seed), X, y)
        run.record("extra", name, model, images(), sec, groups)
        # The same fitted model with soft routing (argmax of P(g|x) P(c|g,x)).
        model.set_params(routing="soft")
        run.record("extra", f"{name}, soft routing", model, images(), 0.0, groups)


def _group_labels(groups, y):
    lookup = {c: g for g, members in enumerate(groups) for c in members}
    return np.array([lookup[c] for c in y.tolist()])


def figure1(args, p, device, seed, data, X_gm, y_gm):
    """Figure 1: features of test images from nets trained on three data sets."""
    rng = np.random.RandomState(seed)
    # "Balanced": as many training images as the long-tailed set, spread evenly.
    per_class = len(data.y_train) // len(data.target_names)
    if p["data"] == "cifar10":
        full = load_cifar10_lt(source=args.source, imbalance_ratio=1, max_per_class=per_class)
    else:
        full = load_digits_lt(imbalance_ratio=1)
    balanced = (full.X_train, full.y_train)
    sources = {"balanced": balanced, "original": (data.X_train, data.y_train),
               "distilled": (X_gm, y_gm)}
    out = Path(args.out)
    for name, (X, y) in sources.items():
        epochs = p["distilled_epochs"] if name == "distilled" else p["epochs"]
        grouper = ClassGrouper(estimator=convnet(p, device, seed, epochs), random_state=seed).fit(X, y)
        keep = rng.choice(len(data.y_test), size=min(2000, len(data.y_test)), replace=False)
        named = [[str(data.target_names[c]) for c in g] for g in grouper.groups_]
        fig = plot_class_groups(grouper, data.X_test[keep], data.y_test[keep],
                                target_names=data.target_names, random_state=seed,
                                title=f"{name} training data: groups {named}")
        path = out / f"{args.profile}_figure1_{name}.png"
        fig.savefig(path, dpi=110, bbox_inches="tight")
        print(f"  wrote {path}; groups from {name} data: {[g.tolist() for g in grouper.groups_]}")


# -- results ----------------------------------------------------------------------
def environment(args):
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                                text=True, cwd=HERE, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, cwd=HERE).stdout.strip()
        commit += "+dirty" if dirty else ""
    except (OSError, subprocess.CalledProcessError):
        commit = "unknown"
    device = (torch.cuda.get_device_name(0) if torch.cuda.is_available() and args.device != "cpu"
              else f"CPU ({platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
                   f"{torch.get_num_threads()} threads)")
    return {"device": device, "torch": torch.__version__, "python": platform.python_version(),
            "commit": commit, "command": " ".join(["python"] + sys.argv)}


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
    for table in ("table1", "table2", "table3", "baselines", "extra"):
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
        "command": [s["command"] for s in seeds],
        "incomplete_seeds": [s["seed"] for s in seeds if s.get("complete") is False],
        "wall_time_s": {k: mean_std([s["wall_time_s"].get(k) for s in seeds])
                        for k in dict.fromkeys(k for s in seeds for k in s["wall_time_s"])},
        "groups": [s.get("groups") for s in seeds],
        "distillation": [s.get("distillation") for s in seeds],
        "tables": tables,
    }
    (out / f"{profile_name}.json").write_text(json.dumps(merged, indent=1))
    (out / f"{profile_name}.md").write_text(markdown(merged))
    print(f"merged {len(seeds)} seed file(s) into {out / profile_name}.json and .md")
    return merged


def _pm(stat):
    if stat is None:
        return "-"
    return f"{stat['mean']:.1f} ± {stat['std']:.1f}" if stat["n"] > 1 else f"{stat['mean']:.1f}"


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
                  if merged.get("incomplete_seeds") else []) + [
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
                  "| group acc | paper | few-shot acc |",
                  "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
        for r in rows:
            paper = r["paper"] or {}
            lines.append(
                f"| {r['name']} | {r['train_images']} | {_pm(r['total_acc'])} | "
                f"{paper.get('total_acc', '-')} | {_diff(r['total_acc'], paper.get('total_acc'))} | "
                f"{_pm(r['acc_std'])} | {paper.get('acc_std', '-')} | "
                f"{_diff(r['acc_std'], paper.get('acc_std'))} | {_pm(r['group_acc'])} | "
                f"{paper.get('group_acc') or '-'} | {_pm(r['few_shot'])} |")
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


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", choices=sorted(PROFILES), default="smoke")
    parser.add_argument("--seeds", type=int, nargs="+", default=None,
                        help="seeds to run (default: the profile's)")
    parser.add_argument("--tables", nargs="+", default=["1", "2", "3", "baselines", "extra"],
                        choices=["1", "2", "3", "baselines", "extra"])
    parser.add_argument("--source", default=os.environ.get("SKLEARN_LTDD_CIFAR10"),
                        help="CIFAR-10 hub id or local folder")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--out", default=str(HERE / "results"))
    parser.add_argument("--artifacts", default=str(HERE / "artifacts"))
    parser.add_argument("--figure", action="store_true", help="also draw Figure 1")
    parser.add_argument("--merge-only", action="store_true",
                        help="only merge the seed files already in --out")
    args = parser.parse_args(argv)
    profile = PROFILES[args.profile]
    out = Path(args.out)
    if args.merge_only:
        merge(out, args.profile)
        return 0
    args.seeds = args.seeds if args.seeds is not None else profile["seeds"]
    (out / args.profile).mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    data = load_data(profile, args.source)
    load_seconds = time.perf_counter() - start
    env = environment(args)
    print(f"profile {args.profile}: {len(data.y_train)} training images "
          f"{data.class_counts.tolist()}, device {env['device']}", flush=True)
    for seed in args.seeds:
        print(f"seed {seed}", flush=True)
        seed_start = time.perf_counter()
        path = out / args.profile / f"seed{seed}.json"

        def save(run, path=path, seed=seed, seed_start=seed_start):
            wall = {"load_data": load_seconds, **run.seconds,
                    "total": time.perf_counter() - seed_start}
            record = {"profile": args.profile, "seed": seed, "settings": settings(profile), **env,
                      "complete": run.complete, "wall_time_s": wall,
                      "reused_artifacts": run.reused, "distillation": run.notes,
                      "groups": run.groups, "tables": run.rows}
            path.write_text(json.dumps(record, indent=1))

        run = run_seed(args, profile, data, seed, Path(args.artifacts) / args.profile, save)
        save(run)
        print(format_long_tail_table([r for rows in run.rows.values() for r in rows],
                                     per_class=False))
    merge(out, args.profile)
    return 0


if __name__ == "__main__":
    sys.exit(main())
