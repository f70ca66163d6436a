"""Statistics matching's recovery: the batch-norm targets, then Adam steps on the pixels."""

from __future__ import annotations

import hashlib
import math
import numbers

import numpy as np
import torch
import torch.nn.functional as F

from ..nets._teacher import class_columns
from ._bn_statistics import (
    batch_norm_layers,
    captured_inputs,
    class_statistics,
    recalibrated_copy,
    running_targets,
    statistics_loss,
    targets_from_classes,
)
from ._crops import random_square_crops
from ._sm_networks import _network_of

# The key of the targets' random stream (``_derived_seed``) beside the iterations'.
_TARGETS = 22
#: The parameters the recovery's targets are measured with (beside the data, the observer
#: and the seed): a warm-started fit keeps the previous fit's targets only while they match.
_TARGET_PARAMS = (
    "target_views",
    "augmentation",
    "crop_scale",
    "recalibrate_observer",
    "recalibration",
    "variance",
    "ce_weight",
    "ce_target",
    "label_share",
    "hard_below",
    "precision",
)


def data_fingerprint(X, y) -> str:
    """A digest of the bytes of ``X`` and ``y`` (tensors or arrays): equal for equal data."""
    digest = hashlib.blake2b(digest_size=16)
    for a in (X, y):
        a = np.ascontiguousarray(a.cpu().numpy() if isinstance(a, torch.Tensor) else a)
        digest.update(repr((a.shape, a.dtype.str)).encode())
        digest.update(a.view(np.uint8).reshape(-1))
    return digest.hexdigest()


def class_threshold(value, counts):
    """A class-size threshold as a number of images: an int as it is, a float the fraction
    of the largest class's ``counts``."""
    if isinstance(value, numbers.Integral):
        return value
    return value * float(counts.max())


