"""Choosing the torch device from a user-facing ``device`` parameter."""

from __future__ import annotations

import torch


def resolve_device(device: str | torch.device | None = "auto") -> torch.device:
    """Turn a ``device`` parameter into a :class:`torch.device`.

    Parameters
    ----------
    device : {"auto", "cpu", "cuda"}, str, torch.device or None, default="auto"
        ``"auto"`` (or None) picks CUDA when it is available and the CPU
        otherwise. Any string torch understands (``"cuda:1"``) is accepted.

    Returns
    -------
    torch.device

    Raises
    ------
    ValueError
        If CUDA is asked for but this PyTorch build or machine has none, or
        the string is not a device torch knows.

    Examples
    --------
    >>> resolve_device("cpu")
    device(type='cpu')
    """
    if device is None or (isinstance(device, str) and device == "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(
            f"device must be 'auto', 'cpu', 'cuda' or another torch device string, got {device!r}."
        ) from exc
    if resolved.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(
                f"device={device!r} was requested but CUDA is not available "
                f"on this machine (torch {torch.__version__}, "
                f"cuda build: {torch.version.cuda}). Use device='auto' to fall "
                f"back to the CPU, or device='cpu'."
            )
        if resolved.index is not None and resolved.index >= torch.cuda.device_count():
            raise ValueError(
                f"device={device!r} was requested but only "
                f"{torch.cuda.device_count()} CUDA device(s) are visible."
            )
    return resolved
