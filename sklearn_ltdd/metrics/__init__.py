"""Long-tail metrics: per-class accuracy, "Acc Std", group and shot accuracy, and their plot."""

from ._display import PerClassAccuracyDisplay
from ._long_tail import (
    class_accuracy_std,
    format_long_tail_table,
    group_accuracy,
    long_tail_report,
    per_class_accuracy,
    shot_accuracy,
    worst_class_accuracy,
)
from ._scorers import acc_std_scorer, worst_class_scorer

__all__ = [
    "PerClassAccuracyDisplay",
    "acc_std_scorer",
    "class_accuracy_std",
    "format_long_tail_table",
    "group_accuracy",
    "long_tail_report",
    "per_class_accuracy",
    "shot_accuracy",
    "worst_class_accuracy",
    "worst_class_scorer",
]
