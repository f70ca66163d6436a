"""Statistics matching's initial views, and the working space of ``combine=4`` (tiles)."""

from __future__ import annotations

import numpy as np
import torch

from ..augmentation._tiles import expand_tiles, tile_images
from ._crops import confident_crops
from ._sm_recovery import class_threshold

# The key of the initial views' random stream (``_derived_seed``) beside the iterations'
# (the networks' is 20, in ``_sm_networks``; the targets' 22, in ``_sm_recovery``).
_INIT = 21


class ViewsMixin:
    """The confident initial views (or random real images, or noise) of
    :class:`~sklearn_ltdd.distillation.StatisticsMatchingDistiller`, and four views per
    stored image (``combine=4``: the working space holds the tiles)."""

    def _images_per_class(self):
        return self.combine * self.ipc

    def _synthetic_labels(self, device):
        n = torch.arange(len(self.classes_), device=device)
        return n.repeat_interleave(self._images_per_class())

    def _working_space_is_identity(self):
        return self.combine == 1

    def _from_working_space(self, X):
        return X if self.combine == 1 else expand_tiles(X)

    def _to_working_space(self, X, fit):
        return X if self.combine == 1 else tile_images(X)

    def _checkpoint_loaded(self):
        # With one view per image the stored images are X_syn_ itself, which a checkpoint
        # writes once (500 CIFAR images are 6 MB a copy).
        if self._working_space_is_identity():
            self.X_stored_ = self.X_syn_

    def _initial_synthetic(self, X, y, rng):
        n = len(self.classes_) * self.ipc
        if self.init == "confident_crops":
            generator = torch.Generator(device=X.device)
            generator.manual_seed(self._derived_seed(_INIT))
            views, sources = confident_crops(
                X,
                y,
                len(self.classes_),
                self._images_per_class(),
                self._scores,
                generator,
                self.n_crops,
                self.crop_scale,
                whole_below=class_threshold(self.whole_below, torch.bincount(y)),
                diversity=self.diversity,
                features=self._features,
                max_candidates=self.max_candidates,
            )
            self.__dict__.pop("_teacher_scores", None)
            self.init_sources_ = sources.cpu().numpy()
            return self._to_working_space(views, fit=True)
        self.init_sources_ = np.full(n * self.combine, -1)  # noise, or random real images
        if self.init == "noise":
            return torch.randn((n, *X.shape[1:]), generator=self._generator, device=X.device)
        syn = self._real_images(X, y, rng, self._images_per_class())
        return self._to_working_space(syn, fit=True)
