"""Several images in one: four half-resolution images in the quadrants of each stored image.

IDM's partition and expansion, and the "combine" step of coreset selection
(prune-combine-augment): a budget of ``n`` stored images holds ``4 n``
images at half resolution, decoded for training by upsampling each
quadrant back to full size.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def expand_tiles(x):
    """IDM's partition and expansion: each image's four quadrants, upsampled.

    An image of ``(C, H, W)`` holds four half-resolution images in its
    quadrants; each is upsampled (bilinear) back to ``(H, W)``. Quadrants
    come in the reference's order: top-left, bottom-left, top-right,
    bottom-right, the four of one image consecutive.

    Examples
    --------
    >>> import torch
    >>> expand_tiles(torch.zeros(3, 1, 8, 8)).shape
    torch.Size([12, 1, 8, 8])
    """
    height, width = x.shape[-2:]
    h, w = height // 2, width // 2
    quadrants = [x[..., :h, :w], x[..., h:, :w], x[..., :h, w:], x[..., h:, w:]]
    tiles = torch.stack(quadrants, dim=1).flatten(0, 1)
    return F.interpolate(tiles, size=(height, width), mode="bilinear", align_corners=False)


def tile_images(images):
    """Four images per stored one: the inverse layout of :func:`expand_tiles`.

    ``images`` (4 n, C, H, W) are downsampled by two (bilinear,
    antialiased) into the quadrants of ``n`` images, four consecutive
    images per stored one, in :func:`expand_tiles`'s order.

    Examples
    --------
    >>> import torch
    >>> tile_images(torch.zeros(8, 3, 8, 8)).shape
    torch.Size([2, 3, 8, 8])
    """
    n, channels, height, width = images.shape
    if n % 4:
        raise ValueError(f"tile_images takes four images per stored one, got {n} images.")
    n_stored = n // 4
    small = F.interpolate(
        images, scale_factor=0.5, mode="bilinear", align_corners=False, antialias=True
    )
    small = small.view(n_stored, 4, channels, height // 2, width // 2)
    top = torch.cat([small[:, 0], small[:, 2]], dim=-1)
    bottom = torch.cat([small[:, 1], small[:, 3]], dim=-1)
    return torch.cat([top, bottom], dim=-2)
