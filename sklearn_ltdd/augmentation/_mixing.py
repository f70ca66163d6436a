"""Batch mixing (mixup, CutMix) through ``torchvision.transforms.v2``, reproducibly."""

from __future__ import annotations

import torch
from torchvision.transforms import v2

from ..utils._random import seed_forked

#: ``batch_mixing`` values: which torchvision transform mixes a batch.
MIXINGS = ("mixup", "cutmix", "mixup_or_cutmix")


class BatchMixing:
    """Mix each training batch with a shuffled copy of itself, with soft targets.

    ``"mixup"`` (Zhang et al. 2018) blends two images, ``"cutmix"`` (Yun et
    al. 2019) pastes a box of one into the other, ``"mixup_or_cutmix"``
    picks one of the two per batch (torchvision's ``RandomChoice``); the
    targets become the mixed one-hot labels (rows sum to 1). The transforms
    are torchvision's (:class:`torchvision.transforms.v2.MixUp`,
    :class:`~torchvision.transforms.v2.CutMix`); their random numbers come
    from torch's CPU generator, so each call runs under a forked copy of it
    seeded from ``generator``: results follow the caller's seed, and the
    global stream is left untouched.

    Parameters
    ----------
    kind : {"mixup", "cutmix", "mixup_or_cutmix"}
    n_classes : int
    alpha : float, default=1.0
        The Beta(alpha, alpha) distribution of the mixing weight.

    Examples
    --------
    >>> import torch
    >>> mix = BatchMixing("cutmix", n_classes=3)
    >>> g = torch.Generator().manual_seed(0)
    >>> x, y = mix(torch.randn(4, 1, 8, 8), torch.tensor([0, 1, 2, 0]), g)
    >>> x.shape, y.shape, bool(torch.allclose(y.sum(1), torch.ones(4)))
    (torch.Size([4, 1, 8, 8]), torch.Size([4, 3]), True)
    """

    def __init__(self, kind: str, n_classes: int, alpha: float = 1.0):
        if kind not in MIXINGS:
            raise ValueError(f"batch_mixing must be None or one of {list(MIXINGS)}, got {kind!r}.")
        if not alpha > 0:
            raise ValueError(f"mixing_alpha must be positive, got {alpha!r}.")
        self.kind, self.n_classes, self.alpha = kind, int(n_classes), float(alpha)
        self.transform = self._transform(self.n_classes)

    def _transform(self, n_classes):
        mixup = v2.MixUp(alpha=self.alpha, num_classes=n_classes)
        cutmix = v2.CutMix(alpha=self.alpha, num_classes=n_classes)
        return {
            "mixup": mixup,
            "cutmix": cutmix,
            "mixup_or_cutmix": v2.RandomChoice([mixup, cutmix]),
        }[self.kind]

    def __call__(self, x: torch.Tensor, y: torch.Tensor, generator: torch.Generator):
        """Mixed images and soft targets ``(n, n_classes)`` of a batch ``(x, y)``.

        ``y`` holds labels, or soft targets ``(n, n_classes)``: those are
        mixed with the same weights as the images (the transform mixes the
        rows' indices, and the targets follow).
        """
        if x.ndim != 4:
            raise ValueError(
                f"batch_mixing={self.kind!r} mixes image batches (n, C, H, W), got a batch "
                f"of shape {tuple(x.shape)}; use batch_mixing=None for tabular data."
            )
        seed = int(torch.randint(2**62, (), generator=generator))
        with torch.random.fork_rng(devices=[]):  # the CPU generator only, restored after
            seed_forked(seed)
            if y.ndim == 1:
                return self.transform(x, y.long())
            rows = torch.arange(x.shape[0], device=x.device)
            x, weights = self._transform(x.shape[0])(x, rows)  # (n, n): who is mixed in
            return x, weights.to(y.dtype) @ y
