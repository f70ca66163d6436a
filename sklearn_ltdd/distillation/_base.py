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
from tqdm.auto import tqdm

from ..nets._modules import ConvNet
from ..sampling._base import SamplerMixin
from ..utils import check_images_labels, resolve_device
from ..utils._random import torch_generator, torch_seed
from ..utils._validation import check_option
from ._functional import ModuleFactory

INITIALISATIONS = ("real", "noise")


class BaseDistiller(SamplerMixin, BaseEstimator, metaclass=ABCMeta):
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

    Do not use this class directly; subclasses implement ``_distill``.
    """

    # imbalanced-learn reads this to tell a sampler's kind; a distiller
    # replaces the data, so it declares itself neither over- nor under-sampling.
    _sampling_type = "bypass"

    def __init__(self, *, ipc=10, n_iterations=1000, module=ConvNet, module_params=None,
                 init="real", augmentation=None, device="auto", random_state=None,
                 verbose=0, warm_start=False):
        self.ipc = ipc
        self.n_iterations = n_iterations
        self.module = module
        self.module_params = module_params
        self.init = init
        self.augmentation = augmentation
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
        self._factory = ModuleFactory(self.module, self.input_shape_, len(self.classes_),
                                      self.module_params, self.device_)
        try:
            self._fit_synthetic(X, y_enc, rng, continuing)
        finally:
            del self._rng, self._generator, self._factory
        return self

    def _fit_synthetic(self, X, y_enc, rng, continuing):
        """Initialise or continue the synthetic set, distil, store the results."""
        X_t = torch.as_tensor(X, device=self.device_)
        y_t = torch.as_tensor(y_enc, device=self.device_, dtype=torch.long)
        X_work = self._to_working_space(X_t, fit=not continuing)
        if continuing:
            syn = self._to_working_space(
                torch.as_tensor(self.X_syn_, device=self.device_), fit=False)
            history = list(self.loss_history_)
        else:
            syn = self._initial_synthetic(X_work, y_t, rng)
            history = []
        syn, losses = self._distill(X_work, y_t, syn.contiguous(), continuing)
        X_syn = self._from_working_space(syn.detach())
        self.X_syn_ = X_syn.cpu().numpy().astype(np.float32, copy=False)
        self.y_syn_ = self.classes_[np.repeat(np.arange(len(self.classes_)), self.ipc)]
        self.sampling_strategy_ = {label: self.ipc for label in self.classes_.tolist()}
        self.loss_history_ = np.asarray(history + list(losses), dtype=np.float64)
        self.n_iter_ = len(self.loss_history_)

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

    def _to_working_space(self, X, fit):
        """Map images to the space the distiller optimises in (identity)."""
        return X

    def _from_working_space(self, X):
        return X

    # -- helpers ---------------------------------------------------------------
    def _check_params(self):
        check_scalar(self.ipc, "ipc", numbers.Integral, min_val=1)
        check_scalar(self.n_iterations, "n_iterations", numbers.Integral, min_val=1)
        check_option(self.init, INITIALISATIONS, "init")
        if self.module_params is not None and not isinstance(self.module_params, dict):
            raise TypeError(
                f"module_params must be a dict of constructor arguments or None, "
                f"got {type(self.module_params).__name__}."
            )

    def _can_continue(self, X, encoder) -> bool:
        if not self.warm_start or not hasattr(self, "X_syn_"):
            return False
        same_classes = np.array_equal(encoder.classes_, self.classes_)
        same_shape = tuple(X.shape[1:]) == self.input_shape_
        if not (same_classes and same_shape and len(self.X_syn_) == self.ipc * len(self.classes_)):
            raise ValueError(
                "warm_start=True continues the current synthetic set, which "
                "needs the same classes, image shape and ipc as the previous "
                "fit; set warm_start=False to start over."
            )
        return True

    def _initial_synthetic(self, X, y, rng):
        n_classes = len(self.classes_)
        shape = (n_classes * self.ipc, *X.shape[1:])
        if self.init == "noise":
            return torch.randn(shape, generator=self._generator, device=X.device)
        y_np = y.cpu().numpy()
        rows, noisy = [], []
        for c in range(n_classes):
            members = np.flatnonzero(y_np == c)
            chosen = rng.permutation(members)[: self.ipc]
            extra = self.ipc - len(chosen)
            if extra > 0:
                repeats = rng.choice(members, size=extra, replace=True)
                chosen = np.concatenate([chosen, repeats])
            rows.append(chosen)
            noisy.append(np.arange(self.ipc) >= self.ipc - extra)
        index = torch.as_tensor(np.concatenate(rows), device=X.device)
        syn = X[index].clone()
        noisy = torch.as_tensor(np.concatenate(noisy), device=X.device)
        if bool(noisy.any()):
            noise = torch.randn(syn.shape, generator=self._generator, device=X.device)
            scale = 0.1 * X.std()
            syn = torch.where(noisy.view(-1, *[1] * (syn.ndim - 1)), syn + scale * noise, syn)
        return syn

    def _check_due(self, it):
        """Check for divergence at each of the first 10 iterations, then every 50."""
        return it < 10 or it % 50 == 49 or it == self.n_iterations - 1

    def _check_finite(self, losses, it, *state):
        """Raise if a loss up to iteration ``it``, or a ``state`` tensor, is not finite.

        Called every few iterations and at the end, so a diverged run stops
        early with one host synchronisation per check.
        """
        done = losses[: it + 1]
        finite = torch.isfinite(done)
        ok = finite.all()
        for tensor in state:
            ok = ok & torch.isfinite(tensor).all()
        if not bool(ok):
            first = int((~finite).nonzero()[0, 0]) if not bool(finite.all()) else it
            raise FloatingPointError(
                f"{type(self).__name__}: the matching loss became NaN or "
                f"infinite at iteration {first}; the images diverged. "
                f"{self._divergence_hint()}"
            )

    def _divergence_hint(self):
        return f"Lower lr_img (currently {self.lr_img!r})."

    def _seeds(self, n):
        return [torch_seed(self._rng) for _ in range(n)]

    def _progress(self, n, desc):
        return tqdm(range(n), desc=desc, disable=not self.verbose, leave=False)

    def _synthetic_labels(self, device):
        return torch.arange(len(self.classes_), device=device).repeat_interleave(self.ipc)

    def _resampled(self):
        check_is_fitted(self, "X_syn_")
        return self.X_syn_, self.y_syn_
