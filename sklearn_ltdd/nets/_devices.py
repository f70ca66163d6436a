"""ConvNetClassifier's device: ``device="auto"`` resolved at ``initialize`` (``device_``)
and seen by skorch's own device handling, in initialisation, loss, loading and
pickling."""

from __future__ import annotations

import contextlib

import torch
from skorch.utils import to_tensor

from ..utils._random import forked_torch_rng


class DeviceMixin:
    """The resolved device of :class:`ConvNetClassifier` (before skorch's
    ``NeuralNetClassifier`` in its bases): ``device`` stays the parameter as given,
    ``device_`` is the device the net runs on."""

    @contextlib.contextmanager
    def _on_resolved_device(self):
        """Let skorch's device handling see the resolved device."""
        requested = self.device
        self.device = self.device_
        try:
            yield
        finally:
            self.device = requested

    def _initialize_module(self, reason=None):
        seed = getattr(self, "seeds_", {}).get("module")
        with self._on_resolved_device(), forked_torch_rng(seed, self.device_):
            return super()._initialize_module(reason=reason)

    def _initialize_criterion(self, reason=None):
        with self._on_resolved_device():
            return super()._initialize_criterion(reason=reason)

    def get_loss(self, y_pred, y_true, *args, **kwargs):
        y_true = to_tensor(y_true, device=self.device_)
        return self.criterion_(y_pred, y_true)

    def load_params(self, *args, **kwargs):
        with self._on_resolved_device():
            return super().load_params(*args, **kwargs)

    def __getstate__(self):
        state = super().__getstate__()
        # The random streams where they stand, so that a net pickled part-way through
        # ``fit`` (or between warm-started fits) goes on exactly (``resume_fit``).
        cache = state.get("cache_") or {}
        state["random_states_"] = {
            **(state.get("random_states_") or {}),
            **{
                name: (str(g.device), g.get_state())
                for name, g in cache.items()
                if isinstance(g, torch.Generator)
            },
        }
        state["cache_"] = {}  # generators and data copies: rebuilt on use
        return state

    def __setstate__(self, state):
        requested = state["device"]
        state["device"] = str(state.get("device_", "cpu"))
        super().__setstate__(state)  # maps CUDA tensors to the CPU if needed
        self.device_ = torch.device(self.device)
        self.device = requested
