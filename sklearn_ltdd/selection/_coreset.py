"""CoresetSampler: a balanced choice of real images, with prune-combine-augment's combine step."""

from __future__ import annotations

import functools
import inspect
import numbers
import warnings

import numpy as np
import torch
from sklearn.base import BaseEstimator
from sklearn.frozen import FrozenEstimator
from sklearn.preprocessing import LabelEncoder
from sklearn.utils import check_random_state, check_scalar

from ..augmentation._tiles import expand_tiles, tile_images
from ..nets import ConvNetClassifier
from ..nets._modules import ConvNet
from ..sampling._base import SamplerMixin
from ..utils import check_images_labels
from ..utils._acceleration import SpeedOptionsMixin
from ..utils._deprecation import ModuleKwargsMixin
from ..utils._estimators import fitted_estimator
from ..utils._validation import check_option
from ._strategies import DIFFICULTIES, STRATEGIES, difficulty_scores, select

WINDOWS = ("auto", "easiest")


def _keywords_soon(init):
    """``__init__`` whose parameters are keyword-only: positional ones still work for
    two releases, with a FutureWarning (scikit-learn's way of making them keywords)."""
    names = [
        p.name for p in inspect.signature(init).parameters.values() if p.kind is p.KEYWORD_ONLY
    ]

    @functools.wraps(init)
    def wrapper(self, *args, **kwargs):
        if args:
            given = dict(zip(names, args))
            warnings.warn(
                f"Pass {', '.join(f'{k}={v!r}' for k, v in given.items())} as keyword "
                f"arguments: from 0.4, CoresetSampler takes keywords only, as the distillers "
                f"do.",
                FutureWarning,
                stacklevel=2,
            )
            kwargs = {**given, **kwargs}
        init(self, **kwargs)

    return wrapper


