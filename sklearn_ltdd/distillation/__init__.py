"""Distillers: condense a long-tailed image set into a small balanced one."""

from ._experts import train_expert_trajectories
from ._gradient_matching import DC_LOOPS, GradientMatchingDistiller, default_loops
from ._trajectory_matching import (
    MTT_DEFAULTS,
    TrajectoryMatchingDistiller,
    default_mtt_settings,
)
from ._zca import ZCAWhitening

__all__ = [
    "DC_LOOPS",
    "MTT_DEFAULTS",
    "GradientMatchingDistiller",
    "TrajectoryMatchingDistiller",
    "ZCAWhitening",
    "default_loops",
    "default_mtt_settings",
    "train_expert_trajectories",
]
