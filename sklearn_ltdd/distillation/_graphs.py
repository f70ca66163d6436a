"""CUDA graphs for the distillers' hot loops, with an eager twin.

The inner loops of gradient and trajectory matching are hundreds of small,
sequential steps (a ConvNet3 forward and backward on 100 images), whose
cost on a GPU is the launching of their kernels, not the arithmetic. A CUDA
graph records such a sequence once and replays it with one launch.

A graph replays the same kernels on the same memory, so a step to be
captured reads and writes only *static* tensors: its inputs are copied in
before a replay, its random numbers are drawn before it into static
buffers, its results are read from static outputs. The distillers write
their steps that way on every device, so the eager path (a plain Python
call of the same function) and the captured one run the same arithmetic on
the same numbers: a graph changes the speed, not the result.

Why CUDA graphs rather than ``torch.compile``: the steps are pure
sequences of fixed-shape kernels (no data-dependent control flow), which
is what graphs replay exactly; ``torch.compile``'s own random numbers and
fused kernels would change the results, and its compile time, paid again
for every warm-started chunk of a long distillation, is minutes.
"""

from __future__ import annotations

import warnings

import torch

from ..utils._validation import check_option

CUDA_GRAPH_OPTIONS = ("auto", True, False)


def resolve_cuda_graphs(option, device) -> bool:
    """Whether to capture: "auto" on CUDA only; True asks for it anywhere.

    True on a device without CUDA is honoured by trying, which fails and
    falls back to the eager path with a warning (never an error).
    """
    check_option(option, CUDA_GRAPH_OPTIONS, "cuda_graphs")
    if option == "auto":
        return torch.device(device).type == "cuda"
    return bool(option)


class GraphedStep:
    """Run ``fn()`` eagerly, or captured once as a CUDA graph and replayed.

    Parameters
    ----------
    fn : callable
        Reads and writes only static tensors (see the module docstring).
    state : list of Tensor
        Tensors ``fn`` updates in place (parameters, momentum buffers): the
        warm-up run before the capture is undone on them.
    enabled : bool
        Try to capture. If the capture (or its first replay) fails, the
        step runs eagerly from then on and one ``RuntimeWarning`` says so.
    name : str
        Named in the warning.

    Attributes
    ----------
    captured : bool
        Whether the graph is in use.
    """

    def __init__(self, fn, state, enabled, name):
        self.fn, self.state, self.enabled, self.name = fn, list(state), bool(enabled), name
        self.graph = None

    @property
    def captured(self) -> bool:
        return self.graph is not None

    def __call__(self):
        if self.graph is not None:
            self.graph.replay()
            return
        if not self.enabled:
            self.fn()
            return
        saved = [t.detach().clone() for t in self.state]
        try:
            self._capture(saved)
            self.graph.replay()
        except Exception as exc:  # noqa: BLE001 - any failure means: run eagerly
            self.graph, self.enabled = None, False
            with torch.no_grad():
                for tensor, value in zip(self.state, saved):
                    tensor.copy_(value)
            warnings.warn(
                f"{self.name}: a CUDA graph could not be captured "
                f"({type(exc).__name__}: {exc}); running these steps eagerly, which "
                f"gives the same result more slowly. Pass cuda_graphs=False to "
                f"choose the eager path and silence this warning.",
                RuntimeWarning,
                stacklevel=4,
            )
            self.fn()

    def _capture(self, saved):
        stream = torch.cuda.Stream()
        stream.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(stream):
            self.fn()  # warm-up: allocator, cuDNN and autograd state
        torch.cuda.current_stream().wait_stream(stream)
        with torch.no_grad():
            for tensor, value in zip(self.state, saved):
                tensor.copy_(value)  # the warm-up's updates undone
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            self.fn()
        self.graph = graph
