"""CIFAR-10/100-LT: presets of :func:`load_image_dataset` with fixed statistics."""

from __future__ import annotations

import os

import numpy as np

# get_data_home and _cache_key moved to _image_dataset; imported here for old imports.
from ._image_dataset import _assemble, _cache_key, _load_decoded, get_data_home  # noqa: F401

# Normalisation statistics of the gradient-matching reference code.
_SPECS = {
    "cifar10": {
        "hub_id": "uoft-cs/cifar10",
        "env": "SKLEARN_LTDD_CIFAR10",
        "label_columns": ("label",),
        "mean": (0.4914, 0.4822, 0.4465),
        "std": (0.2023, 0.1994, 0.2010),
    },
    "cifar100": {
        "hub_id": "uoft-cs/cifar100",
        "env": "SKLEARN_LTDD_CIFAR100",
        "label_columns": ("fine_label", "label"),
        "mean": (0.5071, 0.4866, 0.4409),
        "std": (0.2673, 0.2564, 0.2762),
    },
}


def _load_cached(name: str, source, data_home, verbose=0):
    """The decoded uint8 arrays of both splits (images (n, 32, 32, 3), int labels)."""
    spec = _SPECS[name]
    if source is None:
        source = os.environ.get(spec["env"], spec["hub_id"])
    hint = (
        f"Without internet access, pass source='path/to/folder' pointing at a "
        f"local copy with the hub's schema (train and test Parquet files), or "
        f"set the environment variable {spec['env']} to that folder."
    )
    # No decode options in the cache key: the file names of earlier versions stay valid.
    return _load_decoded(
        str(source),
        name=name,
        options=(),
        data_home=data_home,
        cache=True,
        image_column=("img", "image"),
        label_column=spec["label_columns"],
        image_size=None,
        require_test=True,
        what=name.upper(),
        hint=hint,
        verbose=verbose,
    )


def _load_lt(
    name,
    *,
    source,
    imbalance_ratio,
    max_per_class,
    random_state,
    return_X_y,
    data_home,
    verbose,
    n_val_per_class=None,
):
    spec = _SPECS[name]
    arrays = _load_cached(name, source, data_home, verbose)
    data = _assemble(
        arrays,
        source=str(source),
        test_size=None,
        imbalance_ratio=imbalance_ratio,
        max_per_class=max_per_class,
        mean=spec["mean"],
        std=spec["std"],
        random_state=random_state,
        n_val_per_class=n_val_per_class,
    )
    if return_X_y:
        return data.X_train, data.y_train, data.X_test, data.y_test
    data.DESCR = (
        f"{name.upper()}-LT: long-tailed training set (imbalance ratio "
        f"{imbalance_ratio}, head class {int(np.bincount(data.y_train).max())} "
        f"images) and the full balanced test set; images normalised with "
        f"the per-channel mean/std of the DC reference code."
    )
    return data


def load_cifar10_lt(
    source=None,
    *,
    imbalance_ratio: float = 100,
    max_per_class=None,
    n_val_per_class=None,
    random_state=0,
    return_X_y: bool = False,
    data_home=None,
    verbose: int = 0,
):
    """Load CIFAR10-LT: a long-tailed training set and the balanced test set.

    The data are read with the Hugging Face ``datasets`` library, from a hub
    id (online) or a local folder with the same schema (offline), decoded
    once and cached on disk as uint8 arrays. A preset of
    :func:`load_image_dataset` that normalises with the fixed statistics of
    the DC reference code instead of the training set's.

    Parameters
    ----------
    source : str or path, default=None
        A hub id such as ``"uoft-cs/cifar10"`` or a local folder such as
        ``"../shared/data/cifar10"``. Default: the environment variable
        ``SKLEARN_LTDD_CIFAR10``, else ``"uoft-cs/cifar10"``.
    imbalance_ratio : float, default=100
    max_per_class : int, default=None
        Head-class size; None keeps all 5,000 (the standard CIFAR10-LT,
        12,406 images at r=100). The paper uses 1,000 (2,478 images).
    n_val_per_class : int, default=None
        Also return a balanced validation set (``X_val``, ``y_val``) of this
        many images per class, drawn from the training images the long tail
        leaves out (the protocol of ImageNet-LT's validation set): data to
        choose settings on without touching the test set. The training set
        is the same with or without it.
    random_state : int, RandomState instance or None, default=0
        Which images each class keeps.
    return_X_y : bool, default=False
        Return ``(X_train, y_train, X_test, y_test)`` instead of a Bunch.
    data_home : str or path, default=None
        Cache folder (see :func:`get_data_home`).
    verbose : int, default=0
        1 shows what ``datasets`` prints while it decodes the source the
        first time (progress bars, the hub's messages); 0 keeps it quiet.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        ``X_train`` (float32, n x 3 x 32 x 32, normalised with the DC
        CIFAR-10 mean/std), ``y_train``, ``X_test``, ``y_test`` (the 10,000
        test images), ``target_names``, ``mean``, ``std``, ``class_counts``;
        with ``n_val_per_class``, ``X_val`` and ``y_val``.

    Raises
    ------
    OSError
        When the source cannot be read (for example offline with a hub id);
        the message says how to point ``source`` at a local copy.

    Examples
    --------
    >>> data = load_cifar10_lt(source="../shared/data/cifar10",
    ...                        max_per_class=1000)  # doctest: +SKIP
    >>> data.class_counts.tolist()  # doctest: +SKIP
    [1000, 599, 359, 215, 129, 77, 46, 27, 16, 10]
    """
    return _load_lt(
        "cifar10",
        source=source,
        imbalance_ratio=imbalance_ratio,
        max_per_class=max_per_class,
        random_state=random_state,
        return_X_y=return_X_y,
        data_home=data_home,
        verbose=verbose,
        n_val_per_class=n_val_per_class,
    )


def load_cifar100_lt(
    source=None,
    *,
    imbalance_ratio: float = 100,
    max_per_class=None,
    random_state=0,
    return_X_y: bool = False,
    data_home=None,
    verbose: int = 0,
):
    """Load CIFAR100-LT (fine labels); a preset of :func:`load_image_dataset`.

    The default source is ``$SKLEARN_LTDD_CIFAR100``, else the hub id
    ``"uoft-cs/cifar100"``; with ``max_per_class=None`` the head class keeps
    all 500 images (10,847 images at r=100).
    """
    return _load_lt(
        "cifar100",
        source=source,
        imbalance_ratio=imbalance_ratio,
        max_per_class=max_per_class,
        random_state=random_state,
        return_X_y=return_X_y,
        data_home=data_home,
        verbose=verbose,
    )
