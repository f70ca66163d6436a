"""The runner that fits one seed of the declared tables (``declarations.py``).

:func:`run_seed` resolves what the rows ask for once, records every row
(checkpointing the seed file after each), skips rows already recorded, and
orders the work so that rows needing no distillation come first, then each
distillation with the rows that need it, in the order the sets are declared;
:class:`~.common.OutOfTime` stops it where the budget ends.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
from sklearn.frozen import FrozenEstimator

from sklearn_ltdd import ClassGrouper, TwoStageClassifier
from sklearn_ltdd.metrics import long_tail_report
from sklearn_ltdd.nets import make_student
from sklearn_ltdd.sampling import PrecomputedSampler

from .chunks import distil, entry_stage, fit_resumably
from .common import Budget, changed_params, write_json
from .declarations import SampledSet, Shared
from .figures import figure_panel
from .profiles import convnet, settings, speed
from .students import fit_students
from .tables import ROW_ORDER


# -- one seed ------------------------------------------------------------------------------
class Run:
    """The record of one seed: its rows, figures, wall times and distillation notes.

    ``previous`` is this seed's record from an earlier run (another GPU
    window, or the CPU): its rows are kept and not recomputed.
    """

    def __init__(self, data, profile, env, seed, checkpoint=None, previous=None):
        self.data, self.profile, self.env, self.seed = data, profile, env, seed
        self.checkpoint = checkpoint
        previous = previous or {}
        self.complete = False
        self.groups = previous.get("groups")
        self.rows = previous.get("tables", {})
        self.figures = previous.get("figures", {})
        earlier = previous.get("wall_time_s", {})
        self.seconds = {k: v for k, v in earlier.items() if k not in ("total", "load_data")}
        self.earlier_total = earlier.get("total", 0.0)  # the runs before this one
        self.reused = []  # sets and networks loaded from --artifacts
        self.earlier_reused = list(previous.get("reused_artifacts") or ())
        self.earlier_seconds = dict(self.seconds)
        self.notes = previous.get("distillation") or {}
        self.history = previous.get("history", [])
        self.added = []

    def reused_artifacts(self):
        """What this record's runs loaded instead of making: this run's loads, and the
        earlier runs' where this run did not make that stage again (its wall time is still
        the one they recorded): a merged report still marks a stage that an earlier run of
        the seed loaded and the latest one did not touch."""

        def untouched(entry):
            stage = entry_stage(entry)
            keys = [k for k in (stage, f"distill_{stage}") if k in self.earlier_seconds]
            return all(self.seconds.get(k) == self.earlier_seconds[k] for k in keys)

        kept = [a for a in self.earlier_reused if a not in self.reused and untouched(a)]
        return kept + self.reused

    def has(self, table, name):
        return any(r["name"] == name for r in self.rows.get(table, []))

    def score(self, name, model, n_images, groups=None):
        """``model``'s long-tail report on the test set."""
        return long_tail_report(
            self.data.y_test,
            model.predict(self.data.X_test),
            name=name,
            n_train_images=n_images,
            groups=groups,
            target_names=self.data.target_names,
            train_counts=self.data.class_counts,
            verbose=False,
        )

    def record(self, table, name, model, n_images, seconds, groups=None, report=None):
        """Score ``model`` (or take its ``report``), print the row and add it to ``table``."""
        report = report or self.score(name, model, n_images, groups)
        report["seconds"] = seconds
        report["device"] = self.env["device"]
        if groups is not None:
            report["groups"] = [[str(self.data.target_names[c]) for c in g] for g in groups]
        print(
            f"  [{table}] {name}: total {report['total_acc']:.1f} %, Acc Std "
            f"{report['acc_std']:.1f} ({seconds:.0f} s)",
            flush=True,
        )
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


