"""CIFAR-10/100-LT loaders reading Hugging Face ``datasets`` (hub id or local copy)."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np
from sklearn.utils import Bunch

from ..utils import images_from_uint8
from ._long_tailed import make_long_tailed

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


def get_data_home(data_home=None) -> Path:
    """Folder for decoded-array caches.

    ``data_home``, else ``$SKLEARN_LTDD_DATA``, else
    ``$XDG_CACHE_HOME/sklearn_ltdd`` (``~/.cache/sklearn_ltdd``).
    """
    if data_home is None:
        data_home = os.environ.get("SKLEARN_LTDD_DATA")
    if data_home is None:
        base = os.environ.get("XDG_CACHE_HOME", os.path.join("~", ".cache"))
        data_home = os.path.join(base, "sklearn_ltdd")
    path = Path(data_home).expanduser()
    path.mkdir(parents=True, exist_ok=True)
    return path


def _cache_key(name: str, source: str) -> str:
    local = Path(source).expanduser()
    if local.is_dir():
        parts = [str(local.resolve())]
        for file in sorted(local.rglob("*")):
            if file.is_file() and file.suffix in (".parquet", ".arrow", ".csv", ".json"):
                stat = file.stat()
                parts.append(f"{file.name}:{stat.st_size}:{int(stat.st_mtime)}")
    else:
        parts = [source]
    digest = hashlib.sha1("|".join(parts).encode()).hexdigest()[:16]
    return f"{name}-{digest}"


def _load_split_arrays(name: str, source: str):
    """Decode both splits with ``datasets``: uint8 (n, 32, 32, 3) images, labels."""
    spec = _SPECS[name]
    try:
        from datasets import load_dataset

        dataset = load_dataset(source)
    except Exception as exc:  # offline, unknown id, bad folder
        raise OSError(
            f"Could not load {name.upper()} from source={source!r} "
            f"({type(exc).__name__}: {exc}). Without internet access, pass "
            f"source='path/to/folder' pointing at a local copy with the hub's "
            f"schema (train and test Parquet files), or set the environment "
            f"variable {spec['env']} to that folder."
        ) from exc
    missing = [split for split in ("train", "test") if split not in dataset]
    if missing:
        raise OSError(f"source={source!r} has no {missing} split(s); found {list(dataset)}.")
    out = {}
    for split in ("train", "test"):
        part = dataset[split]
        label_col = next((c for c in spec["label_columns"] if c in part.column_names), None)
        image_col = next((c for c in ("img", "image") if c in part.column_names), None)
        if label_col is None or image_col is None:
            raise OSError(
                f"source={source!r} does not have the schema of {spec['hub_id']}: "
                f"columns {part.column_names}."
            )
        batch = part.with_format("numpy")[:]
        out[f"X_{split}"] = np.asarray(batch[image_col], dtype=np.uint8)
        out[f"y_{split}"] = np.asarray(batch[label_col], dtype=np.int64)
        names = part.features[label_col].names
    out["target_names"] = np.asarray(names)
    return out


def _load_cached(name: str, source, data_home):
    spec = _SPECS[name]
    if source is None:
        source = os.environ.get(spec["env"], spec["hub_id"])
    source = str(source)
    cache = get_data_home(data_home) / f"{_cache_key(name, source)}.npz"
    if cache.exists():
        with np.load(cache, allow_pickle=False) as data:
            return {key: data[key] for key in data.files}
    arrays = _load_split_arrays(name, source)
    tmp = cache.with_suffix(".tmp.npz")
    np.savez(tmp, **arrays)
    os.replace(tmp, cache)
    return arrays


def _load_lt(name, *, source, imbalance_ratio, max_per_class, random_state,
             return_X_y, data_home):
    spec = _SPECS[name]
    arrays = _load_cached(name, source, data_home)
    _, y_train, idx = make_long_tailed(
        arrays["y_train"], arrays["y_train"], imbalance_ratio=imbalance_ratio,
        max_per_class=max_per_class, random_state=random_state,
        return_indices=True,
    )
    X_train = images_from_uint8(arrays["X_train"][idx], mean=spec["mean"], std=spec["std"])
    X_test = images_from_uint8(arrays["X_test"], mean=spec["mean"], std=spec["std"])
    y_test = arrays["y_test"]
    if return_X_y:
        return X_train, y_train, X_test, y_test
    n_classes = len(arrays["target_names"])
    return Bunch(
        X_train=X_train,
        y_train=y_train,
        X_test=X_test,
        y_test=y_test,
        target_names=arrays["target_names"],
        mean=np.asarray(spec["mean"], dtype=np.float32),
        std=np.asarray(spec["std"], dtype=np.float32),
        class_counts=np.bincount(y_train, minlength=n_classes),
        DESCR=(
            f"{name.upper()}-LT: long-tailed training set (imbalance ratio "
            f"{imbalance_ratio}, head class {int(np.bincount(y_train).max())} "
            f"images) and the full balanced test set; images normalised with "
            f"the per-channel mean/std of the DC reference code."
        ),
    )


def load_cifar10_lt(*, source=None, imbalance_ratio: float = 100, max_per_class=None,
                    random_state=0, return_X_y: bool = False, data_home=None):
    """Load CIFAR10-LT: a long-tailed training set and the balanced test set.

    The data are read with the Hugging Face ``datasets`` library, from a hub
    id (online) or a local folder with the same schema (offline), decoded
    once and cached on disk as uint8 arrays.

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
    random_state : int, RandomState instance or None, default=0
        Which images each class keeps.
    return_X_y : bool, default=False
        Return ``(X_train, y_train, X_test, y_test)`` instead of a Bunch.
    data_home : str or path, default=None
        Cache folder (see :func:`get_data_home`).

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        ``X_train`` (float32, n x 3 x 32 x 32, normalised with the DC
        CIFAR-10 mean/std), ``y_train``, ``X_test``, ``y_test`` (the 10,000
        test images), ``target_names``, ``mean``, ``std``, ``class_counts``.

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
    return _load_lt("cifar10", source=source, imbalance_ratio=imbalance_ratio,
                    max_per_class=max_per_class, random_state=random_state,
                    return_X_y=return_X_y, data_home=data_home)


def load_cifar100_lt(*, source=None, imbalance_ratio: float = 100, max_per_class=None,
                     random_state=0, return_X_y: bool = False, data_home=None):
    """Load CIFAR100-LT (fine labels); same code path as :func:`load_cifar10_lt`.

    The default source is ``$SKLEARN_LTDD_CIFAR100``, else the hub id
    ``"uoft-cs/cifar100"``; with ``max_per_class=None`` the head class keeps
    all 500 images (10,847 images at r=100).
    """
    return _load_lt("cifar100", source=source, imbalance_ratio=imbalance_ratio,
                    max_per_class=max_per_class, random_state=random_state,
                    return_X_y=return_X_y, data_home=data_home)
