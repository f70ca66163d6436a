"""Vectorised differentiable Siamese augmentation (Zhao & Bilen, 2021).

The reference implementation draws one operation per call and then loops in
Python over samples to build affine matrices, re-seeding torch's global
generator between calls to make the real and synthetic batches see the same
transformation. Here every random quantity is drawn once, as a tensor of
per-row parameters, from an explicit generator; a batch is transformed by
gathering the rows it should use. Siamese augmentation is then simply two
batches gathering the same rows, and the per-class augmentation of gradient
matching runs for all classes at once.
"""

from __future__ import annotations

import inspect
import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

#: Names accepted in a DSA ``strategy`` string, in the reference order.
DSA_OPERATIONS = ("color", "crop", "cutout", "flip", "scale", "rotate")


def _uniform(n, generator, device):
    return torch.rand(n, generator=generator, device=device)


def _translate(x, shift_h, shift_w, max_shift):
    """Shift each image by integer offsets, filling with zeros.

    ``shift_h`` and ``shift_w`` are long tensors of shape (n,) with values in
    ``[-max_shift, max_shift]``; no host synchronisation is needed.
    """
    n, _, height, width = x.shape
    pad = max(int(max_shift), 0)
    x_pad = F.pad(x, [pad, pad, pad, pad])
    rows = torch.arange(height, device=x.device)[None, :] + shift_h[:, None] + pad
    cols = torch.arange(width, device=x.device)[None, :] + shift_w[:, None] + pad
    rows = rows.clamp(0, height + 2 * pad - 1)
    cols = cols.clamp(0, width + 2 * pad - 1)
    batch = torch.arange(n, device=x.device)[:, None, None]
    out = x_pad.permute(0, 2, 3, 1)[batch, rows[:, :, None], cols[:, None, :]]
    return out.permute(0, 3, 1, 2)


