"""Checkpoints of the distillers: continue a distillation exactly, in another process."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import torch
from sklearn.utils.validation import check_is_fitted

from ..utils import check_image_array, resolve_device


def params_json(estimator, exclude=()) -> dict:
    """An estimator's parameters as JSON values: classes by their dotted name,
    other objects by their repr, ``exclude`` left out."""
    out = {}
    for key, value in estimator.get_params(deep=False).items():
        if key in exclude:
            continue
        if isinstance(value, type):
            value = f"{value.__module__}.{value.__qualname__}"
        elif not isinstance(value, (str, int, float, bool, type(None), dict, list, tuple)):
            value = repr(value)
        out[key] = value
    return json.loads(json.dumps(out, default=repr))


def weights_digest(value) -> str:
    """A short digest of the torch weights ``value`` holds, so that a checkpoint can
    tell the networks it was made with from others: a fitted skorch net (its
    ``module_``), a module, or ``FrozenEstimator`` s and ensembles (``estimators_``)
    of them, in order. A value that holds no weights (``"auto"``, None) is itself."""
    digest, found = hashlib.sha1(), False

    def visit(obj):
        nonlocal found
        if isinstance(obj, torch.nn.Module):
            found = True
            for key, tensor in obj.state_dict().items():
                digest.update(key.encode())
                digest.update(tensor.detach().cpu().flatten().view(torch.uint8).numpy().tobytes())
        elif hasattr(obj, "module_"):
            visit(obj.module_)
        elif hasattr(obj, "estimators_"):
            for estimator in obj.estimators_:
                visit(estimator)
        elif hasattr(obj, "estimator"):  # FrozenEstimator and other wrappers
            visit(obj.estimator)

    visit(value)
    return digest.hexdigest()[:16] if found else repr(value)


class CheckpointMixin:
    """``save_checkpoint`` and ``load_checkpoint`` of :class:`BaseDistiller`."""

    # -- checkpoints -------------------------------------------------------------
    #: Fitted attributes a checkpoint holds (besides ``resume_state_``).
    _checkpoint_attributes = (
        "classes_",
        "input_shape_",
        "n_features_in_",
        "X_syn_",
        "y_syn_",
        "loss_history_",
        "n_iter_",
        "random_seed_",
    )
    #: Version of the order in which a fit draws its random numbers. A
    #: checkpoint of another version cannot be continued exactly (the rest of
    #: the run would draw differently from a run that never stopped), so
    #: load_checkpoint refuses it. 2: the inner loops' numbers drawn per round.
    _stream_version = 2
    #: Parameters that may differ between the fit that saved a checkpoint and
    #: the estimator that continues from it.
    _checkpoint_free_params = (
        "n_iterations",
        "warm_start",
        "verbose",
        "device",
        "memory",
        "experts",
        "batch_classes",
        "cuda_graphs",
        "n_jobs",
    )

    #: Parameters that hold fitted networks: left out of the parameters' comparison
    #: (their repr says nothing of their weights) and compared by ``weights_digest``.
    _checkpoint_network_params = ()

    def _checkpoint_params(self) -> dict:
        """Parameters as JSON-able values, less those a continuation may change."""
        exclude = self._checkpoint_free_params + self._checkpoint_network_params
        return params_json(self, exclude=exclude)

    def _checkpoint_networks(self) -> dict:
        """The digests of the networks the parameters hold (``weights_digest``)."""
        return {k: weights_digest(getattr(self, k)) for k in self._checkpoint_network_params}

    def save_checkpoint(self, file):
        """Save what a warm-started fit needs to continue this distillation exactly.

        The file (a compressed ``.npz``, no pickles) holds the synthetic set
        in the space the distiller optimises in, the optimisers' state, the
        loss history, ``random_seed_`` and the parameters. State derived
        from the data is not saved but recomputed when the fit continues
        (MTT's expert trajectories and ZCA whitening), so continue on the
        same data; on another kind of device that recomputation can differ
        by floating-point rounding.

        Parameters
        ----------
        file : str, path or file-like
            Where to write (``np.savez_compressed``).

        Examples
        --------
        >>> import io
        >>> from sklearn_ltdd import GradientMatchingDistiller
        >>> from sklearn_ltdd.datasets import load_digits_lt
        >>> X, y, _, _ = load_digits_lt(return_X_y=True)
        >>> params = dict(ipc=1, n_iterations=2, module__width=4, random_state=0)
        >>> buffer = io.BytesIO()
        >>> GradientMatchingDistiller(**params).fit(X, y).save_checkpoint(buffer)
        >>> _ = buffer.seek(0)
        >>> gm = GradientMatchingDistiller(**params, warm_start=True).load_checkpoint(buffer)
        >>> gm.fit(X, y).n_iter_
        4
        """
        check_is_fitted(self, "X_syn_")
        if self.classes_.dtype == object:
            raise TypeError(
                "save_checkpoint stores classes_ without pickling, which needs "
                "numeric or string labels; this fit used objects "
                f"({self.classes_[:3].tolist()}...). Encode the labels first."
            )
        arrays = {
            f"attr__{name}": np.asarray(getattr(self, name)) for name in self._checkpoint_attributes
        }
        arrays.update(
            {f"state__{k}": np.asarray(v) for k, v in self.resume_state_.items() if v is not None}
        )
        arrays.update(
            {
                f"attr__{name}": np.asarray(getattr(self, name))
                for name in self._extra_checkpoint_attributes()
                if hasattr(self, name)
            }
        )
        meta = {
            "estimator": type(self).__name__,
            "params": self._checkpoint_params(),
            "networks": self._checkpoint_networks(),
            "stream_version": self._stream_version,
        }
        np.savez_compressed(file, meta=np.asarray(json.dumps(meta)), **arrays)

    def load_checkpoint(self, file, X=None, y=None):
        """Restore a checkpoint written by :meth:`save_checkpoint`.

        With ``warm_start=True``, the next ``fit`` on the same data continues
        the saved distillation for ``n_iterations`` more iterations, exactly
        as if it had never stopped. ``n_iterations``, ``warm_start``,
        ``verbose``, ``device`` (and ``memory``, ``experts``,
        ``batch_classes``) may differ from the saved run's; any other
        parameter must be the same, and fitted networks passed as parameters
        (statistics matching's ``observer`` and ``teacher``) must hold the
        same weights (compared by digest).

        Parameters
        ----------
        file : str, path or file-like
        X : array-like of shape (n_samples, C, H, W), default=None
            The training images. When given, state that the checkpoint
            leaves out and :meth:`make_evaluator` needs (MTT's whitening) is
            recomputed from them now rather than at the next fit.
        y : array-like of shape (n_samples,), default=None
            Their labels, for state that needs them too (the observer and
            teacher of statistics matching, when they are trained here).

        Returns
        -------
        self

        Raises
        ------
        ValueError
            If the checkpoint is of another estimator, other parameters or
            networks of other weights.
        """
        with np.load(file, allow_pickle=False) as data:
            meta = json.loads(str(data["meta"]))
            if meta["estimator"] != type(self).__name__:
                raise ValueError(
                    f"The checkpoint is of a {meta['estimator']}, not a "
                    f"{type(self).__name__}; load it into that estimator."
                )
            saved_version = meta.get("stream_version", 1)
            if saved_version != self._stream_version:
                raise ValueError(
                    f"The checkpoint was written by a version of sklearn-ltdd that draws "
                    f"its random numbers in another order (version {saved_version}, this "
                    f"one {self._stream_version}); continuing it would not give the result "
                    f"of one uninterrupted run. Start a new fit instead."
                )
            ours = self._checkpoint_params()
            differ = {k: (v, ours.get(k)) for k, v in meta["params"].items() if ours.get(k) != v}
            if differ:
                listed = ", ".join(
                    f"{k}={new!r} (saved: {old!r})" for k, (old, new) in sorted(differ.items())
                )
                raise ValueError(
                    f"The checkpoint was saved with other parameters: {listed}. "
                    f"Set them as saved (set_params) to continue that distillation."
                )
            ours = self._checkpoint_networks()
            differ = sorted(k for k, v in meta.get("networks", {}).items() if ours.get(k) != v)
            if differ:
                raise ValueError(
                    f"The checkpoint was made with other networks as {', '.join(differ)} "
                    f"(their weights differ); pass the networks it was made with, or start "
                    f"a new fit."
                )
            for key in data.files:
                if key.startswith("attr__"):
                    value = data[key]
                    setattr(self, key[6:], value.item() if value.ndim == 0 else value)
            self.resume_state_ = {
                key[7:]: data[key] for key in data.files if key.startswith("state__")
            }
        self._checkpoint_loaded()
        self.input_shape_ = tuple(int(v) for v in self.input_shape_)
        self._check_params()  # resolves the "auto" settings the attributes below need
        self.sampling_strategy_ = {
            label: self._images_per_class() for label in self.classes_.tolist()
        }
        if X is not None:
            X = check_image_array(X, ndim=(len(self.input_shape_) + 1,))
            if tuple(X.shape[1:]) != self.input_shape_:
                raise ValueError(
                    f"X has images of shape {X.shape[1:]}, but the checkpoint's "
                    f"distillation ran on {self.input_shape_}; pass its training images."
                )
            self.device_ = resolve_device(self.device)
            self._restore_data_state(
                torch.as_tensor(X, device=self.device_), None if y is None else np.asarray(y)
            )
        return self

    def _extra_checkpoint_attributes(self):
        """Subclass attributes a checkpoint holds too."""
        return ()

    def _checkpoint_loaded(self):
        """Rebuild attributes a checkpoint leaves out because others hold them."""
