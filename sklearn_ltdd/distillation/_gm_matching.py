"""The matching of gradient matching: per-class gradients and the distances between them."""

from __future__ import annotations

import torch
from torch.func import grad


def _layerwise_distance(g_syn, g_real):
    """DC's distance: per layer, sum over output rows of 1 - cosine; 1-D ignored."""
    total = 0.0
    for name, gs in g_syn.items():
        if gs.ndim <= 2:  # (classes, n) -> a bias or a norm's scale
            continue
        gs, gr = gs.flatten(2), g_real[name].flatten(2)
        cos = (gs * gr).sum(-1) / (gs.norm(dim=-1) * gr.norm(dim=-1) + 1e-6)
        total = total + (1.0 - cos).sum()
    return total


def _mse_distance(g_syn, g_real):
    return sum(((gs - g_real[name]) ** 2).sum() for name, gs in g_syn.items())


def _cosine_distance(g_syn, g_real):
    gs = torch.cat([g.flatten(1) for g in g_syn.values()], dim=1)
    gr = torch.cat([g_real[name].flatten(1) for name in g_syn], dim=1)
    cos = (gs * gr).sum(-1) / (gs.norm(dim=-1) * gr.norm(dim=-1) + 1e-6)
    return (1.0 - cos).sum()


#: Gradient distances, summed over classes. "layerwise" is DC's ("ours").
DISTANCES = {"layerwise": _layerwise_distance, "mse": _mse_distance, "cosine": _cosine_distance}


def _stack_classes(per_class, params):
    """Gradients computed class by class, as one dict of (classes, ...) like vmap's."""
    return {name: torch.stack([g[name] for g in per_class]) for name in params}


class ClassGradientsMixin:
    """The per-class gradients :class:`GradientMatchingDistiller` matches: on the real
    batches (batched over classes or not) and on the synthetic images."""

    @staticmethod
    def _real_grads(loss_fn, class_grads, params, x, y, weight, sampler, mode, real_grad=None):
        """Per-class gradients on the real batches, as a dict of (classes, ...).

        ``mode`` is "pad" (one vmap over all classes, padded entries with
        weight 0), "buckets" (one vmap per group of classes of equal batch
        size, no padding) or "loop" (one class at a time; through the
        compiled network, ``real_grad``, when there is one: first-order, so
        it compiles, where the matching's second-order step does not).
        """
        if mode == "pad":
            return class_grads(params, x, y, weight)
        if mode == "buckets":
            out = {name: p.new_empty((len(sampler.sizes), *p.shape)) for name, p in params.items()}
            for size, members in sampler.buckets:
                g = class_grads(
                    params, x[members, :size], y[members, :size], weight[members, :size]
                )
                for name in out:
                    out[name][members] = g[name]
            return out
        step = grad(loss_fn) if real_grad is None else real_grad
        per_class = [step(params, x[c, :size], y[c, :size]) for c, size in enumerate(sampler.sizes)]
        return _stack_classes(per_class, params)

    @staticmethod
    def _syn_grads(class_grads, syn_grad, params, x_syn, y_syn, ones, loop):
        """Per-class gradients on the synthetic images ``(classes, ipc, ...)``: one vmap
        over classes, or (``loop``: the CPU, a large network) one class at a time."""
        if not loop:
            return class_grads(params, x_syn, y_syn, ones)
        per_class = [syn_grad(params, x_syn[c], y_syn[c]) for c in range(len(x_syn))]
        return _stack_classes(per_class, params)
