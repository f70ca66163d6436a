"""Shared machinery of the distillers: validation, initialisation, output."""

from __future__ import annotations

import numbers
from abc import ABCMeta, abstractmethod

import numpy as np
import torch
from sklearn.base import BaseEstimator
from sklearn.preprocessing import LabelEncoder
from sklearn.utils import check_random_state, check_scalar
from sklearn.utils.validation import check_is_fitted

from ..augmentation import DSA
from ..nets._modules import ConvNet
from ..sampling._base import SamplerMixin
from ..utils import check_images_labels, resolve_device
from ..utils._acceleration import SpeedOptionsMixin, autocast, compiled_method
from ..utils._batching import micro_batched
from ..utils._deprecation import ModuleKwargsMixin, RenamedParamsMixin
from ..utils._random import torch_generator, torch_seed
from ..utils._validation import check_option
from ._checkpoint import CheckpointMixin
from ._evaluation import EvaluationMixin
from ._functional import ModuleFactory
from ._iterations import IterationsMixin

INITIALISATIONS = ("real", "noise")


class BaseDistiller(
    EvaluationMixin,
    IterationsMixin,
    ModuleKwargsMixin,
    CheckpointMixin,
    SpeedOptionsMixin,
    RenamedParamsMixin,
    SamplerMixin,
    BaseEstimator,
    metaclass=ABCMeta,
):
    """Base class of the distillers: a sampler that returns a synthetic set.

    ``fit_resample(X, y)`` validates the data, encodes the labels, builds or
    continues the synthetic set, and calls the subclass's ``_distill``. The
    result has exactly ``ipc`` images per class, in class order, as float32
    arrays shaped like the input; labels are the original class labels.

    Initialisation (``init="real"``): each class starts from ``ipc`` of its
    real images drawn without replacement. A class with fewer than ``ipc``
    images uses all of them, then repeats randomly chosen ones with
    Gaussian noise (standard deviation 0.1 of the data's pixel standard
    deviation) so the copies differ and can move apart. ``init="noise"``
    draws every pixel from a standard normal distribution (the data are
    expected to be standardised, as the loaders of this package return them).

    Randomness: a fresh fit draws ``random_seed_`` from ``random_state``
    (after the initial images); iteration ``i`` (counted over all warm
    starts) draws everything it needs (network initialisation, real
    batches, augmentation) from a stream keyed on ``(random_seed_, i)``.
    So a warm-started fit continues the same streams, and ``k`` chunks of
    ``n`` iterations give the same synthetic set as one fit of ``k * n``;
    with the image optimiser's momentum (``resume_state_``) carried over,
    the equality is exact up to floating-point rounding.
    :meth:`save_checkpoint` and :meth:`load_checkpoint` carry that state
    between processes or machines.

    Do not use this class directly; subclasses implement ``_distill``.
    """

    # imbalanced-learn reads this to tell a sampler's kind; a distiller
    # replaces the data, so it declares itself neither over- nor under-sampling.
    _sampling_type = "bypass"
    _initialisations = INITIALISATIONS
    _min_iterations = 1  # statistics matching may skip its recovery (0)

    def __init__(
        self,
        *,
        ipc=10,
        n_iterations=1000,
        module=ConvNet,
        module_params=None,
        init="real",
        augmentation=None,
        precision="fp32",
        compile=False,
        micro_batch="auto",
        device="auto",
        random_state=None,
        verbose=0,
        warm_start=False,
        **kwargs,
    ):
        self._set_module_kwargs(kwargs)
        self.ipc = ipc
        self.n_iterations = n_iterations
        self.module = module
        self.module_params = module_params
        self.init = init
        self.augmentation = augmentation
        self.precision = precision
        self.compile = compile
        self.micro_batch = micro_batch
        self.device = device
        self.random_state = random_state
        self.verbose = verbose
        self.warm_start = warm_start

    # -- public API -----------------------------------------------------------
    def fit(self, X, y):
        """Distil ``(X, y)`` into ``ipc`` synthetic images per class.

        Parameters
        ----------
        X : array-like of shape (n_samples, C, H, W)
            Float images (2-D ``(n_samples, n_features)`` for an MLP module).
        y : array-like of shape (n_samples,)
            Class labels; at least two classes.

        Returns
        -------
        self
        """
        self._check_params()
        ndim = (4,) if self.module is ConvNet else (2, 3, 4)
        X, y = check_images_labels(X, y, ndim=ndim)
        if self.augmentation is not None and X.ndim != 4:
            raise ValueError(
                f"augmentation={self.augmentation!r} transforms images (n, C, H, W), "
                f"but X has shape {X.shape}; use augmentation=None for tabular data."
            )
        encoder = LabelEncoder().fit(y)
        y_enc = encoder.transform(y)
        largest = int(np.bincount(y_enc).max())
        if self.ipc > largest:
            raise ValueError(
                f"ipc={self.ipc} is more than the largest class has images "
                f"({largest}); distillation condenses data, so use ipc <= {largest}."
            )
        continuing = self._can_continue(X, encoder)
        self.classes_ = encoder.classes_
        self.n_features_in_ = int(np.prod(X.shape[1:]))
        self.input_shape_ = tuple(X.shape[1:])
        self.device_ = resolve_device(self.device)
        rng = check_random_state(self.random_state)
        # Per-fit working state (generators do not pickle): removed at the end.
        self._rng = rng
        self._generator = torch_generator(rng, self.device_)
        self._factory = ModuleFactory(
            self.module, self.input_shape_, len(self.classes_), self._module_kwargs(), self.device_
        )
        self._compile, self._micro = self._resolve_speed(self.device_, self._factory(0))
        try:
            self._fit_synthetic(X, y_enc, rng, continuing)
        finally:
            del self._rng, self._generator, self._factory, self._compile, self._micro
            self.__dict__.pop("_opt_state", None)
            self.__dict__.pop("_iterations_done", None)
        return self

    def _fit_synthetic(self, X, y_enc, rng, continuing):
        """Initialise or continue the synthetic set, distil, store the results."""
        X_t = torch.as_tensor(X, device=self.device_)
        y_t = torch.as_tensor(y_enc, device=self.device_, dtype=torch.long)
        X_work, syn, history = self._start_synthetic(X_t, y_t, rng, continuing)
        self._iterations_done = len(history)
        syn, losses = self._distill(X_work, y_t, syn.contiguous(), continuing)
        self._store_synthetic(syn.detach(), history, losses)

    def _start_synthetic(self, X_t, y_t, rng, continuing):
        """``(X_work, syn, history)``: the data in the working space, the images to
        start from (initial, or those of the fit being continued) and past losses."""
        X_work = self._to_working_space(X_t, fit=not continuing)
        if continuing:
            return X_work, self._continued_synthetic(), list(self.loss_history_)
        syn = self._initial_synthetic(X_work, y_t, rng)
        # Drawn after the initial images, so an int random_state gives the
        # same initial set as before this seed existed.
        self.random_seed_ = torch_seed(rng)
        self.resume_state_ = {}
        return X_work, syn, []

    def _continued_synthetic(self):
        """The working-space images of the fit being continued, exactly as they were."""
        state = getattr(self, "resume_state_", None) or {}
        if "syn" in state:
            return torch.as_tensor(state["syn"], device=self.device_).clone()
        return self._to_working_space(torch.as_tensor(self.X_syn_, device=self.device_), fit=False)

    def _store_synthetic(self, syn, history, losses):
        """The fitted attributes of a finished fit."""
        self.X_syn_ = self._from_working_space(syn).cpu().numpy().astype(np.float32, copy=False)
        per_class = self._images_per_class()
        self.y_syn_ = self.classes_[np.repeat(np.arange(len(self.classes_)), per_class)]
        self.sampling_strategy_ = {label: per_class for label in self.classes_.tolist()}
        self.loss_history_ = np.asarray(history + list(losses), dtype=np.float64)
        self.n_iter_ = len(self.loss_history_)
        self.resume_state_ = self._optimizer_state()
        if not self._working_space_is_identity():
            # The working-space images themselves: mapping X_syn_ back would
            # add rounding, and continuing must be exact.
            self.resume_state_["syn"] = syn.cpu().numpy().astype(np.float32, copy=False)

    def fit_resample(self, X, y):
        """Distil ``(X, y)`` and return the balanced synthetic set.

        Returns
        -------
        X_syn : ndarray of shape (n_classes * ipc, C, H, W), float32
        y_syn : ndarray of shape (n_classes * ipc,)
            ``ipc`` copies of each class label, in the order of ``classes_``.
            (A list, DataFrame or one-hot ``y`` comes back in the same kind,
            as with imbalanced-learn's samplers.)
        """
        return super().fit_resample(X, y)

    def _fit_resample(self, X, y):
        self.fit(X, y)
        return self.X_syn_.copy(), self.y_syn_.copy()

    # -- hooks ---------------------------------------------------------------------
    @abstractmethod
    def _distill(self, X, y, syn, continuing):
        """Optimise ``syn`` (n_classes * ipc, ...) in place of the real data.

        Returns the final synthetic tensor and a list of per-iteration losses.
        """

    def _optimizer_state(self) -> dict:
        """Optimiser state to keep for a warm start (numpy arrays or floats).

        Subclasses fill ``self._opt_state`` during ``_distill``.
        """
        return dict(getattr(self, "_opt_state", {}))

    @staticmethod
    def _restore_momentum(optimizer, tensor, buffer):
        """Give an SGD optimiser the momentum buffer ``buffer`` for ``tensor``."""
        if buffer is not None:
            optimizer.state[tensor]["momentum_buffer"] = torch.as_tensor(
                buffer, device=tensor.device, dtype=tensor.dtype
            ).clone()

    @staticmethod
    def _momentum_of(optimizer, tensor):
        buffer = optimizer.state.get(tensor, {}).get("momentum_buffer")
        return None if buffer is None else buffer.detach().cpu().numpy().copy()

    def _resolved_init(self):
        """The initialisation used ("real" or "noise")."""
        return self.init

    def _working_space_is_identity(self) -> bool:
        return True

    def _restore_data_state(self, X, y=None):
        """Recompute what a checkpoint leaves out and evaluation needs (nothing here)."""

    def _to_working_space(self, X, fit):
        """Map images to the space the distiller optimises in (identity)."""
        return X

    def _from_working_space(self, X):
        return X

    # -- helpers ---------------------------------------------------------------
    def _autocast(self):
        """bfloat16 autocast for ``precision="bf16"``
        (:func:`~sklearn_ltdd.utils._acceleration.autocast`)."""
        return autocast(self.precision, self.device_)

    def _accelerated(self, module, method="forward", micro=True):
        """``module.<method>``, compiled (once per architecture) when ``compile`` says so,
        in passes of ``micro_batch`` rows (``micro``)."""
        call = compiled_method(module, self._compile, type(self).__name__, method)
        if not micro or not self._micro:
            return call
        return lambda x: micro_batched(call, x, self._micro)

    def _check_params(self):
        check_scalar(self.ipc, "ipc", numbers.Integral, min_val=1)
        self._check_speed_options()
        self._warn_renamed()
        check_scalar(
            self.n_iterations, "n_iterations", numbers.Integral, min_val=self._min_iterations
        )
        check_option(self.init, self._initialisations, "init")
        if self.module_params is not None and not isinstance(self.module_params, dict):
            raise TypeError(
                f"module_params must be a dict of constructor arguments or None, "
                f"got {type(self.module_params).__name__}."
            )
        self._check_module_kwargs()
        self._warn_module_params()

    def _resolve_auto(self, table, keys):
        """``{key: value}`` for ``keys``: the parameter, or ``table[key]`` where it is "auto"."""
        out = {}
        for key in keys:
            value = getattr(self, key)
            out[key] = table[key] if isinstance(value, str) and value == "auto" else value
        return out

    def _check_dsa_augmentation(self):
        """The distillers whose augmentation is DSA or nothing: a clear error otherwise."""
        if not (self.augmentation in (None, "dsa") or isinstance(self.augmentation, DSA)):
            raise ValueError(
                f"augmentation must be 'dsa', None or a DSA instance, got {self.augmentation!r}."
            )

    def _can_continue(self, X, encoder) -> bool:
        if not self.warm_start or not hasattr(self, "X_syn_"):
            return False
        same_classes = np.array_equal(encoder.classes_, self.classes_)
        same_shape = tuple(X.shape[1:]) == self.input_shape_
        same_size = len(self.X_syn_) == self._images_per_class() * len(self.classes_)
        if not (same_classes and same_shape and same_size):
            raise ValueError(
                "warm_start=True continues the current synthetic set, which "
                "needs the same classes, image shape and ipc as the previous "
                "fit; set warm_start=False to start over."
            )
        return True

    def _initial_synthetic(self, X, y, rng):
        n_classes = len(self.classes_)
        shape = (n_classes * self.ipc, *X.shape[1:])
        if self._resolved_init() == "noise":
            return torch.randn(shape, generator=self._generator, device=X.device)
        return self._real_images(X, y, rng, self.ipc)

    def _real_images(self, X, y, rng, per_class):
        """``per_class`` real images of every class, class by class.

        Drawn without replacement; a class with fewer images uses all of
        them, then repeats randomly chosen ones with Gaussian noise (0.1 of
        the data's standard deviation) so that the copies differ.
        """
        y_np = y.cpu().numpy()
        rows, noisy = [], []
        for c in range(len(self.classes_)):
            members = np.flatnonzero(y_np == c)
            chosen = rng.permutation(members)[:per_class]
            extra = per_class - len(chosen)
            if extra > 0:
                repeats = rng.choice(members, size=extra, replace=True)
                chosen = np.concatenate([chosen, repeats])
            rows.append(chosen)
            noisy.append(np.arange(per_class) >= per_class - extra)
        index = torch.as_tensor(np.concatenate(rows), device=X.device)
        syn = X[index].clone()
        noisy = torch.as_tensor(np.concatenate(noisy), device=X.device)
        if bool(noisy.any()):
            noise = torch.randn(syn.shape, generator=self._generator, device=X.device)
            scale = 0.1 * X.std()
            syn = torch.where(noisy.view(-1, *[1] * (syn.ndim - 1)), syn + scale * noise, syn)
        return syn

    def _images_per_class(self) -> int:
        """Images per class that ``fit_resample`` returns (``ipc`` unless expanded)."""
        return self.ipc

    def _synthetic_labels(self, device):
        return torch.arange(len(self.classes_), device=device).repeat_interleave(self.ipc)

    def _resampled(self):
        check_is_fitted(self, "X_syn_")
        return self.X_syn_, self.y_syn_
