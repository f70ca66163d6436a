"""Long-tail losses, built from the class counts of the training labels.

All take raw logits and integer targets, or soft targets (rows of class
probabilities, as batch mixing makes them), like
:class:`torch.nn.CrossEntropyLoss`, and leave prediction unchanged: a net
trained with them predicts with the argmax (or softmax) of its raw logits.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F


def _as_counts(class_counts) -> torch.Tensor:
    counts = torch.as_tensor(np.asarray(class_counts, dtype=np.float64), dtype=torch.float32)
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


class CumulativeReweightedLoss(nn.Module):
    """Cross-entropy that moves to class-reweighted cross-entropy as training goes on.

    The debiasing loss of the uni-level long-tailed distillation framework
    (Cui et al., AAAI 2026, eqs. 6-7, after GLMC, Du et al. 2023):
    ``(1 - a) CE(p, y) + a sum_k w_k (-y_k log p_k)`` with
    ``w_k = n_k^(-q)`` (normalised to mean 1) and ``a = (t / T)^2`` the
    squared training progress, set at each epoch through
    :meth:`set_progress` (``ConvNetClassifier`` does it): plain
    cross-entropy learns features early, the tail-weighted term corrects the
    classifier late. Targets may be soft (mixed labels), as the paper trains
    with mixup and CutMix views.

    Parameters
    ----------
    class_counts : array-like of shape (n_classes,)
    q : float, default=1.2
        Sharpness of the reweighting (GLMC's CIFAR-10-LT setting; the paper
        gives no value).

    Examples
    --------
    >>> import torch
    >>> loss = CumulativeReweightedLoss([3, 1], q=1.0)
    >>> logits, target = torch.zeros(1, 2), torch.tensor([1])
    >>> round(loss(logits, target).item(), 4)          # start: plain CE, -log(1/2)
    0.6931
    >>> loss.set_progress(1.0)                          # end: weight 1.5 on the tail class
    >>> round(loss(logits, target).item(), 4)
    1.0397
    """

    def __init__(self, class_counts, q: float = 1.2):
        super().__init__()
        counts = _as_counts(class_counts)
        weight = counts.pow(-float(q))
        self.q = float(q)
        self.register_buffer("weight", weight / weight.mean())
        self.alpha = 0.0

    def set_progress(self, fraction: float):
        """Training progress ``t / T`` in [0, 1]; the reweighted term gets ``fraction ** 2``."""
        self.alpha = float(min(max(fraction, 0.0), 1.0)) ** 2

    def forward(self, logits, target):
        log_p = F.log_softmax(logits, dim=1)
        if target.ndim == 1:
            target = F.one_hot(target.long(), logits.shape[1]).to(log_p.dtype)
        plain = -(target * log_p).sum(1)
        weighted = -(self.weight * target * log_p).sum(1)
        return ((1.0 - self.alpha) * plain + self.alpha * weighted).mean()


def distillation_loss(logits, teacher_probabilities, temperature: float = 1.0):
    """Knowledge-distillation loss (Hinton et al. 2015): ``T^2 KL(p_T || softmax(z / T))``.

    ``teacher_probabilities`` are the teacher's softmax at temperature
    ``T``; the ``T^2`` factor keeps the gradients' scale independent of
    ``T``.

    Examples
    --------
    >>> import torch
    >>> z = torch.tensor([[2.0, 0.0]])
    >>> p = torch.softmax(z / 4.0, dim=1)
    >>> round(float(distillation_loss(z, p, temperature=4.0)), 5)   # the teacher's logits
    0.0
    """
    temperature = float(temperature)
    log_q = F.log_softmax(logits.float() / temperature, dim=1)
    kl = F.kl_div(log_q, teacher_probabilities.float(), reduction="batchmean")
    return kl * temperature**2


#: ``teacher_loss`` values: how a student's logits are compared with its teacher's.
TEACHER_LOSSES = ("kl", "mse")


def teacher_loss(logits, teacher_logits, kind: str = "kl", temperature: float = 1.0):
    """A student's loss against its teacher's logits on the same batch.

    ``"kl"``: :func:`distillation_loss` of the teacher's softmax at
    ``temperature`` (Hinton et al. 2015; RDED, SRe2L); ``"mse"``: the mean
    squared difference of the logits over all entries, the temperature
    unused (EDC's ``mse_gt`` and the uni-level framework's student).

    Examples
    --------
    >>> import torch
    >>> z = torch.tensor([[2.0, 0.0]])
    >>> float(teacher_loss(z, z + 1.0, "mse"))
    1.0
    """
    if kind == "mse":
        return F.mse_loss(logits.float(), teacher_logits.float())
    probabilities = torch.softmax(teacher_logits.float() / float(temperature), dim=1)
    return distillation_loss(logits, probabilities, temperature)


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
    "cumulative_reweighted": CumulativeReweightedLoss,
}
