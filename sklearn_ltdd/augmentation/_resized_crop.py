"""Random resized crops with flips, drawn per image and applied to a whole batch at once."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F


def resized_crop_parameters(
    n, generator, device, scale=(0.08, 1.0), ratio=(3 / 4, 4 / 3), prob_flip=0.5
):
    """``(n, 5)`` crops: width and height (fractions of the image's), centre x and y in
    [-1, 1] coordinates, and a horizontal flip sign.

    The area fraction is uniform in ``scale`` and the aspect ratio log-uniform
    in ``ratio``, as ``torchvision.transforms.v2.RandomResizedCrop`` draws
    them; a side that would leave the image is cut to the image (torchvision
    retries ten times, then takes a centre crop), and the centre is uniform
    over the positions that keep the crop inside.
    """
    u = torch.rand(n, 5, generator=generator, device=device)
    area = float(scale[0]) + (float(scale[1]) - float(scale[0])) * u[:, 0]
    log_low, log_high = math.log(ratio[0]), math.log(ratio[1])
    aspect = torch.exp(log_low + (log_high - log_low) * u[:, 1])
    width = torch.sqrt(area * aspect).clamp(max=1.0)
    height = torch.sqrt(area / aspect).clamp(max=1.0)
    cx = (2.0 * u[:, 2] - 1.0) * (1.0 - width)
    cy = (2.0 * u[:, 3] - 1.0) * (1.0 - height)
    sign = torch.where(u[:, 4] < prob_flip, -1.0, 1.0)
    return torch.stack([width, height, cx, cy, sign], dim=1)


def apply_resized_crops(x, params):
    """The crops ``params`` (:func:`resized_crop_parameters`) of images ``x``, resized
    back to ``x``'s size (bilinear, differentiable with respect to ``x``)."""
    width, height, cx, cy, sign = params.to(x.dtype).unbind(1)
    theta = torch.zeros(x.shape[0], 2, 3, device=x.device, dtype=x.dtype)
    theta[:, 0, 0] = width * sign
    theta[:, 0, 2] = cx
    theta[:, 1, 1] = height
    theta[:, 1, 2] = cy
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)


@dataclass(frozen=True)
class ResizedCropFlip:
    """Random resized crop and horizontal flip, one draw per image.

    The augmentation of the soft-label students of SRe2L, RDED and EDC
    (``RandomResizedCrop(size, scale=(0.08, 1))`` then
    ``RandomHorizontalFlip()``). torchvision's v2 transform draws one crop
    per call, so a batch would need a Python loop over its images; here every
    image's crop is drawn at once from ``generator`` and the batch is
    resampled by one ``grid_sample`` on its device.

    Parameters
    ----------
    scale : (float, float), default=(0.08, 1.0)
        Range of the crop's area, as a fraction of the image's.
    ratio : (float, float), default=(3/4, 4/3)
        Range of the crop's aspect ratio (width / height).
    prob_flip : float, default=0.5

    Examples
    --------
    >>> import torch
    >>> out = ResizedCropFlip()(torch.ones(4, 3, 8, 8), torch.Generator().manual_seed(0))
    >>> out.shape, bool(torch.allclose(out, torch.ones_like(out)))
    (torch.Size([4, 3, 8, 8]), True)
    """

    scale: tuple = (0.08, 1.0)
    ratio: tuple = (3 / 4, 4 / 3)
    prob_flip: float = 0.5

    def __post_init__(self):
        low, high = (float(v) for v in self.scale)
        if not 0 < low <= high <= 1:
            raise ValueError(
                f"scale must be (low, high) with 0 < low <= high <= 1, got {self.scale!r}."
            )
        low, high = (float(v) for v in self.ratio)
        if not 0 < low <= high:
            raise ValueError(f"ratio must be (low, high) with 0 < low <= high, got {self.ratio!r}.")

    def __call__(self, x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        params = resized_crop_parameters(
            x.shape[0], generator, x.device, self.scale, self.ratio, self.prob_flip
        )
        return apply_resized_crops(x, params)
