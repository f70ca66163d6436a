import os
from pathlib import Path

import numpy as np
import pytest
import torch

from sklearn_ltdd.datasets import load_digits_lt

REPO = Path(__file__).resolve().parents[1]


def cifar10_source():
    """The local CIFAR-10 copy, or None (tests that need it then skip)."""
    candidates = [
        os.environ.get("SKLEARN_LTDD_CIFAR10"),
        REPO.parent / "shared" / "data" / "cifar10",
    ]
    for candidate in candidates:
        if candidate and (Path(candidate) / "train.parquet").exists():
            return str(candidate)
    return None


requires_cifar10 = pytest.mark.skipif(
    cifar10_source() is None, reason="no local CIFAR-10 copy (../shared/data/cifar10)"
)
requires_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA not available")


@pytest.fixture(scope="session")
def digits():
    """digits-LT: 503 long-tailed training images, 500 balanced test images, 1x16x16."""
    return load_digits_lt()


@pytest.fixture(scope="session")
def tiny_images():
    """60 images 1x16x16 of 3 classes that differ by mean brightness."""
    rng = np.random.RandomState(0)
    y = np.repeat([0, 1, 2], 20)
    X = (rng.normal(size=(60, 1, 16, 16)) + y[:, None, None, None]).astype(np.float32)
    return X, y


def random_balanced_subset(X, y, per_class, seed):
    rng = np.random.RandomState(seed)
    idx = np.concatenate(
        [rng.choice(np.flatnonzero(y == c), per_class, replace=False) for c in np.unique(y)]
    )
    return X[idx], y[idx]
