"""How ConvNetClassifier builds its network, loss and optimiser from the data: any
torch module (a class, a builder, an instance, or a name), its sizes inferred and
its output checked before training."""

from __future__ import annotations

import inspect

import numpy as np
import torch
from torch import nn

from ._architectures import ARCHITECTURES
from ._losses import CRITERIA
from ._modules import MLP, ConvNet, check_logits, module_kwargs_from_data

#: Default optimiser settings of the paper (section 4.1) and DC's evaluation.
PRESET_KWARGS = {
    "optimizer__momentum": 0.9,
    "optimizer__weight_decay": 5e-4,
    "iterator_train__shuffle": True,
}

#: ``module=`` names: the paper's ConvNet3, an MLP and the cross-architecture students.
MODULES = {"convnet": ConvNet, "mlp": MLP, **ARCHITECTURES}


def resolve_module(module):
    """A module class, builder or instance from ``module`` (a name of :data:`MODULES`)."""
    if isinstance(module, str):
        if module not in MODULES:
            raise ValueError(
                f"module must be a torch module (class, builder or instance) or "
                f"one of {sorted(MODULES)}, got {module!r}."
            )
        return MODULES[module]
    return module


def _accepts(cls, name) -> bool:
    """Whether the constructor of ``cls`` takes an argument ``name`` (or ``**kwargs``)."""
    try:
        parameters = inspect.signature(cls).parameters
    except (TypeError, ValueError):
        return True
    return name in parameters or any(p.kind is p.VAR_KEYWORD for p in parameters.values())


def image_ndim(module):
    """The input dimensions a module can take: the image networks need images."""
    module = resolve_module(module)
    images = tuple(MODULES[name] for name in MODULES if name != "mlp")
    is_image = (module in images) or isinstance(module, images)
    return (4,) if is_image else (2, 3, 4)


def _embedding_layer(module: nn.Module):
    """The last ``nn.Linear`` of ``module`` (its input: the penultimate features)."""
    linear = [m for m in module.modules() if isinstance(m, nn.Linear)]
    if not linear:
        raise AttributeError(
            f"{type(module).__name__} has no embed() method and no nn.Linear layer whose "
            f"input could stand for its penultimate features; give the module an "
            f"embed(x) method returning them."
        )
    return linear[-1]


def embedding_function(module: nn.Module):
    """``x -> features``: ``module.embed``, or else the input of its last linear layer
    (captured by a hook during a forward pass), so any classifier network embeds."""
    if hasattr(module, "embed"):
        return module.embed
    layer = _embedding_layer(module)

    def embed(x):
        seen = []
        handle = layer.register_forward_pre_hook(lambda m, args: seen.append(args[0]))
        try:
            module(x)
        finally:
            handle.remove()
        return seen[-1].flatten(1)

    return embed


class NetworkMixin:
    """The network, loss and optimiser of :class:`ConvNetClassifier`, built at ``fit``."""

    def _inferred_module_kwargs(self) -> dict:
        shape = getattr(self, "input_shape_", None)
        if shape is None:
            return {}
        return module_kwargs_from_data(resolve_module(self.module), shape, len(self.classes_))

    def initialize_module(self):
        """The network from ``module`` (class, builder, instance or name), its sizes read
        from the data, and its logits checked on one dummy batch before training."""
        module = resolve_module(self.module)
        kwargs = {**self._inferred_module_kwargs(), **self.get_params_for("module")}
        self.module_ = self.initialized_instance(module, kwargs)
        if not isinstance(self.module_, nn.Module):
            raise ValueError(
                f"module must build a torch.nn.Module, got "
                f"{type(self.module_).__name__} from {self.module!r}."
            )
        shape = getattr(self, "input_shape_", None)
        if shape is not None:
            check_logits(
                self.module_,
                shape,
                len(self.classes_),
                next(iter(self.module_.parameters()), torch.zeros(())).device,
            )
        return self

    def initialize_criterion(self):
        kwargs = self.get_params_for("criterion")
        criterion = self.criterion
        if isinstance(criterion, str):
            if criterion not in CRITERIA:
                raise ValueError(
                    f"criterion must be one of {sorted(CRITERIA)} or a torch "
                    f"loss class, got {criterion!r}."
                )
            counts = getattr(self, "class_counts_", None)
            if counts is None:  # initialised before fit: uniform priors
                counts = np.ones(2 if self.classes is None else len(self.classes))
            self.criterion_ = CRITERIA[criterion](class_counts=counts, **kwargs)
        else:
            self.criterion_ = self.initialized_instance(criterion, kwargs)
        return self

    def get_params_for_optimizer(self, prefix, named_parameters):
        """skorch's, less the preset SGD momentum for an optimizer that takes none
        (``optimizer=torch.optim.AdamW`` needs no ``optimizer__momentum=None``)."""
        args, kwargs = super().get_params_for_optimizer(prefix, named_parameters)
        preset = PRESET_KWARGS.get(f"{prefix}__momentum")
        if kwargs.get("momentum") == preset and not _accepts(self.optimizer, "momentum"):
            kwargs.pop("momentum")
        return args, kwargs
