"""The grouping hypothesis: classes a network sees as similar, grouped (eq. 3)."""

from ._class_grouper import ClassGrouper, class_centroid_distances
from ._partition import (
    cross_group_distance,
    exact_partition,
    heuristic_partition,
    n_partitions,
)
from ._plotting import plot_class_groups

__all__ = [
    "ClassGrouper",
    "class_centroid_distances",
    "cross_group_distance",
    "exact_partition",
    "heuristic_partition",
    "n_partitions",
    "plot_class_groups",
]