class Context:
    """What a recipe sees: the profile ``p``, ``device``, ``seed``, the data, and the
    shared parts (groups, networks, sets), each made once per seed on first use."""

    def __init__(self, declarations, run, args, artifacts, budget, export):
        self.decl, self.run, self.args = declarations, run, args
        self.p, self.seed, self.data = run.profile, run.seed, run.data
        self.device = run.env["run_device"]
        self.X, self.y = run.data.X_train, run.data.y_train
        self.n, self.ipc = len(self.y), self.p["ipc"]
        self.n_classes = len(run.data.target_names)
        self.seed_dir = Path(artifacts) / f"seed{self.seed}"
        self.budget, self.export = budget or Budget(), export
        self._networks, self._sets = {}, {}

    # -- recipes' building blocks ---------------------------------------------------------
    def net(self, epochs=None, **kwargs):
        """ConvNet3 at the profile's width and epochs (``epochs`` may be a profile key)."""
        return convnet(self.p, self.device, self.seed, epochs, **kwargs)

    def student(self, teacher=None, **params):
        """The one student recipe (``make_student``) at the profile's width and epochs;
        ``teacher`` a shared network's name for soft labels, None for hard labels."""
        if params.get("recipe", "") is None:  # the package's default recipe
            params = {k: v for k, v in params.items() if k != "recipe"}
        if teacher == "teacher" and self.p.get("teacher", {}).get("ensemble"):
            teacher = "teachers"  # the profile's two teachers, their mean logits
        own = {
            "max_epochs": self.p["student_epochs"],
            "device": self.device,
            "random_state": self.seed,
            **speed(self.p),
        }
        if "module" not in params:  # another network has sizes of its own
            own["module__width"] = self.p["width"]
        return make_student(None if teacher is None else self.frozen(teacher), **{**own, **params})

    def evaluator(self, key, **params):
        """The set's own evaluation recipe (``make_evaluator``) at the profile's width."""
        spec = self.decl.sets[key]
        params = {
            "max_epochs": self.p[spec.eval_epochs],
            "device": self.device,
            "random_state": self.seed,
            "module__width": self.p["width"],
            **params,
        }
        return self.set(key).make_evaluator(**params)

    def groups(self):
        """Eq. 3 on the final-layer features of the Original network (recorded once)."""
        run = self.run
        if run.groups is None:
            model = self.network("original")
            start = time.perf_counter()
            grouper = ClassGrouper(features="precomputed", random_state=self.seed)
            grouper.fit(model.embed(self.X), self.y)
            run.groups = [g.tolist() for g in grouper.groups_]
            run.seconds["grouping"] = time.perf_counter() - start
            print(
                f"  groups: {[[str(self.data.target_names[c]) for c in g] for g in run.groups]}",
                flush=True,
            )
        return run.groups

    def group_labels(self, y):
        lookup = {c: g for g, members in enumerate(self.groups()) for c in members}
        return np.array([lookup[c] for c in np.asarray(y).tolist()])

    def network(self, name):
        """The shared network ``name``, fitted on first use."""
        return self._network(name)[0]

    def frozen(self, name):
        """The shared network ``name`` wrapped in ``FrozenEstimator`` (never refitted);
        ``"teachers"``: the mean logits of the networks ``teacher`` and ``teacher2``."""
        if name == "teachers":
            from sklearn_ltdd.nets import LogitAverage

            return FrozenEstimator(
                LogitAverage.of_fitted([self.network("teacher"), self.network("teacher2")])
            )
        return FrozenEstimator(self.network(name))

    def _network(self, name):
        """The shared network ``name``, fitted once per seed. A profile with a
        ``network_cache`` keeps each fitted network under ``--artifacts`` (joblib) and
        loads it in later runs, so a run over several sessions (or the ipc variants
        of one profile family) trains its long networks once."""
        if name not in self._networks:
            spec = self.decl.networks[name]
            y = self.group_labels(self.y) if spec.labels == "groups" else self.y
            cache = self._network_path(name)
            model = spec.make(self)
            cached = _load_kept(self.run, cache, model, f"network:{name}")
            if cached is not None:
                self._networks[name] = cached
            elif cache is not None and hasattr(model, "resume_fit"):
                self._networks[name] = fit_resumably(self.run, name, model, self.X, y, cache)
            else:
                self._networks[name] = self.run.fit(f"network:{name}", model, self.X, y)
                if cache is not None:
                    import joblib

                    cache.parent.mkdir(parents=True, exist_ok=True)
                    joblib.dump(self._networks[name], cache)
        return self._networks[name]

    def fit_row(self, stage, model, X, y):
        """A row's model, fitted. Where the profile keeps its networks (``network_cache``)
        and says ``row_checkpoint_s``, a net is pickled that often during its fit
        (``row_<stage>.partial.pkl`` in the profile's folder: a family's ipc variants name
        rows alike; hundreds of MB for a ResNet-18, never committed), a run stopped part-way
        finishes it from there (``resume_fit``), and the finished net is kept until
        :meth:`row_recorded`, so that a run stopped while it is scored loses nothing either."""
        cache = self._row_path(stage)
        if cache is None or not hasattr(model, "resume_fit"):
            return self.run.fit(stage, model, X, y)
        cached = _load_kept(self.run, cache, model, stage)
        if cached is not None:
            return cached
        return fit_resumably(self.run, stage, model, X, y, cache, stage, self.p["row_checkpoint_s"])

    def row_recorded(self, stage):
        """Remove the row's kept net (:meth:`fit_row`) once its scores are in the record."""
        cache = self._row_path(stage)
        if cache is not None:
            cache.unlink(missing_ok=True)

    def _row_path(self, stage):
        if not self.p.get("row_checkpoint_s") or self._kept_dir() is None:
            return None
        slug = "".join(c if c.isalnum() else "_" for c in stage).strip("_")
        return self.seed_dir / f"row_{slug}.joblib"  # the profile's own folder

    def _kept_dir(self):
        """Where this seed's networks are kept across runs (``network_cache``), or None."""
        family = self.p.get("network_cache")
        return Path(self.args.artifacts) / family / f"seed{self.seed}" if family else None

    def _network_path(self, name):
        root = self._kept_dir()
        return None if root is None else root / f"network_{name}.joblib"

    def two_stage(self, stage1, stage2, class_estimator, **kwargs):
        """The paper's two-stage model on this seed's groups; ``stage2`` is "original" or a
        set's key, ``stage1`` a (frozen) group classifier."""
        if stage2 != "original":
            stage2 = self.sampler(stage2)
        return TwoStageClassifier(
            grouper=self.groups(),
            group_estimator=stage1,
            class_estimator=class_estimator,
            stage2_data=stage2,
            random_state=self.seed,
            **kwargs,
        )

    # -- sets -------------------------------------------------------------------------------
    def set(self, key):
        """The fitted distiller (or sampler) of set ``key``, made on first use."""
        if key not in self._sets:
            spec = self.decl.sets[key]
            if isinstance(spec, SampledSet):
                sampler = spec.make(self)
                start = time.perf_counter()
                X_res, y_res = sampler.fit_resample(self.X, self.y)
                self.run.seconds[f"select_{key}"] = time.perf_counter() - start
                sampler.X_syn_, sampler.y_syn_ = np.asarray(X_res), np.asarray(y_res)
                self._sets[key] = sampler
            else:
                attempts = [(label, lambda make=make: make(self)) for label, make in spec.attempts]
                self._sets[key] = distil(
                    self.run,
                    key,
                    attempts,
                    self.X,
                    self.y,
                    self.seed_dir / f"{key}_ipc{self.ipc}.npz",
                    spec.iterations(self.p),
                    self.budget,
                    self.export,
                )
        return self._sets[key]

    def data_of(self, key):
        """``(X, y)`` of set ``key``, or of the original training set."""
        if key == "original":
            return self.X, self.y
        fitted = self.set(key)
        return fitted.X_syn_, fitted.y_syn_

    def sampler(self, key):
        """Set ``key`` as a sampler that returns it (a two-stage model's stage data)."""
        return PrecomputedSampler(*self.data_of(key))


