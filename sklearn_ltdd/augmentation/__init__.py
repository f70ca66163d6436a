"""Differentiable image augmentation: DSA and random crop + flip.

DSA and crop + flip work on batches of float images ``(n, C, H, W)`` on any device, draw
their randomness from an explicit :class:`torch.Generator` (no hidden state,
no global seeding) and are differentiable with respect to the images, which
is what gradient matching with Siamese augmentation needs. Batch mixing
(mixup, CutMix) wraps torchvision's transforms with the same explicit
generators.
"""

from ._dsa import DSA, CropFlip, get_augmentation
from ._mixing import MIXINGS, BatchMixing
from ._resized_crop import ResizedCropFlip
from ._tiles import expand_tiles, tile_images

__all__ = [
    "DSA",
    "MIXINGS",
    "BatchMixing",
    "CropFlip",
    "ResizedCropFlip",
    "expand_tiles",
    "get_augmentation",
    "tile_images",
]
