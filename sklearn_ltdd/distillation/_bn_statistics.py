"""Batch-norm statistics of a network: class-balanced targets and the matching loss."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import torch

#: How the global variance target is formed from the per-class statistics.
VARIANCES = ("mixture", "class_mean")


def batch_norm_layers(module: torch.nn.Module) -> list:
    """The batch-norm layers of ``module``, in the order ``modules()`` lists them."""
    return [m for m in module.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]


@contextlib.contextmanager
def captured_inputs(layers):
    """Collect the input of each of ``layers`` during the forward passes in the block.

    Yields a list that holds, after a forward pass, one tensor per layer (in
    the order of ``layers``); it is cleared by :func:`clear`.
    """
    inputs = [None] * len(layers)

    def hook_for(position):
        def hook(module, args):
            inputs[position] = args[0]

        return hook

    handles = [layer.register_forward_pre_hook(hook_for(k)) for k, layer in enumerate(layers)]
    try:
        yield inputs
    finally:
        for handle in handles:
            handle.remove()


def _channel_moments(x: torch.Tensor, groups=None, n_groups=None):
    """Per-channel mean and mean square of ``x`` (N, C, ...), over all but the channel axis,
    for each group of rows (``groups``: (N,) group indices) or for all rows."""
    flat = x.flatten(2) if x.ndim > 2 else x.unsqueeze(2)  # (N, C, positions)
    first = flat.mean(2)
    second = (flat * flat).mean(2)
    if groups is None:
        return first.mean(0), second.mean(0)
    shape = (n_groups, first.shape[1])
    counts = torch.bincount(groups, minlength=n_groups).to(first.dtype).clamp_min(1)[:, None]
    sums1 = first.new_zeros(shape).index_add_(0, groups, first)
    sums2 = second.new_zeros(shape).index_add_(0, groups, second)
    return sums1 / counts, sums2 / counts


@dataclass
class BNTargets:
    """What the synthetic images' batch-norm inputs are matched to, per layer.

    ``mean``/``var``: the global targets (n_layers lists of (C,) tensors);
    ``class_mean``/``class_var``: per class, (n_classes, C) each.
    """

    mean: list
    var: list
    class_mean: list
    class_var: list


def class_statistics(module, layers, X, y, n_classes, batch_size=256, transform=None):
    """Per-class mean and variance of every layer's input over one pass of ``(X, y)``.

    The pass runs the network in eval mode without gradients. Each class's
    statistics follow the recalibration of the uni-level framework (Cui et
    al. 2026, eq. 8): after every batch, ``stat_c <- (1 - a) stat_c + a
    batch_stat_c`` with the dynamic momentum ``a = B_c / (N_c + B_c)`` (B_c
    images of class c in the batch, N_c seen before), so every image counts
    equally whatever its class's size and the order of the batches: the
    exact mean of the class. The first and second moments are accumulated
    this way in float64 and the variance is their difference (biased, as
    batch norm measures it). ``transform(batch)``, if given, is applied to
    every batch first (the views the synthetic images will be seen in).

    Returns
    -------
    class_mean, class_var : lists (one per layer) of (n_classes, C) float32 tensors
    """
    moments, seen = None, torch.zeros(n_classes, dtype=torch.float64, device=X.device)
    training = module.training
    module.eval()
    try:
        with torch.no_grad(), captured_inputs(layers) as inputs:
            for start in range(0, X.shape[0], batch_size):
                xb, yb = X[start : start + batch_size], y[start : start + batch_size]
                module(xb if transform is None else transform(xb))
                counts = torch.bincount(yb, minlength=n_classes).double()
                present = counts > 0
                rate = torch.where(present, counts / (seen + counts).clamp_min(1), 0.0)[:, None]
                batch = [_channel_moments(x.double(), yb, n_classes) for x in inputs]
                if moments is None:
                    moments = [[torch.zeros_like(m) for m in pair] for pair in batch]
                for stored, new in zip(moments, batch):
                    for k in range(2):
                        stored[k] = (1.0 - rate) * stored[k] + rate * new[k]
                seen += counts
    finally:
        module.train(training)
    if bool((seen == 0).any()):
        missing = torch.nonzero(seen == 0).flatten().tolist()
        raise ValueError(f"classes {missing} have no images to measure statistics on.")
    class_mean = [m[0].float() for m in moments]
    class_var = [(m[1] - m[0] ** 2).clamp_min(0).float() for m in moments]
    return class_mean, class_var


def targets_from_classes(class_mean, class_var, variance="mixture"):
    """Class-balanced global targets: every class weighs the same (eq. 9).

    The global mean is the mean of the class means. The paper forms the
    variance "similarly"; ``variance="class_mean"`` takes that literally (the
    mean of the class variances), ``"mixture"`` is the variance of the
    balanced mixture of the classes, ``mean_c(var_c + mean_c^2) - mean^2``,
    which is what the variance of a balanced synthetic batch measures (the
    literal form leaves out the spread between the class means).
    """
    mean = [m.mean(0) for m in class_mean]
    if variance == "class_mean":
        var = [v.mean(0) for v in class_var]
    else:
        var = [(v + m**2).mean(0) - g**2 for m, v, g in zip(class_mean, class_var, mean)]
    return BNTargets(mean, [v.clamp_min(0) for v in var], class_mean, class_var)


def recalibrated_copy(module, X, y, n_classes, variance="mixture", transform=None):
    """A copy of ``module`` whose batch-norm running statistics are class-balanced.

    Layer by layer (each measured with the layers before it already
    recalibrated), the running mean and variance become the class-balanced
    statistics of the layer's input over ``(X, y)`` (:func:`targets_from_classes`):
    in eval mode the network then normalises as if its training data had been
    balanced. ``module`` itself is not changed.
    """
    import copy

    module = copy.deepcopy(module)
    layers = batch_norm_layers(module)
    for k, layer in enumerate(layers):
        class_mean, class_var = class_statistics(
            module, layers[k : k + 1], X, y, n_classes, transform=transform
        )
        targets = targets_from_classes(class_mean, class_var, variance)
        with torch.no_grad():
            layer.running_mean.copy_(targets.mean[0])
            layer.running_var.copy_(targets.var[0])
    return module


def running_targets(layers, class_mean, class_var):
    """The network's own running statistics as global targets (SRe2L: no recalibration)."""
    return BNTargets(
        [layer.running_mean.detach().float() for layer in layers],
        [layer.running_var.detach().float() for layer in layers],
        class_mean,
        class_var,
    )


