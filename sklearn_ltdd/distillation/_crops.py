"""Statistics matching's square random crops (drawn here, applied by the augmentation
package's batched resized crop) and its confident initial set."""

from __future__ import annotations

import math

import torch

from ..augmentation._resized_crop import apply_resized_crops


def crop_parameters(n, generator, device, scale=(0.5, 1.0), flip=True):
    """``(n, 5)`` square crops in the layout of
    :func:`~sklearn_ltdd.augmentation._resized_crop.resized_crop_parameters` (width and
    height, centre x and y in [-1, 1] coordinates, a horizontal flip sign; applied by its
    ``apply_resized_crops``): an area fraction drawn from ``scale``, the crop inside the
    image."""
    u = torch.rand(n, 4, generator=generator, device=device)
    low, high = float(scale[0]), float(scale[1])
    side = torch.sqrt(low + (high - low) * u[:, 0])
    cx = (2.0 * u[:, 1] - 1.0) * (1.0 - side)
    cy = (2.0 * u[:, 2] - 1.0) * (1.0 - side)
    sign = torch.where(u[:, 3] < 0.5, -1.0, 1.0) if flip else torch.ones_like(side)
    return torch.stack([side, side, cx, cy, sign], dim=1)


def random_square_crops(x, generator, scale):
    """Images ``x``, each through its own square crop (:func:`crop_parameters`, drawn
    from ``generator``) resized back to ``x``'s size; differentiable with respect to ``x``."""
    return apply_resized_crops(x, crop_parameters(x.shape[0], generator, x.device, scale))


def identity_crops(n, device, mirror=False):
    """Parameters of the whole image, unflipped (or flipped: ``mirror``)."""
    sign = -1.0 if mirror else 1.0
    return torch.tensor([1.0, 1.0, 0.0, 0.0, sign], device=device).repeat(n, 1)


def _k_center(features, order, k):
    """``k`` positions of ``order`` (candidates, most confident first): the first, then
    greedily the one farthest from those chosen (k-center in ``features``)."""
    pool = features[order]
    chosen = [0]
    distance = torch.cdist(pool, pool[:1]).squeeze(1)
    for _ in range(1, min(k, len(order))):
        nxt = int(torch.argmax(distance))
        chosen.append(nxt)
        distance = torch.minimum(distance, torch.cdist(pool, pool[nxt : nxt + 1]).squeeze(1))
    return [order[i] for i in chosen]


def _round_robin(scores, count):
    """``count`` (image, view) pairs: round after round, every image offers its best view
    not taken yet, and the best offers are taken (at most one view per image a round)."""
    taken = torch.zeros_like(scores, dtype=torch.bool)
    chosen = []
    count = min(count, scores.numel())
    while len(chosen) < count:
        offer = torch.where(taken, -math.inf, scores)
        best, which = offer.max(1)
        open_ = torch.nonzero(torch.isfinite(best)).flatten()
        order = open_[torch.argsort(best[open_], descending=True, stable=True)]
        for image in order[: count - len(chosen)].tolist():
            view = int(which[image])
            taken[image, view] = True
            chosen.append((image, view))
    return chosen


def confident_crops(
    X,
    y,
    n_classes,
    ipc,
    score,
    generator,
    n_crops=5,
    scale=(0.5, 1.0),
    batch_size=512,
    whole_below=0,
    diversity=1.0,
    features=None,
    max_candidates=None,
):
    """The uni-level framework's confidence-guided, multi-round initialisation.

    Every real image of a class gets ``n_crops`` candidates: the image itself
    and ``n_crops - 1`` random resized crops (with flips); ``score(images,
    labels)`` rates each (the teacher's log-probability of the true class).
    Then, round after round, every image of the class offers its best
    candidate not taken yet, and the best offers fill the class's free
    places, until it has ``ipc`` images: the most confident views, with at
    most one view of an image per round, so a class with enough images gets
    ``ipc`` different ones. A class with fewer than ``ipc`` images gets more
    candidates per image (``ceil(ipc / n_c)`` at least), so its later rounds
    add other views of the same images.

    Three changes for the long tail (all off with the defaults):

    * ``max_candidates``: a class with more images than this scores a random
      subset of this many (RDED's per-class pool, 300 images on CIFAR-10):
      every class's views are then picked from pools of the same size, where
      scoring every image picks a head class's few most typical images out
      of thousands and a tail class's out of tens;

    * a class with fewer than ``whole_below`` images offers whole images
      only (each image and its mirror image, then crops if it needs more
      views than that): with few images to choose from, a zoomed crop loses
      what little there is;
    * ``diversity > 1``: the ``ceil(diversity * ipc)`` most confident views
      of the rounds above form a pool, and ``ipc`` of them are chosen by
      k-center in ``features(views)`` (the teacher's penultimate features),
      starting from the most confident: confident and different views of a
      head class, instead of near-copies of its easiest images.

    Returns
    -------
    images : tensor (n_classes * ipc, C, H, W), class by class
    sources : tensor (n_classes * ipc,) of row indices into ``X``
    """
    out, sources = [], []
    for c in range(n_classes):
        members = torch.nonzero(y == c).flatten()
        if max_candidates is not None and len(members) > max_candidates:
            pick = torch.randperm(len(members), generator=generator, device=X.device)
            members = members[pick[:max_candidates].sort().values]
        k = max(int(n_crops), math.ceil(ipc / max(len(members), 1)))
        params = crop_parameters(len(members) * k, generator, X.device, scale)
        params = params.view(len(members), k, 5)
        params[:, 0] = identity_crops(len(members), X.device)
        if len(members) < whole_below:  # whole images and their mirror images first
            params[:, 1] = identity_crops(len(members), X.device, mirror=True)
            extra = max(math.ceil(ipc / max(len(members), 1)) - 2, 0)
            params = params[:, : 2 + extra]
            k = params.shape[1]
        flat = params.reshape(-1, 5)
        rows = members.repeat_interleave(k)
        scores = torch.empty(len(rows), device=X.device)
        with torch.no_grad():
            for start in range(0, len(rows), batch_size):
                part = slice(start, start + batch_size)
                views = apply_resized_crops(X[rows[part]], flat[part])
                scores[part] = score(views, torch.full((views.shape[0],), c, device=X.device))
        scores = scores.view(len(members), k)
        pool = max(ipc, math.ceil(float(diversity) * ipc))
        chosen = _round_robin(scores, pool)
        if len(chosen) > ipc:
            pool_params = torch.stack([params[i, v] for i, v in chosen])
            index = members[torch.tensor([i for i, _ in chosen], device=X.device)]
            with torch.no_grad():
                feats = features(apply_resized_crops(X[index], pool_params)).flatten(1).float()
            chosen = [chosen[i] for i in _k_center(feats, list(range(len(chosen))), ipc)]
        picked_params = torch.stack([params[i, v] for i, v in chosen])
        picked_rows = members[torch.tensor([i for i, _ in chosen], device=X.device)]
        with torch.no_grad():
            out.append(apply_resized_crops(X[picked_rows], picked_params))
        sources.append(picked_rows)
    return torch.cat(out), torch.cat(sources)