# -- the runner -------------------------------------------------------------------------------
def run_seed(
    declarations,
    args,
    profile,
    data,
    seed,
    artifacts,
    env,
    checkpoint=None,
    previous=None,
    budget=None,
    export=None,
):
    """Every wanted row of one seed, skipping those already in ``previous``.

    Work goes phase by phase (:meth:`Declarations.phase`): rows, then the
    figures, of each phase in the order they are declared. ``checkpoint(run)``
    is called after each recorded row, ``export()`` after each distillation
    chunk and figure, so a run stopped by a time limit (a GPU window) keeps
    what it finished; :class:`~.common.OutOfTime` ends the run early when
    ``budget`` is spent.
    """
    run = Run(data, profile, env, seed, checkpoint, previous)
    ctx = Context(declarations, run, args, artifacts, budget, export)
    wanted = set(args.tables)
    figures = list(declarations.figures) if args.figure and seed == args.seeds[0] else []
    rows = [r for r in declarations.rows if r.key in wanted]
    for phase in sorted({declarations.phase(item) for item in rows + figures}):
        for row in (r for r in rows if declarations.phase(r) == phase):
            _run_row(ctx, row)
        for figure in (f for f in figures if declarations.phase(f) == phase):
            figure_panel(ctx, figure)
    run.complete = True
    return run


