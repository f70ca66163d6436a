"""Row-wise results that do not depend on how a batch is cut."""

from __future__ import annotations

import torch

#: Rows per chunk where no batch size is given.
DEFAULT_CHUNK = 256


def in_fixed_chunks(fn, x: torch.Tensor, size: int = DEFAULT_CHUNK) -> torch.Tensor:
    """``fn`` applied to ``x`` in chunks of exactly ``size`` rows, concatenated.

    CPU kernels (matrix products, convolutions) choose their blocking, and so
    their rounding, by the number of rows, so a row of a 30-row batch can
    differ in its last bits from the same row in a 60-row batch. Every chunk
    here has ``size`` rows (the last one padded with zeros, whose outputs are
    dropped), so each row goes through a kernel of the same shape however
    the input was cut, and predictions of a subset equal those rows of the
    whole. ``fn`` must treat rows independently (inference: no batch
    statistics).

    Examples
    --------
    >>> layer = torch.nn.Linear(4, 2)
    >>> x = torch.randn(10, 4)
    >>> with torch.no_grad():
    ...     whole = in_fixed_chunks(layer, x, size=8)
    ...     part = in_fixed_chunks(layer, x[3:6], size=8)
    >>> bool(torch.equal(whole[3:6], part))
    True
    """
    size = int(size)
    n = x.shape[0]
    out = []
    for start in range(0, n, size):
        chunk = x[start : start + size]
        rows = chunk.shape[0]
        if rows < size:
            pad = chunk.new_zeros((size - rows, *chunk.shape[1:]))
            chunk = torch.cat([chunk, pad])
        out.append(fn(chunk)[:rows])
    if not out:  # no rows: the output's shape from one padded chunk
        return fn(x.new_zeros((size, *x.shape[1:])))[:0]
    return out[0] if len(out) == 1 else torch.cat(out)


#: Rows per forward pass on the CPU ("auto"): eager float32, and compiled.
CPU_MICRO_BATCH, CPU_MICRO_BATCH_COMPILED = 16, 64
#: Elements per image of the first block's output of ConvNet3 (width 128, 32x32),
#: the network the passes above were measured on.
REFERENCE_ACTIVATION = 128 * 32 * 32


def activation_size(module) -> int | None:
    """Elements per image of ``module``'s largest activation, where it says (ConvNet does:
    its first block's output); None otherwise."""
    size = getattr(module, "activation_size", None)
    return int(size) if size else None


def resolve_micro_batch(value, device, compiled=False, batch_statistics=False, activation=None):
    """``micro_batch`` resolved: rows per forward pass, or None for the whole batch.

    A training batch of 256 images of ConvNet3 (width 128, 32x32) makes
    activations of 134 MB per layer, which the CPU streams through memory at
    every layer and allocates anew at every step; cut into passes of 16
    images (64 compiled) whose outputs are concatenated before the loss, it
    fits in the caches (with it, ConvNetClassifier's defaults train 1.6
    times as fast as a plain eager loop on two cores,
    ``benchmarks/results/fit_speed_*``), with the same loss and gradients up to
    floating-point rounding. A smaller network needs fewer passes:
    ``activation`` (elements per image of the largest activation, see
    :func:`activation_size`) scales the rows per pass so that a pass holds
    as many numbers as 16 images of ConvNet3 do (a 16x16 ConvNet of width 32,
    the demo's, trains in whole batches of 256: there, passes of 16 only
    added per-operation overhead, and the demo was slower than before
    micro-batching). Networks with batch statistics (batch norm)
    are never cut: their statistics would change. "auto" cuts on the CPU
    only (a GPU wants large batches).

    Examples
    --------
    >>> resolve_micro_batch("auto", "cpu"), resolve_micro_batch("auto", "cpu", compiled=True)
    (16, 64)
    >>> resolve_micro_batch("auto", "cpu", activation=32 * 16 * 16)   # ConvNet3 width 32, 16x16
    256
    >>> resolve_micro_batch("auto", "cpu", batch_statistics=True) is None
    True
    >>> resolve_micro_batch(None, "cpu") is None, resolve_micro_batch(32, "cuda")
    (True, 32)
    """
    if value is None:
        return None
    if isinstance(value, str):
        if value != "auto":
            raise ValueError(f"micro_batch must be 'auto', a positive int or None, got {value!r}.")
        if batch_statistics or torch.device(device).type != "cpu":
            return None
        rows = CPU_MICRO_BATCH_COMPILED if compiled else CPU_MICRO_BATCH
        if activation:
            rows = max(rows, rows * REFERENCE_ACTIVATION // int(activation))
        return rows
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"micro_batch must be 'auto', a positive int or None, got {value!r}.")
    return None if batch_statistics else int(value)


def micro_batched(fn, x: torch.Tensor, size) -> torch.Tensor:
    """``fn(x)`` in passes of at most ``size`` rows, concatenated (autograd flows through).

    ``fn`` must treat rows independently (no batch statistics).

    Examples
    --------
    >>> x = torch.arange(10.0).view(5, 2)
    >>> bool(torch.equal(micro_batched(lambda t: t * 2, x, 2), x * 2))
    True
    """
    if not size or x.shape[0] <= size:
        return fn(x)
    return torch.cat([fn(part) for part in x.split(int(size))])


def has_batch_statistics(module) -> bool:
    """Whether ``module`` normalises with statistics over the batch (batch norm)."""
    return any(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in module.modules())
