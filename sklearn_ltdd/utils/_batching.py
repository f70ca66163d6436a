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
        chunk = x[start:start + size]
        rows = chunk.shape[0]
        if rows < size:
            pad = chunk.new_zeros((size - rows, *chunk.shape[1:]))
            chunk = torch.cat([chunk, pad])
        out.append(fn(chunk)[:rows])
    if not out:  # no rows: the output's shape from one padded chunk
        return fn(x.new_zeros((size, *x.shape[1:])))[:0]
    return out[0] if len(out) == 1 else torch.cat(out)
