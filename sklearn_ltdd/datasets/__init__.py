"""Long-tailed data sets: the standard exponential profile and loaders."""

from ._cifar import load_cifar10_lt, load_cifar100_lt
from ._digits import load_digits_lt
from ._image_dataset import load_image_dataset
from ._long_tailed import long_tailed_counts, make_long_tailed

__all__ = [
    "load_cifar10_lt",
    "load_cifar100_lt",
    "load_digits_lt",
    "load_image_dataset",
    "long_tailed_counts",
    "make_long_tailed",
]
