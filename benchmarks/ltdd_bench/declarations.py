"""The declarations a table is made of (``reproduce_paper.py`` and
``paper_sets.py`` hold them; ``runner.py`` fits them):

* :class:`Row`: one row: the table(s) it is recorded in, its name, the
  estimator that produces it (a *recipe*: a function of the runner's context
  returning an unfitted estimator, or :class:`Shared` for a network that
  other rows use too), the data ``fit`` gets and the sets it needs;
* :class:`DistilledSet`: a distillation, run once per seed in checkpointed
  chunks (:func:`.chunks.distil`) and reused by every row that names it;
* :class:`SampledSet`: a cheap resampling of the training set (a random
  subset, over-sampling), made once per seed;
* :class:`Network`: a network several rows share (the Original ConvNet3
  whose features group the classes, stage 1 on group labels, a backbone),
  fitted once per seed;
* :class:`Figure`: a panel of the paper's Figure 1;
* :class:`Declarations`: all of them, and the order of the work.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

#: ``--tables`` keys of the paper's tables; other tables are selected by their own name.
PAPER_KEYS = {"table1": "1", "table2": "2", "table3": "3"}


# -- declarations -----------------------------------------------------------------------
@dataclass(frozen=True)
class Shared:
    """A row whose model is the shared :class:`Network` ``name`` (fitted once per seed)."""

    network: str


@dataclass(frozen=True)
class Row:
    """One row of a table.

    ``tables``: where the report goes (the same fitted model can be a row of
    several tables); ``name``: a string, or a function of the context;
    ``model``: the recipe, ``f(ctx) -> unfitted estimator``, or
    :class:`Shared`; ``data``: what ``fit`` gets, ``"original"`` or a set's
    key (the model then trains on that set); ``needs``: further sets the
    recipe uses (a two-stage model's stage-2 set); ``select``: the
    ``--tables`` key (default: "1", "2", "3" for the paper's tables, else the
    table's name); ``soft_routing``: also record the fitted two-stage model
    with ``routing="soft"``; ``students``: fit the recipe this many times, the
    ``j``-th with ``random_state`` r + 1000 j (r the first fit's, the seed in every
    recipe today), and record the mean of their
    scores (each one's total and few-shot accuracy beside it): a small set's
    figure is then its own, less one student's luck (the official DC/DM and
    MTT code train several evaluation networks per set); ``asked_only``: run only
    when its ``--tables`` key is asked for (a diagnostic, not a row of every run).
    The images a row counts are the model's ``n_train_images_`` (two-stage
    models: both stages) or the size of its training data.
    """

    tables: tuple
    name: object
    model: object
    data: str = "original"
    needs: tuple = ()
    select: str | None = None
    soft_routing: bool = False
    students: int = 1
    asked_only: bool = False

    def __post_init__(self):
        if isinstance(self.tables, str):
            object.__setattr__(self, "tables", (self.tables,))
        if self.students > 1 and (isinstance(self.model, Shared) or self.soft_routing):
            raise ValueError("students > 1 needs a recipe of its own (not Shared, no soft_routing)")

    @property
    def sets(self) -> tuple:
        return tuple(
            dict.fromkeys(((self.data,) if self.data != "original" else ()) + tuple(self.needs))
        )

    @property
    def key(self) -> str:
        return self.select or PAPER_KEYS.get(self.tables[0], self.tables[0])


@dataclass(frozen=True)
class Network:
    """A network several rows share: ``make(ctx)`` fitted on the original images with
    the class labels, or with the group labels (``labels="groups"``)."""

    make: Callable
    labels: str = "classes"


@dataclass(frozen=True)
class DistilledSet:
    """A distillation: ``attempts`` are (label, ``make(ctx)``) pairs tried in turn (the
    official settings first; the next only if they diverge), ``setting`` the profile's
    key of its settings (``n_iterations`` among them), ``eval_epochs`` the profile's key
    of its evaluation epochs."""

    attempts: tuple
    setting: str
    eval_epochs: str = "dsa_epochs"

    def iterations(self, profile) -> int:
        return profile[self.setting]["n_iterations"]


@dataclass(frozen=True)
class SampledSet:
    """A resampling of the training set, ``make(ctx).fit_resample(X, y)``, once per seed."""

    make: Callable


@dataclass(frozen=True)
class Figure:
    """A panel of Figure 1: groups and features of a network trained on ``data``
    ("balanced", "original" or a set's key) for the profile's ``epochs`` key."""

    panel: str
    data: str
    epochs: str = "epochs"

    @property
    def sets(self) -> tuple:
        return () if self.data in ("balanced", "original") else (self.data,)


@dataclass
class Declarations:
    """Everything a ``reproduce_paper.py`` run may fit: rows, sets, networks, figures."""

    rows: list
    sets: dict
    networks: dict
    figures: list = ()

    def runnable(self, profile, keys, asked=None):
        """``(tables, error)``: the ``--tables`` keys to run (``asked``, or by default
        every key of ``keys`` whose rows' distilled sets have their settings in
        ``profile``, but for rows ``asked_only``) and, where one asked for needs
        settings the profile lacks, an error that names them."""
        lacking = {}
        for row in self.rows:
            for name in row.sets:
                spec = self.sets.get(name)
                if isinstance(spec, DistilledSet) and spec.setting not in profile:
                    lacking.setdefault(row.key, set()).add(spec.setting)
        if asked is None:
            skip = lacking.keys() | {row.key for row in self.rows if row.asked_only}
            return [key for key in keys if key not in skip], None
        refused = sorted(set(asked) & set(lacking))
        if refused:
            needs = sorted(set().union(*(lacking[key] for key in refused)))
            return asked, (
                f"--tables {' '.join(refused)} needs the profile setting(s) {', '.join(needs)}"
            )
        return asked, None

    def phase(self, item) -> int:
        """0 for work that needs no distillation, else 1 + the position of the last
        distilled set it needs, in the order the sets are declared."""
        order = [k for k, s in self.sets.items() if isinstance(s, DistilledSet)]
        return max([order.index(k) + 1 for k in item.sets if k in order], default=0)
