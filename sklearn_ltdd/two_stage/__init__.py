"""The two-stage (group, then class) classifier of the paper."""

from ._two_stage import TwoStageClassifier

__all__ = ["TwoStageClassifier"]