class RecoveryMixin:
    """Statistics matching's recovery: its targets (recalibration) and its steps."""

    def _recovery_set_up(self, X, y):
        """Measure the recovery's targets (``_targets``, ``_ce_targets``, ``_recovery_module``);
        True where a warm-started fit kept those of the previous fit instead.

        Measuring them is a pass of the observer, recalibrated, over all the data (minutes
        on CIFAR10-LT on a CPU), and gives the same targets for the same data, networks,
        seed and settings; a fit continued on those keeps them (``warm_start=True``, in
        memory, never pickled), so a distillation in chunks measures once.
        """
        key = (
            data_fingerprint(X, y),
            self.random_seed_,
            id(self.observer_),
            tuple(repr(getattr(self, name, None)) for name in _TARGET_PARAMS),
        )
        kept = self.__dict__.get("_kept_targets")
        if kept is not None and kept[0] == key:
            self._targets, self._ce_targets, self._recovery_module = kept[1]
            return True
        self.__dict__.pop("_kept_targets", None)
        self._targets = self._measure_targets(X, y)
        if self.warm_start:
            self._kept_targets = (key, (self._targets, self._ce_targets, self._recovery_module))
        return False

    def __getstate__(self):
        state = super().__getstate__()
        state.pop("_kept_targets", None)  # measured again by the next fit
        return state

    def _measure_targets(self, X, y):
        """The targets of the recovery, measured on the network it runs
        (``_recovery_module``: the observer, or a recalibrated copy of it)."""
        _, module = _network_of(self.observer_)
        transform = None
        if self.target_views == "augmented" and self.augmentation == "crops":
            generator = torch.Generator(device=X.device)
            generator.manual_seed(self._derived_seed(_TARGETS))

            def transform(xb):
                return random_square_crops(xb, generator, self.crop_scale)

        if self.recalibrate_observer:
            module = recalibrated_copy(module, X, y, len(self.classes_), self.variance, transform)
        self._recovery_module = module
        layers = batch_norm_layers(module)
        class_mean, class_var = class_statistics(
            module, layers, X, y, len(self.classes_), transform=transform
        )
        self._ce_targets = None
        if self.ce_weight and self.ce_target != "hard":
            self._ce_targets = self._class_mean_probabilities(module, X, y, transform)
        if self.recalibration == "class_balanced":
            return targets_from_classes(class_mean, class_var, self.variance)
        return running_targets(layers, class_mean, class_var)

    def _class_mean_probabilities(self, module, X, y, transform, batch_size=256):
        """``(n_classes, n_classes)``: row c, the network's mean probabilities (over this
        distiller's classes) on the real images of class c, seen as ``transform`` makes them."""
        columns = self._observer_columns(X.device)
        n_classes = len(self.classes_)
        sums = torch.zeros(n_classes, n_classes, dtype=torch.float64, device=X.device)
        training = module.training
        module.eval()
        try:
            with torch.no_grad():
                for start in range(0, X.shape[0], batch_size):
                    xb, yb = X[start : start + batch_size], y[start : start + batch_size]
                    with self._autocast():
                        logits = module(xb if transform is None else transform(xb)).float()
                    proba = torch.softmax(logits[:, columns], dim=1).double()
                    sums.index_add_(0, yb, proba)
        finally:
            module.train(training)
        counts = torch.bincount(y, minlength=n_classes).double()
        rows = sums / counts.clamp_min(1)[:, None]
        eye = torch.eye(n_classes, dtype=rows.dtype, device=rows.device)
        hard = counts < class_threshold(self.hard_below, counts)  # they keep their label
        if self.ce_target == "tail_confusions":
            # Only the mass on the tail's columns stays; the rest returns to the label.
            kept = rows * (hard[None, :] & ~eye.bool())
            rows = kept + eye * (1 - kept.sum(1, keepdim=True))
        rows = (1 - self.label_share) * rows + self.label_share * eye
        rows[hard] = eye[hard]
        return rows.float()

    def _observer_columns(self, device):
        """The observer's output columns of this distiller's classes, in their order."""
        net, _ = _network_of(self.observer_)
        columns = class_columns(net, self.classes_, "observer")
        return torch.as_tensor(columns, device=device)

    def _distill(self, X, y, syn, continuing):
        """Adam on the pixels against the targets (classes under ``whole_below`` kept)."""
        import time

        start = time.perf_counter()
        module = self._recovery_module
        layers = batch_norm_layers(module)
        n_classes, gen = len(self.classes_), self._generator
        labels = self._synthetic_labels(X.device)
        columns = self._observer_columns(X.device)
        # What the cross-entropy pulls each image towards: its class, or that class's
        # typical outputs (ce_target="class_mean").
        ce_target = labels if self._ce_targets is None else self._ce_targets[labels]
        low, high = self._bounds
        syn = syn.clone().requires_grad_(True)
        optimizer = torch.optim.Adam([syn], lr=self.lr_img, betas=(0.5, 0.9))
        if continuing and "adam_step" in self.resume_state_:
            optimizer.state[syn] = {
                key: torch.as_tensor(
                    self.resume_state_[f"adam_{key}"], device=X.device, dtype=torch.float32
                ).clone()
                for key in ("step", "exp_avg", "exp_avg_sq")
            }
        keep = step = None
        counts = torch.bincount(y, minlength=n_classes)
        stored_class = torch.arange(n_classes, device=X.device).repeat_interleave(self.ipc)
        whole_below = class_threshold(self.whole_below, counts)
        if whole_below and bool((counts < whole_below).any()):
            keep = (counts[stored_class] >= whole_below).to(syn.dtype)
            keep = keep.view(-1, *[1] * (syn.ndim - 1))
        if self.step_balance:  # a smaller class's images take larger steps
            ratio = counts.max().double() / counts.clamp_min(1).double()
            step = (ratio**self.step_balance)[stored_class].to(syn.dtype)
            step = step.view(-1, *[1] * (syn.ndim - 1))
        losses = torch.zeros(self.n_iterations, device=X.device)
        seeds = self._iteration_seeds(self.n_iterations)
        frozen = [p.requires_grad for p in module.parameters()]
        training = module.training
        module.eval()
        for p in module.parameters():
            p.requires_grad_(False)
        try:
            with captured_inputs(layers) as inputs:
                for it in self._progress(self.n_iterations, "statistics matching"):
                    gen.manual_seed(seeds[it][2])
                    x = self._from_working_space(syn)  # the views, as a student sees them
                    if self.augmentation == "crops":
                        x = random_square_crops(x, gen, self.crop_scale)
                    with self._autocast():
                        logits = module(x).float()
                    inputs[:] = [i.float() for i in inputs]
                    loss = self.statistics_weight * statistics_loss(
                        inputs, self._targets, n_classes, self.class_weight, self.first_layer_weight
                    )
                    if self.ce_weight:
                        ce = F.cross_entropy(logits[:, columns], ce_target, reduction="none")
                        if self.confidence_cap < 1:  # a confident enough image is left alone
                            ce = ce.clamp(min=-math.log(self.confidence_cap))
                        loss = loss + self.ce_weight * ce.mean()
                    optimizer.zero_grad(set_to_none=True)
                    loss.backward()
                    if keep is not None:  # small classes keep their whole real images
                        syn.grad.mul_(keep)
                    before = None if step is None else syn.detach().clone()
                    optimizer.step()
                    with torch.no_grad():
                        if before is not None:  # Adam's step, scaled per class
                            syn.copy_(torch.lerp(before, syn, step))
                        syn.copy_(torch.maximum(torch.minimum(syn, high), low))
                    losses[it] = loss.detach()
                    if self._check_due(it):
                        self._check_finite(losses, it, syn)
        finally:
            module.train(training)
            for p, flag in zip(module.parameters(), frozen):
                p.requires_grad_(flag)
        state = optimizer.state.get(syn, {})
        self._opt_state = {
            f"adam_{k}": state[k].detach().cpu().numpy().copy()
            for k in ("step", "exp_avg", "exp_avg_sq")
            if k in state
        }
        self.timings_["recovery"] = time.perf_counter() - start
        return syn.detach(), losses.cpu().tolist()
