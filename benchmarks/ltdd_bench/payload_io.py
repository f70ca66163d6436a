"""The numpy-only CIFAR10-LT payload (``benchmarks/payload.py``), read back.

What a GPU machine without ``datasets`` needs: :func:`load` turns a payload
file into the Bunch that :func:`sklearn_ltdd.datasets.load_cifar10_lt`
returns, with numpy only. The file's format is described in
``benchmarks/payload.py``, which writes it.
"""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path

import numpy as np
from sklearn.utils import Bunch

from sklearn_ltdd.utils import images_from_uint8

FORMAT = "sklearn-ltdd CIFAR10-LT payload"
FORMAT_VERSION = 1
# Head-class size of each profile; the names are those of reproduce_paper.py
# (its "cpu" profile uses the "paper" data).
PROFILES = {"paper": 1000, "standard": None}


def _provenance(data, path):
    if "provenance" not in data.files:
        raise ValueError(f"{path} is not a CIFAR10-LT payload (no provenance member).")
    provenance = json.loads(str(data["provenance"]))
    if provenance.get("format") != FORMAT or provenance.get("format_version") != FORMAT_VERSION:
        raise ValueError(
            f"{path} has format {provenance.get('format')!r} version "
            f"{provenance.get('format_version')!r}; this script reads {FORMAT!r} "
            f"version {FORMAT_VERSION}. Export it again with this script."
        )
    return provenance


def read_provenance(path) -> dict:
    """The provenance record of a payload file (without reading its images).

    Parameters
    ----------
    path : str or path

    Returns
    -------
    provenance : dict
    """
    with np.load(path, allow_pickle=False) as data:
        return _provenance(data, path)


def load(path, profile: str = "paper", balanced: bool = False) -> Bunch:
    """Load CIFAR10-LT from a payload file, as ``load_cifar10_lt`` returns it.

    Parameters
    ----------
    path : str or path
        A file written by :func:`export`.
    profile : {"paper", "standard"}, default="paper"
        ``"paper"`` is ``load_cifar10_lt(max_per_class=1000)``, ``"standard"``
        is ``load_cifar10_lt(max_per_class=None)``.
    balanced : bool, default=False
        Return the balanced training subset of Figure 1 instead:
        ``load_cifar10_lt(imbalance_ratio=1, max_per_class=len(y_train) // 10)``.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        ``X_train`` (float32, n x 3 x 32 x 32, normalised), ``y_train``,
        ``X_test``, ``y_test``, ``target_names``, ``mean``, ``std``,
        ``class_counts``, ``DESCR``: equal to the loader's.

    Raises
    ------
    ValueError
        When the file is not a payload or does not hold ``profile``; the
        message says how to export it.
    """
    if profile not in PROFILES:
        raise ValueError(f"profile must be one of {sorted(PROFILES)}, got {profile!r}.")
    key = f"{profile}_balanced" if balanced else profile
    with np.load(path, allow_pickle=False) as data:
        provenance = _provenance(data, path)
        held = list(provenance["profiles"])
        if profile in held and f"{key}_rows" not in data.files:
            raise ValueError(
                f"{path} holds profile={profile!r} without its balanced subset "
                f"(exported with --no-balanced). Export it again without "
                f"--no-balanced: python benchmarks/payload.py export --source "
                f"../shared/data/cifar10 --out {path} --profiles {' '.join(held)}"
            )
        if f"{key}_rows" not in data.files:
            raise ValueError(
                f"{path} holds the profile(s) {held}, not profile={profile!r}. "
                f"Export it again with: python benchmarks/payload.py export "
                f"--source ../shared/data/cifar10 --out {path} --profiles "
                f"{' '.join(dict.fromkeys(held + [profile]))}"
                + (
                    " --no-balanced (with its balanced subset, 'standard' is too big "
                    "for the 64 MiB device carry)"
                    if profile == "standard"
                    else ""
                )
            )
        rows = data[f"{key}_rows"]
        mean, std = data["mean"], data["std"]
        target_names = data["target_names"]
        y_train = data["train_labels"][rows]
        X_train = images_from_uint8(data["train_images"][rows], mean=mean, std=std)
        X_test = images_from_uint8(data["X_test"], mean=mean, std=std)
        y_test = data["y_test"]
        descr = str(data[f"{key}_descr"])
    return Bunch(
        X_train=X_train,
        y_train=y_train,
        X_test=X_test,
        y_test=y_test,
        target_names=target_names,
        mean=mean,
        std=std,
        class_counts=np.bincount(y_train, minlength=len(target_names)),
        DESCR=descr,
    )


def is_payload(source) -> bool:
    """Whether ``source`` is the path of a payload ``.npz`` file.

    Parameters
    ----------
    source : object
        Anything passed as ``--source``: None, a hub id, a folder, a file.

    Returns
    -------
    bool
        False for anything that is not a readable payload file; never raises.
    """
    if not isinstance(source, (str, os.PathLike)):
        return False
    path = Path(source)
    if path.suffix != ".npz" or not path.is_file():
        return False
    try:
        with zipfile.ZipFile(path) as archive:
            if "provenance.npy" not in archive.namelist():
                return False
        read_provenance(path)
    except (OSError, ValueError, zipfile.BadZipFile):
        return False
    return True