def _run_row(ctx, row):
    run = ctx.run
    name = row.name(ctx) if callable(row.name) else row.name
    names = [name] + ([f"{name}, soft routing"] if row.soft_routing else [])
    if all(run.has(table, n) for table in row.tables for n in names):
        return
    if isinstance(row.model, Shared):
        model, seconds = ctx._network(row.model.network)
        n_images = ctx.n
    else:
        X, y = ctx.data_of(row.data)
        model, seconds = ctx.fit_row(f"{row.tables[0]}:{name}", row.model(ctx), X, y)
        n_images = getattr(model, "n_train_images_", None) or len(y)
    groups = ctx.groups() if isinstance(model, TwoStageClassifier) else None
    if row.students > 1:
        report, seconds = fit_students(ctx, row, name, model, seconds, n_images)
        report = run.record(row.tables[0], name, None, n_images, seconds, report=report)
    else:
        report = run.record(row.tables[0], name, model, n_images, seconds, groups)
    for table in row.tables[1:]:
        run.add(table, report)
    if row.soft_routing:  # the same fitted model: argmax of P(g|x) P(c|g,x)
        model.set_params(routing="soft")
        run.record(row.tables[0], names[1], model, n_images, 0.0, groups)
    if not isinstance(row.model, Shared):
        ctx.row_recorded(f"{row.tables[0]}:{name}")


def _load_kept(run, cache, model, stage):
    """``(model, seconds)`` kept at ``cache`` (joblib) for a net of ``model``'s settings,
    listed in ``run``'s reused artifacts with the seconds of its fit; None where there is
    none, or it has other settings (fitted again, never mixed in)."""
    if cache is None or not cache.exists():
        return None
    import joblib

    cached = joblib.load(cache)
    changed = changed_params(cached[0], model)
    if changed:
        print(f"  cached {stage} had {changed}; fitting it again", flush=True)
        return None
    run.reused.append(stage)
    run.seconds.setdefault(stage, cached[1])
    return cached


def seed_saver(path, args, profile, env, seed, load_seconds):
    """``save(run)``: write the seed's record (atomically) with its wall times and history
    (``total``: of every run that made the record, this one's added to the earlier ones')."""
    seed_start = time.perf_counter()

    def save(run):
        total = run.earlier_total + time.perf_counter() - seed_start
        wall = {"load_data": load_seconds, **run.seconds, "total": total}
        this = {k: env[k] for k in ("device", "torch", "commit", "command")}
        this["rows_added"] = list(run.added)
        this["complete"] = run.complete
        write_json(
            path,
            {
                "profile": args.profile,
                "seed": seed,
                "settings": settings(profile),
                **{k: v for k, v in env.items() if k != "run_device"},
                "complete": run.complete,
                "wall_time_s": wall,
                "reused_artifacts": run.reused_artifacts(),
                "distillation": run.notes,
                "groups": run.groups,
                "figures": run.figures,
                "history": run.history + [this],
                "tables": run.rows,
            },
        )

    return save
