"""sklearn-ltdd: dataset distillation for long-tailed image classification.

Scikit-learn estimators for the two-stage method of Zheng et al.,
"Dataset Distillation Enhancing Long-Tail Learning": distillers that condense
a long-tailed image set into a small balanced one (gradient, trajectory,
distribution and statistics matching), a class grouper, and a two-stage classifier, all on
the ConvNet3 backbone wrapped as a skorch net.
"""

from ._version import __version__
from .distillation import (
    DistributionMatchingDistiller,
    GradientMatchingDistiller,
    StatisticsMatchingDistiller,
    TrajectoryMatchingDistiller,
    ZCAWhitening,
)
from .grouping import ClassGrouper, plot_class_groups
from .nets import MLP, ConvNet, ConvNetClassifier, DecoupledClassifier, FeatureExtractor
from .selection import CoresetSampler
from .two_stage import TwoStageClassifier

__all__ = [
    "MLP",
    "ClassGrouper",
    "ConvNet",
    "ConvNetClassifier",
    "CoresetSampler",
    "DecoupledClassifier",
    "DistributionMatchingDistiller",
    "FeatureExtractor",
    "GradientMatchingDistiller",
    "StatisticsMatchingDistiller",
    "TrajectoryMatchingDistiller",
    "TwoStageClassifier",
    "ZCAWhitening",
    "__version__",
    "plot_class_groups",
]
