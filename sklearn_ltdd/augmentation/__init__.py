"""Differentiable image augmentation: DSA and random crop + flip.

Both work on batches of float images ``(n, C, H, W)`` on any device, draw
their randomness from an explicit :class:`torch.Generator` (no hidden state,
no global seeding) and are differentiable with respect to the images, which
is what gradient matching with Siamese augmentation needs.
"""

from ._dsa import DSA, CropFlip, get_augmentation

__all__ = ["DSA", "CropFlip", "get_augmentation"]