def statistics_loss(
    inputs, targets: BNTargets, n_classes: int, class_weight: float, first_layer_weight: float = 1.0
):
    """Distance of a class-sorted synthetic batch's statistics to ``targets``.

    Per layer, the l2 distances (not squared, as SRe2L and the uni-level
    framework) between the batch's channel means and the target means, and
    between the variances; plus, weighted by ``class_weight``, the same for
    each class's images against that class's targets, averaged over classes.
    Layers weigh the same but the first, which weighs ``first_layer_weight``
    (EDC's ``first-multiplier``, 10). The batch holds ``n_classes`` equal
    blocks of images, one per class, in class order.
    """
    total = 0.0
    for k, x in enumerate(inputs):
        flat = x.flatten(2) if x.ndim > 2 else x.unsqueeze(2)
        mean = flat.mean((0, 2))
        var = flat.var((0, 2), unbiased=False)
        layer = (mean - targets.mean[k]).norm() + (var - targets.var[k]).norm()
        if class_weight:
            blocks = flat.view(n_classes, -1, *flat.shape[1:])
            c_mean = blocks.mean((1, 3))
            c_var = blocks.var((1, 3), unbiased=False)
            per_class = (c_mean - targets.class_mean[k]).norm(dim=1) + (
                c_var - targets.class_var[k]
            ).norm(dim=1)
            layer = layer + class_weight * per_class.mean()
        total = total + (first_layer_weight if k == 0 else 1.0) * layer
    return total
