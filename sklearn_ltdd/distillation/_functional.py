"""Functional (``torch.func``) helpers shared by the distillers.

Networks are used as pure functions of a parameter dict so that per-class
gradients (gradient matching), many experts at once (expert trajectories)
and unrolled students (trajectory matching) are all plain ``vmap``/``grad``
compositions without Python loops over classes or experts.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch.func import functional_call, replace_all_batch_norm_modules_

from ..nets._building import resolve_module
from ..nets._modules import module_kwargs_from_data
from ..utils._batching import micro_batched
from ..utils._random import forked_torch_rng


class ModuleFactory:
    """Build fresh, randomly initialised copies of a network on a device.

    Parameters
    ----------
    module : torch module class or callable returning a module
    input_shape : tuple of int
        Shape of one input (``(C, H, W)`` or ``(d,)``).
    n_classes : int
    module_params : dict or None
        Extra constructor arguments; they override the inferred ones.
    device : torch.device
    """

    def __init__(self, module, input_shape, n_classes, module_params, device):
        module = resolve_module(module)
        if isinstance(module, torch.nn.Module):
            raise TypeError(
                f"module must be a torch module class (e.g. ConvNet), not an "
                f"instance ({type(module).__name__}); the distillers build "
                f"fresh random networks from it. Pass constructor arguments "
                f"through module_params."
            )
        if not callable(module):
            raise TypeError(f"module must be a torch module class, got {module!r}.")
        self.module = module
        self.kwargs = {
            **module_kwargs_from_data(module, input_shape, n_classes),
            **(module_params or {}),
        }
        self.device = device

    def __call__(self, seed: int | None) -> torch.nn.Module:
        with forked_torch_rng(seed, self.device), torch.device(self.device):
            net = self.module(**self.kwargs)
        if not isinstance(net, torch.nn.Module):
            raise TypeError(
                f"module(**kwargs) must return a torch.nn.Module, got {type(net).__name__}."
            )
        # Batch statistics instead of running averages: pure functions vmap.
        replace_all_batch_norm_modules_(net)
        return net.to(self.device).train()


def parameters_of(net: torch.nn.Module) -> dict[str, torch.Tensor]:
    """Detached parameter dict of a module."""
    return {name: p.detach() for name, p in net.named_parameters()}


def buffers_of(net: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {name: b.detach() for name, b in net.named_buffers()}


def make_loss(net: torch.nn.Module, micro_batch=None):
    """Return ``loss(params, x, y, weight=None)``: (weighted) mean cross-entropy.

    ``micro_batch``: the forward pass in passes of that many rows
    (:func:`~sklearn_ltdd.utils._batching.micro_batched`), the loss over all.
    """
    buffers = buffers_of(net)

    def loss(params, x, y, weight=None):
        logits = micro_batched(
            lambda part: functional_call(net, (params, buffers), (part,)), x, micro_batch
        )
        if weight is None:
            return F.cross_entropy(logits, y)
        per_sample = F.cross_entropy(logits, y, reduction="none")
        return (per_sample * weight).sum() / weight.sum().clamp_min(1.0)

    return loss


def make_forward(net: torch.nn.Module, micro_batch=None):
    """Return ``forward(params, x) -> logits`` (in passes of ``micro_batch`` rows)."""
    buffers = buffers_of(net)

    def forward(params, x):
        return micro_batched(
            lambda part: functional_call(net, (params, buffers), (part,)), x, micro_batch
        )

    return forward


class FlatParameters:
    """Map between a parameter dict and one flat vector (MTT's representation)."""

    def __init__(self, params: dict[str, torch.Tensor]):
        self.names = list(params)
        self.shapes = [tuple(p.shape) for p in params.values()]
        self.sizes = [p.numel() for p in params.values()]
        self.n_params = sum(self.sizes)

    def flatten(self, params: dict[str, torch.Tensor]) -> torch.Tensor:
        """Concatenate; a leading batch dimension (experts) is kept."""
        lead = params[self.names[0]].shape[: -len(self.shapes[0])] if self.shapes[0] else ()
        return torch.cat([params[n].reshape(*lead, -1) for n in self.names], dim=-1)

    def unflatten(self, flat: torch.Tensor) -> dict[str, torch.Tensor]:
        lead = flat.shape[:-1]
        chunks = torch.split(flat, self.sizes, dim=-1)
        return {n: c.reshape(*lead, *s) for n, c, s in zip(self.names, chunks, self.shapes)}


def stack_params(nets) -> dict[str, torch.Tensor]:
    """Stack the parameters of several nets along a new first dimension."""
    dicts = [parameters_of(net) for net in nets]
    return {name: torch.stack([d[name] for d in dicts]) for name in dicts[0]}
