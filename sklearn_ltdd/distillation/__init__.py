"""Distillers: condense a long-tailed image set into a small balanced one."""

from ._distribution_matching import METHOD_DEFAULTS as DM_METHOD_DEFAULTS
from ._distribution_matching import DistributionMatchingDistiller, expand_tiles
from ._experts import train_expert_trajectories
from ._gradient_matching import DC_LOOPS, GradientMatchingDistiller, default_loops
from ._sets import load_distilled_set, save_distilled_set, to_hf_dataset
from ._statistics_matching import StatisticsMatchingDistiller
from ._trajectory_matching import (
    MTT_DEFAULTS,
    TrajectoryMatchingDistiller,
    default_mtt_settings,
)
from ._zca import ZCAWhitening

__all__ = [
    "DC_LOOPS",
    "DM_METHOD_DEFAULTS",
    "MTT_DEFAULTS",
    "DistributionMatchingDistiller",
    "GradientMatchingDistiller",
    "StatisticsMatchingDistiller",
    "TrajectoryMatchingDistiller",
    "ZCAWhitening",
    "default_loops",
    "default_mtt_settings",
    "expand_tiles",
    "load_distilled_set",
    "save_distilled_set",
    "to_hf_dataset",
    "train_expert_trajectories",
]