class CoresetSampler(ModuleKwargsMixin, SpeedOptionsMixin, SamplerMixin, BaseEstimator):
    """Choose ``ipc`` real images per class: random, representative, or of the right difficulty.

    An under-sampler in imbalanced-learn's sense: ``fit_resample(X, y)``
    returns real images of every class, at most ``ipc`` per class (a class
    with fewer keeps all of its images, with a warning, never duplicated),
    and ``sample_indices_`` says which rows of ``X`` they are. The
    strategies, each from its source:

    * ``"random"``: a uniform draw per class (the control of every
      distillation paper);
    * ``"herding"``: the images whose running mean stays closest to the
      class mean in a network's feature space (Welling 2009, as iCaRL
      selects exemplars, Rebuffi et al. 2017), greedy and deterministic;
    * ``"k_center"``: greedy farthest-first coverage of the class in feature
      space (Sener and Savarese 2018), started from the image nearest the
      class mean, deterministic;
    * ``"difficulty"``: images ranked by a scoring network's difficulty
      (``difficulty``: EL2N, Paul et al. 2021, the loss, or the margin) and
      chosen inside a window fitted to the budget (``window``): the smaller
      the share of a class that is kept, the easier the images, as
      "Beyond neural scaling laws" (Sorscher et al. 2022), coverage-centric
      selection (Zheng et al. 2023) and CAD-Prune ("Rethinking dataset
      distillation: hard truths about soft labels", 2026) find for small
      budgets.

    **Combine** (``combine=4``, the combine step of prune-combine-augment,
    "Unifying dataset pruning and distillation", 2026; IDM's partition and
    expansion; RDED's stitching): every stored image holds four selected
    images of its class at half resolution in its quadrants, so the budget
    of ``ipc`` stored images per class holds ``4 * ipc`` real images.
    ``fit_resample`` returns them decoded for training (each quadrant
    upsampled back to full size, :func:`~sklearn_ltdd.augmentation.expand_tiles`),
    ``X_stored_`` the stored images. A class with fewer than ``4 * ipc``
    images stores as many four-image tiles as leave it ``ipc`` stored
    images in all, the rest at full resolution.

    Parameters
    ----------
    ipc : int, default=10
        Stored images per class.
    strategy : {"difficulty", "herding", "k_center", "random"}, default="difficulty"
    estimator : classifier or None, default=None
        The network that scores (``difficulty``) and embeds (``herding``,
        ``k_center``): a fitted one wrapped in ``FrozenEstimator`` is used
        as it is, an unfitted one is cloned and fitted on ``(X, y)``, None
        fits the default: ConvNet3 (``module``, ``module__<name>``) with
        logit adjustment and crop + flip for ``scoring_epochs`` epochs.
        Features are its ``embed`` (penultimate layer), L2-normalised.
    difficulty : {"el2n", "loss", "margin"}, default="el2n"
        The score: the distance of the predicted probabilities to the
        one-hot label, the cross-entropy, or minus the margin of the true
        class's probability over the best other one.
    window : "auto", "easiest" or (float, float), default="auto"
        Which ranks (easy to hard) of a class ``"difficulty"`` takes. "auto":
        with a share ``r`` of the class kept, leave out the hardest ``max(0,
        0.5 - r)`` and take evenly spaced ranks of the rest (easy images,
        spread out, for small budgets; the whole range as ``r`` grows);
        "easiest": the easiest images; ``(low, high)``: evenly spaced ranks
        in that quantile range.
    combine : {1, 4}, default=1
        Selected images per stored image.
    scoring_epochs : int, default=30
        Training epochs of the default scoring network.
    module, module__<name>, device
        Its network class, constructor arguments (``module__width=32``, as
        :class:`~sklearn_ltdd.nets.ConvNetClassifier` takes them) and device.
    module_params : dict, default=None
        Deprecated (0.2; removed in 0.4): the constructor arguments as a dict.
    precision, compile, micro_batch
        The speed options (:class:`~sklearn_ltdd.utils.SpeedOptionsMixin`)
        of the default scoring network.
    random_state : int, RandomState instance or None, default=None
        The random draws ("random") and the default network's seed.
    verbose : int, default=0
        1: an epoch bar while the scoring network trains.

    Attributes
    ----------
    X_syn_, y_syn_ : ndarrays
        The returned training set (decoded tiles with ``combine=4``), as the
        distillers keep theirs.
    sample_indices_ : ndarray of shape (n_resampled,)
        Row of ``X`` of each returned image.
    X_stored_ : ndarray
        The stored images (with ``combine=4``, the four-image tiles and the
        full-resolution rest), class by class.
    stored_indices_ : list of ndarray
        Rows of ``X`` each stored image holds.
    scores_ : ndarray of shape (n_samples,) or None
        The difficulty of every training image (``"difficulty"``).
    estimator_ : fitted classifier or None
    classes_ : ndarray
    sampling_strategy_ : dict
        Images returned per class.
    n_features_in_ : int

    Examples
    --------
    >>> from sklearn_ltdd.datasets import load_digits_lt
    >>> X, y, _, _ = load_digits_lt(return_X_y=True)
    >>> sampler = CoresetSampler(ipc=5, strategy="herding", scoring_epochs=2,
    ...                          module__width=8, random_state=0)
    >>> X_res, y_res = sampler.fit_resample(X, y)
    >>> X_res.shape, np.bincount(y_res).tolist()
    ((50, 1, 16, 16), [5, 5, 5, 5, 5, 5, 5, 5, 5, 5])
    >>> bool((X_res == X[sampler.sample_indices_]).all())
    True
    """

    _sampling_type = "under-sampling"

    @_keywords_soon
    def __init__(
        self,
        *,
        ipc=10,
        strategy="difficulty",
        estimator=None,
        difficulty="el2n",
        window="auto",
        combine=1,
        scoring_epochs=30,
        module=ConvNet,
        module_params=None,
        precision="fp32",
        compile=False,
        micro_batch="auto",
        device="auto",
        random_state=None,
        verbose=0,
        **kwargs,
    ):
        self._set_module_kwargs(kwargs)
        self.ipc = ipc
        self.strategy = strategy
        self.estimator = estimator
        self.difficulty = difficulty
        self.window = window
        self.combine = combine
        self.scoring_epochs = scoring_epochs
        self.module = module
        self.module_params = module_params
        self.precision = precision
        self.compile = compile
        self.micro_batch = micro_batch
        self.device = device
        self.random_state = random_state
        self.verbose = verbose

    # -- parameters --------------------------------------------------------------------
    def _check_params(self):
        self._check_module_kwargs()
        self._warn_module_params()
        check_scalar(self.ipc, "ipc", numbers.Integral, min_val=1)
        check_option(self.strategy, STRATEGIES, "strategy")
        check_option(self.difficulty, DIFFICULTIES, "difficulty")
        check_option(self.combine, (1, 4), "combine")
        check_scalar(self.scoring_epochs, "scoring_epochs", numbers.Integral, min_val=1)
        self._check_speed_options()
        inner = (
            self.estimator.estimator
            if isinstance(self.estimator, FrozenEstimator)
            else self.estimator
        )
        if (
            inner is not None
            and self.strategy in ("herding", "k_center")
            and not hasattr(inner, "embed")
        ):  # before any network trains
            raise ValueError(
                f"strategy={self.strategy!r} selects in a network's feature "
                f"space: estimator needs an embed(X) method (a "
                f"ConvNetClassifier), got {type(inner).__name__}."
            )
        if (
            inner is not None
            and self.strategy == "difficulty"
            and not hasattr(inner, "predict_proba")
        ):
            raise ValueError(
                f"strategy='difficulty' needs the estimator's predict_proba; "
                f"{type(inner).__name__} has none."
            )
        window = self.window
        if isinstance(window, str):
            check_option(window, WINDOWS, "window")
        elif not (
            isinstance(window, (tuple, list))
            and len(window) == 2
            and 0 <= float(window[0]) < float(window[1]) <= 1
        ):
            raise ValueError(
                f"window must be 'auto', 'easiest' or (low, high) with "
                f"0 <= low < high <= 1, got {window!r}."
            )

    def _network(self, X, y, rng):
        """The fitted scoring and embedding network (None for "random")."""
        if self.strategy == "random":
            return None
        seed = int(rng.randint(2**31 - 1))
        return fitted_estimator(
            self.estimator,
            lambda: self.default_network(seed, images=X.ndim == 4),
            X,
            y,
            role="scoring network",
            seed=seed,
            verbose=self.verbose,
        )

    def default_network(self, seed=None, images=True):
        """The default scoring network: ConvNet3 with logit adjustment (crop + flip on images)."""
        return ConvNetClassifier(
            module=self.module,
            **{f"module__{k}": v for k, v in self._module_kwargs().items()},
            criterion="logit_adjusted",
            augmentation="crop_flip" if images else None,
            max_epochs=self.scoring_epochs,
            precision=self.precision,
            compile=self.compile,
            micro_batch=self.micro_batch,
            device=self.device,
            random_state=seed,
        )

    def default_estimator(self, seed=None, images=True):
        """Deprecated: renamed :meth:`default_network` in 0.2 (one name across the
        package, as the distillers'); removed in 0.4."""
        warnings.warn(
            "CoresetSampler.default_estimator was renamed default_network in 0.2 "
            "and will be removed in 0.4.",
            FutureWarning,
            stacklevel=2,
        )
        return self.default_network(seed, images)

    def make_student(self, teacher=None, *, recipe=None, **params):
        """An unfitted student of a named recipe, as the distillers' ``make_student``:
        :func:`~sklearn_ltdd.nets.make_student` at this sampler's ``module``,
        ``module__<name>`` and ``device``; fit it on ``X_syn_, y_syn_``."""
        from ..nets import make_student
        from ..nets._student import DEFAULT_RECIPE

        own = {"module": self.module, "device": self.device}
        if "module" not in params:
            own.update({f"module__{k}": v for k, v in self._module_kwargs().items()})
        return make_student(teacher, recipe=recipe or DEFAULT_RECIPE, **{**own, **params})

    # -- the selection -------------------------------------------------------------------
    def _fit_resample(self, X, y):
        self._check_params()
        X, y = check_images_labels(X, y, ndim=(2, 3, 4), min_classes=1)
        if len(np.unique(y)) < 2:
            raise ValueError(
                f"y has only one class ({np.unique(y)[0].item()!r}); CoresetSampler "
                "balances classes, so it needs at least 2 (to take a subset of one "
                "class, index it directly)."
            )
        if self.combine > 1 and (X.ndim != 4 or X.shape[2] % 2 or X.shape[3] % 2):
            raise ValueError(
                f"combine={self.combine} tiles images (n, C, H, W) of even height "
                f"and width into quadrants; got {X.shape[1:]}. Use combine=1."
            )
        encoder = LabelEncoder().fit(y)
        y_enc = encoder.transform(y)
        self.classes_ = encoder.classes_
        self.n_features_in_ = int(np.prod(X.shape[1:]))
        rng = check_random_state(self.random_state)
        network = self._network(X, y, rng)
        self.estimator_ = network
        features = scores = None
        if network is not None:
            inner = network.estimator if isinstance(network, FrozenEstimator) else network
            if self.strategy == "difficulty":
                scores = difficulty_scores(
                    network.predict_proba(X), y, network.classes_, self.difficulty
                )
            else:
                features = np.asarray(inner.embed(X), dtype=np.float64)
                features /= np.maximum(np.linalg.norm(features, axis=1, keepdims=True), 1e-12)
        self.scores_ = scores
        stored, rows, short = [], [], []
        for c in range(len(self.classes_)):
            members = np.flatnonzero(y_enc == c)
            n_tiles, n_singles = self._layout(len(members))
            picked = select(
                self.strategy,
                members,
                n_tiles * self.combine + n_singles,
                features=features,
                scores=scores,
                window=self.window,
                rng=rng,
            )
            if len(members) < self.ipc:
                short.append((self.classes_.tolist()[c], len(members)))
            cut = n_tiles * self.combine
            stored += [picked[k : k + self.combine] for k in range(0, cut, self.combine)]
            stored += [picked[k : k + 1] for k in range(cut, len(picked))]
            rows.append(picked)
        if short:
            warnings.warn(
                f"classes with fewer than ipc={self.ipc} images keep all of their images (no "
                f"copies): {', '.join(f'{label!r} ({n})' for label, n in short)}.",
                UserWarning,
                stacklevel=3,
            )
        self.stored_indices_ = stored
        self.sample_indices_ = np.concatenate(rows)
        self.X_stored_ = self._store(X, stored)
        X_res = self._decode(X, stored)
        y_res = y[self.sample_indices_]
        labels, counts = np.unique(y_res, return_counts=True)
        self.sampling_strategy_ = dict(zip(labels.tolist(), counts.tolist()))
        self.X_syn_, self.y_syn_ = X_res, y_res
        return X_res.copy(), y_res.copy()

    def _layout(self, n):
        """(four-image tiles, full-resolution images) a class of ``n`` images stores."""
        if self.combine == 1 or n <= self.ipc:
            return 0, min(n, self.ipc)
        tiles = min(self.ipc, (n - self.ipc) // (self.combine - 1))
        return tiles, self.ipc - tiles

    def _store(self, X, stored):
        if self.combine == 1:
            return X[np.concatenate(stored)]
        out = []
        for rows in stored:
            images = torch.as_tensor(X[rows])
            out.append(tile_images(images)[0] if len(rows) == self.combine else images[0])
        return torch.stack(out).numpy()

    def _decode(self, X, stored):
        """The training images of the stored ones, in the order of ``sample_indices_``."""
        if self.combine == 1:
            return X[np.concatenate(stored)].copy()
        out = []
        for rows, image in zip(stored, self.X_stored_):
            if len(rows) == self.combine:
                out.append(expand_tiles(torch.as_tensor(image)[None]).numpy())
            else:
                out.append(image[None])
        return np.concatenate(out).astype(X.dtype, copy=False)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.non_deterministic = False
        if getattr(tags, "sampler_tags", None) is not None:  # imbalanced-learn's tags
            tags.sampler_tags.sample_indices = True  # like imblearn's under-samplers
        return tags


__all__ = ["CoresetSampler"]
