import math

import numpy as np
import pytest
import torch
from torch.nn import functional as F

from sklearn_ltdd.nets import (
    CRITERIA,
    BalancedSoftmaxLoss,
    ClassBalancedLoss,
    LogitAdjustedLoss,
)

LOGITS = torch.tensor([[2.0, 0.0, -1.0], [0.5, 1.5, 0.0]])
TARGET = torch.tensor([0, 2])
COUNTS = [6, 3, 1]


def by_hand_ce(logits, target):
    """Mean of -log softmax(logits)[target], written out."""
    losses = []
    for row, t in zip(logits.tolist(), target.tolist()):
        log_z = math.log(sum(math.exp(v) for v in row))
        losses.append(log_z - row[t])
    return sum(losses) / len(losses)


def test_logit_adjusted_by_hand():
    prior = np.array(COUNTS) / sum(COUNTS)
    tau = 0.5
    adjusted = LOGITS + tau * torch.tensor(np.log(prior), dtype=torch.float32)
    expected = by_hand_ce(adjusted, TARGET)
    assert LogitAdjustedLoss(COUNTS, tau=tau)(LOGITS, TARGET).item() == pytest.approx(
        expected, rel=1e-6
    )


def test_logit_adjusted_tau_zero_is_cross_entropy():
    value = LogitAdjustedLoss(COUNTS, tau=0.0)(LOGITS, TARGET).item()
    assert value == pytest.approx(by_hand_ce(LOGITS, TARGET), rel=1e-6)


def test_balanced_softmax_by_hand():
    adjusted = LOGITS + torch.log(torch.tensor(COUNTS, dtype=torch.float32))
    expected = by_hand_ce(adjusted, TARGET)
    assert BalancedSoftmaxLoss(COUNTS)(LOGITS, TARGET).item() == pytest.approx(expected, rel=1e-6)
    # equal to logit adjustment with tau=1 (the constant log N cancels)
    assert BalancedSoftmaxLoss(COUNTS)(LOGITS, TARGET).item() == pytest.approx(
        LogitAdjustedLoss(COUNTS, tau=1.0)(LOGITS, TARGET).item(), rel=1e-6
    )


def test_class_balanced_by_hand():
    beta = 0.9
    raw = [(1 - beta) / (1 - beta**n) for n in COUNTS]
    weights = [w / sum(raw) * 3 for w in raw]
    loss = ClassBalancedLoss(COUNTS, beta=beta)
    assert loss.weight.tolist() == pytest.approx(weights, rel=1e-6)
    per_sample = [by_hand_ce(LOGITS[i : i + 1], TARGET[i : i + 1]) for i in range(2)]
    w = [weights[t] for t in TARGET.tolist()]
    expected = sum(wi * li for wi, li in zip(w, per_sample)) / sum(w)
    assert loss(LOGITS, TARGET).item() == pytest.approx(expected, rel=1e-6)


def test_class_balanced_beta_zero_is_cross_entropy():
    assert ClassBalancedLoss(COUNTS, beta=0.0)(LOGITS, TARGET).item() == pytest.approx(
        F.cross_entropy(LOGITS, TARGET).item(), rel=1e-6
    )


def test_loss_argument_errors():
    with pytest.raises(ValueError, match="positive counts"):
        LogitAdjustedLoss([3, 0])
    with pytest.raises(ValueError, match=r"beta must be in \[0, 1\)"):
        ClassBalancedLoss([3, 1], beta=1.0)


def test_registry_names():
    assert set(CRITERIA) == {
        "cross_entropy",
        "logit_adjusted",
        "balanced_softmax",
        "class_balanced",
        "cumulative_reweighted",
    }
    for cls in CRITERIA.values():
        assert cls(class_counts=COUNTS)(LOGITS, TARGET).ndim == 0
