"""Long-tail losses, built from the class counts of the training labels.

All take raw logits and integer targets, like :class:`torch.nn.CrossEntropyLoss`,
and leave prediction unchanged: a net trained with them predicts with the
argmax (or softmax) of its raw logits.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F


def _as_counts(class_counts) -> torch.Tensor:
    counts = torch.as_tensor(np.asarray(class_counts, dtype=np.float64),
                             dtype=torch.float32)
    if counts.ndim != 1 or counts.numel() < 1 or bool((counts <= 0).any()):
        raise ValueError(
            f"class_counts must be a 1-D array of positive counts, got "
            f"{np.asarray(class_counts).tolist()!r}."
        )
    return counts


class LogitAdjustedLoss(nn.Module):
    """Logit-adjusted cross-entropy (Menon et al., ICLR 2021).

    ``CE(logits + tau * log(prior), y)`` with ``prior = counts / counts.sum()``.
    Training with the adjusted logits and predicting with the raw ones
    targets the balanced error.

    Parameters
    ----------
    class_counts : array-like of shape (n_classes,)
        Training images per class.
    tau : float, default=1.0
        Temperature of the adjustment; 0 gives plain cross-entropy.

    Examples
    --------
    >>> import torch
    >>> loss = LogitAdjustedLoss([3, 1], tau=1.0)
    >>> round(loss(torch.zeros(1, 2), torch.tensor([1])).item(), 4)  # -log(1/4)
    1.3863
    """

    def __init__(self, class_counts, tau: float = 1.0):
        super().__init__()
        counts = _as_counts(class_counts)
        self.tau = float(tau)
        self.register_buffer("log_prior", torch.log(counts / counts.sum()))

    def forward(self, logits, target):
        return F.cross_entropy(logits + self.tau * self.log_prior, target)


class BalancedSoftmaxLoss(nn.Module):
    """Balanced softmax cross-entropy (Ren et al., NeurIPS 2020).

    ``CE(logits + log(counts), y)``: the softmax is reweighted by the class
    counts during training only. (Equal, up to a constant inside the
    softmax, to :class:`LogitAdjustedLoss` with ``tau=1``.)

    Parameters
    ----------
    class_counts : array-like of shape (n_classes,)

    Examples
    --------
    >>> import torch
    >>> loss = BalancedSoftmaxLoss([3, 1])
    >>> round(loss(torch.zeros(1, 2), torch.tensor([0])).item(), 4)  # -log(3/4)
    0.2877
    """

    def __init__(self, class_counts):
        super().__init__()
        self.register_buffer("log_counts", torch.log(_as_counts(class_counts)))

    def forward(self, logits, target):
        return F.cross_entropy(logits + self.log_counts, target)


class ClassBalancedLoss(nn.Module):
    """Class-balanced cross-entropy by effective number (Cui et al., CVPR 2019).

    Class c is weighted by ``(1 - beta) / (1 - beta ** n_c)``, normalised so
    that the weights sum to the number of classes; the loss is the weighted
    mean of the per-sample cross-entropy (torch's ``weight=`` convention).

    Parameters
    ----------
    class_counts : array-like of shape (n_classes,)
    beta : float, default=0.9999
        In ``[0, 1)``; 0 gives plain cross-entropy, values near 1 approach
        inverse-frequency weights.

    Examples
    --------
    >>> loss = ClassBalancedLoss([3, 1], beta=0.5)
    >>> [round(w, 4) for w in loss.weight.tolist()]  # 0.5/0.875, 0.5/0.5, normalised
    [0.7273, 1.2727]
    """

    def __init__(self, class_counts, beta: float = 0.9999):
        super().__init__()
        if not 0.0 <= beta < 1.0:
            raise ValueError(f"beta must be in [0, 1), got {beta!r}.")
        counts = _as_counts(class_counts).double()
        weight = (1.0 - beta) / (1.0 - torch.pow(torch.tensor(beta, dtype=torch.float64), counts))
        weight = weight / weight.sum() * counts.numel()
        self.beta = float(beta)
        self.register_buffer("weight", weight.float())

    def forward(self, logits, target):
        return F.cross_entropy(logits, target, weight=self.weight)


class CrossEntropyLoss(nn.CrossEntropyLoss):
    """Plain cross-entropy that accepts (and ignores) ``class_counts``."""

    def __init__(self, class_counts=None, **kwargs):
        super().__init__(**kwargs)


#: Criteria selectable by name in :class:`~sklearn_ltdd.nets.ConvNetClassifier`.
CRITERIA = {
    "cross_entropy": CrossEntropyLoss,
    "logit_adjusted": LogitAdjustedLoss,
    "balanced_softmax": BalancedSoftmaxLoss,
    "class_balanced": ClassBalancedLoss,
}
