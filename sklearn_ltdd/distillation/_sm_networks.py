"""Statistics matching's networks: the default observer and teacher, given ones, the labeller."""

from __future__ import annotations

import numpy as np
import torch
from sklearn.frozen import FrozenEstimator

from ..nets._teacher import class_columns
from ..utils._estimators import fitted_estimator
from ._bn_statistics import batch_norm_layers

#: ``debias`` values: the loss (and batch mixing) of the default observer and teacher.
DEBIAS = {
    "cumulative": {"criterion": "cumulative_reweighted", "batch_mixing": "mixup_or_cutmix"},
    "logit_adjusted": {"criterion": "logit_adjusted", "batch_mixing": "mixup_or_cutmix"},
    None: {"criterion": "cross_entropy", "batch_mixing": None},
}
# The key of the networks' random stream (``_derived_seed``) beside the iterations'.
_NETWORK = 20


def _takes_norm(module) -> bool:
    """Whether the network class takes a ``norm`` argument (ConvNet and the package's
    other networks do; a torchvision builder does not)."""
    import inspect

    from ..nets._building import resolve_module

    try:
        return "norm" in inspect.signature(resolve_module(module)).parameters
    except (TypeError, ValueError):
        return False


def _network_of(estimator):
    """The fitted skorch net behind ``estimator`` (FrozenEstimator unwrapped)."""
    inner = estimator.estimator if isinstance(estimator, FrozenEstimator) else estimator
    module = getattr(inner, "module_", None)
    return inner, getattr(module, "_orig_mod", module)


class NetworksMixin:
    """Statistics matching's networks: the observer, the teacher, the labeller."""

    # -- networks --------------------------------------------------------------------------
    def default_network(self, seed=None, images=True):
        """The default observer and teacher: an unfitted batch-norm ConvNet3 with ``debias``.

        SGD at 0.05 (momentum 0.9, weight decay 5e-4) with a cosine
        schedule, batches of 64, crop + flip, ``teacher_epochs`` epochs and
        the ``debias`` loss and mixing (GLMC's CIFAR-LT recipe, at a
        learning rate suited to the narrow ConvNet3). ``images=False``
        (tabular data) leaves out the crops and the mixing.
        """
        from ..nets import ConvNetClassifier

        module_params = self._module_kwargs()
        if _takes_norm(self.module):  # batch norm for the statistics, where it is an option
            module_params.setdefault("norm", "batchnorm")
        loss = dict(DEBIAS[self.debias])
        if not images:
            loss["batch_mixing"] = None
        return ConvNetClassifier(
            module=self.module,
            **{f"module__{k}": v for k, v in module_params.items()},
            **loss,
            augmentation="crop_flip" if images else None,
            max_epochs=self._param("teacher_epochs"),
            lr=0.05,
            batch_size=64,
            lr_schedule="cosine",
            precision=self.precision,
            compile=self.compile,
            device=self.device,
            random_state=seed,
        )

    def _resolve(self, given, role, X, y):
        """A fitted network for ``role`` from the parameter ``given``."""
        seed = self._derived_seed(_NETWORK, {"observer": 0, "teacher": 1}[role]) % 2**32
        return fitted_estimator(
            given,
            lambda: self.default_network(seed, images=X.ndim == 4),
            X,
            y,
            role=role,
            seed=seed,
            verbose=self.verbose,
        )

    def _resolve_networks(self, X, y):
        """``observer_`` and ``teacher_`` (kept across warm starts), on ``(X, y)`` as arrays."""
        if getattr(self, "observer_", None) is None:
            self.observer_ = self._resolve(self.observer, "observer", X, y)
        _, module = _network_of(self.observer_)
        if module is None or not batch_norm_layers(module):
            raise ValueError(
                "observer must be a trained network with batch normalisation (a "
                "ConvNetClassifier with module__norm='batchnorm'): statistics matching "
                "matches its BN layers' statistics. Use observer=None for the default."
            )
        if getattr(self, "teacher_", None) is None:
            self.teacher_ = (
                self.observer_
                if isinstance(self.teacher, str)
                else self._resolve(self.teacher, "teacher", X, y)
            )
        for name, network in (("teacher", self.teacher_), ("observer", self.observer_)):
            fix = f"fit it on these labels, or use {name}=None for the default"
            class_columns(network, self.classes_, name, fix)
        self.labeller_ = self.teacher_
        if self.labeller == "ensemble" and self.teacher_ is not self.observer_:
            from ..nets import LogitAverage

            self.labeller_ = LogitAverage.of_fitted([self.observer_, self.teacher_])

    def _restore_data_state(self, X, y=None):
        if y is not None:  # the networks (trained again from the seed, or the given ones)
            self._resolve_networks(X.cpu().numpy(), np.asarray(y))
            self._store_soft_labels()

    def _scores(self, images, labels):
        """The teacher's log-probability of ``labels`` on ``images`` (a view's confidence)."""
        from ..nets._teacher import TeacherTargets

        targets = self.__dict__.get("_teacher_scores")
        if targets is None:
            targets = self._teacher_scores = TeacherTargets(self.labeller_, self.classes_, 1.0)
        proba = targets(images)
        return torch.log(proba.gather(1, labels[:, None]).squeeze(1).clamp_min(1e-12))

    def _features(self, images):
        """The labeller's penultimate features of ``images`` (the diversity of the views)."""
        net, module = _network_of(
            self.labeller_ if hasattr(self.labeller_, "module_") else self.teacher_
        )
        if module is None or not hasattr(module, "embed"):
            raise ValueError(
                f"diversity={self.diversity!r} chooses views by the teacher's features, and "
                f"its network has no embed() method; use diversity=1.0, or a teacher "
                f"network with embed (ConvNet has one)."
            )
        training = module.training
        module.eval()
        try:
            with torch.no_grad():
                return module.embed(images.to(net.device_)).float()
        finally:
            module.train(training)

    def _store_soft_labels(self):
        from ..nets._teacher import TeacherTargets

        if getattr(self, "X_syn_", None) is None or getattr(self, "teacher_", None) is None:
            return
        labeller = getattr(self, "labeller_", self.teacher_)
        targets = TeacherTargets(labeller, self.classes_, 1.0)
        device = getattr(labeller, "device_", None) or _network_of(self.teacher_)[0].__dict__.get(
            "device_", "cpu"
        )
        proba = targets(torch.as_tensor(self.X_syn_, device=device)).double()
        self.soft_labels_ = (proba / proba.sum(1, keepdim=True)).cpu().numpy()