@dataclass(frozen=True)
class DSA:
    """Differentiable Siamese augmentation with the DC/DSA defaults.

    As in the reference "single" mode, each row of parameters applies one
    operation of ``strategy``, chosen at random; ``color`` is brightness,
    then saturation, then contrast.

    Parameters
    ----------
    strategy : str, default="color_crop_cutout_flip_scale_rotate"
        Operations joined by ``_``, from ``color, crop, cutout, flip, scale,
        rotate``.
    prob_flip : float, default=0.5
    ratio_scale : float, default=1.2
        Scale factors are drawn from ``[1/ratio, ratio]`` per axis.
    ratio_rotate : float, default=15.0
        Rotations are drawn from ``[-ratio, ratio]`` degrees.
    ratio_crop_pad : float, default=0.125
        Translations of up to ``round(ratio * size)`` pixels, zero-filled.
    ratio_cutout : float, default=0.5
        Side of the zeroed square, as a fraction of the image side.
    brightness : float, default=1.0
    saturation : float, default=2.0
    contrast : float, default=0.5

    Examples
    --------
    >>> import torch
    >>> dsa = DSA()
    >>> g = torch.Generator().manual_seed(0)
    >>> real, syn = torch.randn(8, 3, 16, 16), torch.randn(2, 3, 16, 16)
    >>> params = dsa.sample(1, g)              # one transformation ...
    >>> a = dsa.apply(real, params, torch.zeros(8, dtype=torch.long))
    >>> b = dsa.apply(syn, params, torch.zeros(2, dtype=torch.long))
    >>> a.shape, b.shape                       # ... applied to both batches
    (torch.Size([8, 3, 16, 16]), torch.Size([2, 3, 16, 16]))
    """

    strategy: str = "color_crop_cutout_flip_scale_rotate"
    prob_flip: float = 0.5
    ratio_scale: float = 1.2
    ratio_rotate: float = 15.0
    ratio_crop_pad: float = 0.125
    ratio_cutout: float = 0.5
    brightness: float = 1.0
    saturation: float = 2.0
    contrast: float = 0.5

    def __post_init__(self):
        ops = self.operations
        unknown = [op for op in ops if op not in DSA_OPERATIONS]
        if unknown or not ops:
            raise ValueError(
                f"strategy must join operations from {list(DSA_OPERATIONS)} "
                f"with '_', got {self.strategy!r}."
            )

    @property
    def operations(self) -> tuple[str, ...]:
        return tuple(op for op in self.strategy.split("_") if op)

    # -- sampling -----------------------------------------------------------
    def sample(
        self,
        n: int,
        generator: torch.Generator,
        device=None,
        groups: torch.Tensor | None = None,
        n_groups: int | None = None,
    ) -> dict[str, torch.Tensor]:
        """Draw ``n`` rows of augmentation parameters.

        Parameters
        ----------
        n : int
            Number of parameter rows.
        generator : torch.Generator
            Source of randomness; its device is used when ``device`` is None.
        groups : LongTensor of shape (n,), default=None
            Rows of the same group share one randomly chosen operation (the
            reference draws one operation per batch). By default every row
            draws its own.
        n_groups : int, default=None
            Number of groups (``groups.max() + 1``); pass it to avoid a
            device-to-host synchronisation on CUDA.
        """
        device = generator.device if device is None else torch.device(device)
        n_ops = len(self.operations)
        if groups is None:
            op = torch.randint(n_ops, (n,), generator=generator, device=device)
        else:
            if n_groups is None:
                n_groups = int(groups.max()) + 1 if groups.numel() else 0
            op = torch.randint(n_ops, (n_groups,), generator=generator, device=device)[groups]
        return {
            "op": op,
            **{
                key: _uniform(n, generator, device)
                for key in (
                    "brightness",
                    "saturation",
                    "contrast",
                    "crop_h",
                    "crop_w",
                    "cutout_h",
                    "cutout_w",
                    "flip",
                    "scale_h",
                    "scale_w",
                    "rotate",
                )
            },
        }

    # -- application --------------------------------------------------------
    def apply(
        self, x: torch.Tensor, params: dict[str, torch.Tensor], index: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Transform ``x`` with parameter rows ``params[index]``.

        ``index`` maps each image to a parameter row (default: row i for
        image i). Differentiable with respect to ``x``.
        """
        if index is not None:
            params = {key: value[index] for key, value in params.items()}
        op = params["op"]
        for k, name in enumerate(self.operations):
            selected = (op == k).view(-1, 1, 1, 1)
            if name in ("scale", "rotate"):
                continue  # both done below with one grid_sample
            x = torch.where(selected, getattr(self, f"_{name}")(x, params), x)
        geometric = [k for k, name in enumerate(self.operations) if name in ("scale", "rotate")]
        if geometric:
            selected = torch.zeros_like(op, dtype=torch.bool)
            for k in geometric:
                selected = selected | (op == k)
            x = torch.where(selected.view(-1, 1, 1, 1), self._affine(x, params, op), x)
        return x.contiguous()

    def __call__(self, x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """Augment a training batch: one operation, per-image parameters."""
        groups = torch.zeros(x.shape[0], dtype=torch.long, device=x.device)
        return self.apply(x, self.sample(x.shape[0], generator, x.device, groups, 1))

    # -- operations -----------------------------------------------------------
    def _color(self, x, p):
        x = x + (p["brightness"].view(-1, 1, 1, 1) - 0.5) * self.brightness
        mean = x.mean(dim=1, keepdim=True)
        x = (x - mean) * (p["saturation"].view(-1, 1, 1, 1) * self.saturation) + mean
        mean = x.mean(dim=(1, 2, 3), keepdim=True)
        return (x - mean) * (p["contrast"].view(-1, 1, 1, 1) + self.contrast) + mean

    def _crop(self, x, p):
        height, width = x.shape[2:]
        shift_h = int(height * self.ratio_crop_pad + 0.5)
        shift_w = int(width * self.ratio_crop_pad + 0.5)
        dh = (p["crop_h"] * (2 * shift_h + 1)).long().clamp(max=2 * shift_h) - shift_h
        dw = (p["crop_w"] * (2 * shift_w + 1)).long().clamp(max=2 * shift_w) - shift_w
        return _translate(x, dh, dw, max(shift_h, shift_w))

    def _cutout(self, x, p):
        height, width = x.shape[2:]
        size_h = int(height * self.ratio_cutout + 0.5)
        size_w = int(width * self.ratio_cutout + 0.5)
        span_h = height + (1 - size_h % 2)
        span_w = width + (1 - size_w % 2)
        top = (p["cutout_h"] * span_h).long().clamp(max=span_h - 1) - size_h // 2
        left = (p["cutout_w"] * span_w).long().clamp(max=span_w - 1) - size_w // 2
        rows = torch.arange(height, device=x.device)[None, :]
        cols = torch.arange(width, device=x.device)[None, :]
        in_rows = (rows >= top[:, None]) & (rows < top[:, None] + size_h)
        in_cols = (cols >= left[:, None]) & (cols < left[:, None] + size_w)
        keep = ~(in_rows[:, :, None] & in_cols[:, None, :])
        return x * keep[:, None].to(x.dtype)

    def _flip(self, x, p):
        return torch.where((p["flip"] < self.prob_flip).view(-1, 1, 1, 1), x.flip(3), x)

    def _affine(self, x, p, op):
        ops = self.operations
        n = x.shape[0]
        theta = torch.zeros(n, 2, 3, device=x.device, dtype=x.dtype)
        theta[:, 0, 0] = 1.0
        theta[:, 1, 1] = 1.0
        if "scale" in ops:
            r = self.ratio_scale
            sx = p["scale_h"] * (r - 1.0 / r) + 1.0 / r
            sy = p["scale_w"] * (r - 1.0 / r) + 1.0 / r
            is_scale = op == ops.index("scale")
            theta[:, 0, 0] = torch.where(is_scale, sx, theta[:, 0, 0])
            theta[:, 1, 1] = torch.where(is_scale, sy, theta[:, 1, 1])
        if "rotate" in ops:
            angle = (p["rotate"] - 0.5) * 2 * self.ratio_rotate / 180 * math.pi
            is_rot = op == ops.index("rotate")
            cos, sin = torch.cos(angle), torch.sin(angle)
            theta[:, 0, 0] = torch.where(is_rot, cos, theta[:, 0, 0])
            theta[:, 0, 1] = torch.where(is_rot, -sin, theta[:, 0, 1])
            theta[:, 1, 0] = torch.where(is_rot, sin, theta[:, 1, 0])
            theta[:, 1, 1] = torch.where(is_rot, cos, theta[:, 1, 1])
        grid = F.affine_grid(theta, list(x.shape), align_corners=True)
        return F.grid_sample(x, grid, align_corners=True)


@dataclass(frozen=True)
class CropFlip:
    """Random crop with zero padding and random horizontal flip.

    The standard CIFAR training augmentation (``RandomCrop(32, padding=4)``
    and ``RandomHorizontalFlip()``), drawn per image.

    Parameters
    ----------
    padding : int, default=4
    prob_flip : float, default=0.5

    Examples
    --------
    >>> import torch
    >>> out = CropFlip()(torch.ones(4, 3, 8, 8), torch.Generator().manual_seed(0))
    >>> out.shape
    torch.Size([4, 3, 8, 8])
    """

    padding: int = 4
    prob_flip: float = 0.5

    def __call__(self, x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        n = x.shape[0]
        span = 2 * self.padding + 1
        shifts = torch.randint(span, (2, n), generator=generator, device=x.device) - self.padding
        x = _translate(x, shifts[0], shifts[1], self.padding)
        flip = torch.rand(n, generator=generator, device=x.device) < self.prob_flip
        return torch.where(flip.view(-1, 1, 1, 1), x.flip(3), x)


def _resized_crop_flip():
    from ._resized_crop import ResizedCropFlip

    return ResizedCropFlip()


#: ``augmentation`` values of the networks: name -> factory of the callable.
AUGMENTATIONS = {
    "none": None,
    "crop_flip": CropFlip,
    "dsa": DSA,
    "resized_crop_flip": _resized_crop_flip,
}


def _takes_generator(fn) -> bool:
    """Whether ``fn`` can be called as ``fn(x, generator)``: the package's augmentations,
    or a callable with two positional parameters."""
    if isinstance(fn, (DSA, CropFlip)) or hasattr(fn, "__dataclass_fields__"):
        return True
    try:
        import torch.nn as nn

        if isinstance(fn, nn.Module):  # torchvision transforms: forward(*inputs)
            return False
        parameters = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        return True
    positional = [p for p in parameters if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return len(positional) >= 2 or any(p.kind is p.VAR_POSITIONAL for p in parameters)


class _Seeded:
    """A one-argument transform as ``f(x, generator)``: run under torch's CPU generator,
    forked and seeded from ``generator`` (the caller's stream stays untouched)."""

    def __init__(self, transform):
        self.transform = transform

    def __call__(self, x, generator):
        from ..utils._random import seed_forked

        seed = int(torch.randint(2**62, (), generator=generator, device=generator.device))
        with torch.random.fork_rng(devices=[]):
            seed_forked(seed)
            return self.transform(x)


def get_augmentation(augmentation):
    """Resolve an ``augmentation`` parameter into a callable or None.

    Accepts None, ``"none"``, ``"crop_flip"``, ``"dsa"``, ``"resized_crop_flip"``
    (:class:`ResizedCropFlip`), any callable ``f(x, generator) -> x`` (for
    example a :class:`DSA` with other ratios), or a one-argument transform
    ``f(x) -> x`` such as a ``torchvision.transforms.v2`` transform, which
    then runs on a batch under torch's CPU generator forked and seeded from
    the estimator's generator (so it follows ``random_state``; a v2
    transform draws one set of parameters per call, the same for the whole
    batch).
    """
    if augmentation is None:
        return None
    if callable(augmentation):
        return augmentation if _takes_generator(augmentation) else _Seeded(augmentation)
    if isinstance(augmentation, str) and augmentation in AUGMENTATIONS:
        factory = AUGMENTATIONS[augmentation]
        return None if factory is None else factory()
    raise ValueError(
        f"augmentation must be None, one of {sorted(AUGMENTATIONS)} or a "
        f"callable f(x, generator), got {augmentation!r}."
    )
