"""The package's one input contract.

Every estimator of :mod:`sklearn_ltdd` reads images as float32 arrays of shape
``(n_samples, n_channels, height, width)`` ("NCHW", the layout torch uses).
Tabular data, for the :class:`~sklearn_ltdd.nets.MLP` module, is a 2-D array
``(n_samples, n_features)``. Labels are any 1-D array scikit-learn accepts
(ints, strings); estimators encode them internally and report ``classes_``.

:func:`images_from_uint8` converts the usual uint8 ``(n, H, W, C)`` arrays
(PIL, the ``datasets`` library, matplotlib) to that layout.
"""

from __future__ import annotations

import numbers

import numpy as np
import torch
from sklearn.utils import check_consistent_length, column_or_1d
from sklearn.utils.multiclass import type_of_target


def images_from_uint8(images, *, mean=None, std=None) -> np.ndarray:
    """Convert uint8 ``(n, H, W, C)`` or ``(n, H, W)`` images to float32 NCHW.

    Pixels are scaled to ``[0, 1]``, then standardised per channel with
    ``mean`` and ``std`` when they are given (the CIFAR-10 loaders use the
    statistics of the gradient-matching reference code).

    Parameters
    ----------
    images : array-like of shape (n, H, W, C) or (n, H, W), dtype uint8
        Images as stored by PIL, ``datasets`` or ``np.asarray(pil_image)``.
    mean, std : sequence of float of length C, default=None
        Per-channel statistics of the ``[0, 1]``-scaled images.

    Returns
    -------
    X : ndarray of shape (n, C, H, W), dtype float32

    Examples
    --------
    >>> import numpy as np
    >>> rgb = np.full((2, 4, 4, 3), 255, dtype=np.uint8)
    >>> images_from_uint8(rgb).shape
    (2, 3, 4, 4)
    >>> float(images_from_uint8(rgb, mean=[0.5] * 3, std=[0.5] * 3).max())
    1.0
    """
    images = np.asarray(images)
    if images.dtype != np.uint8:
        raise ValueError(
            f"images must be a uint8 array, got dtype {images.dtype}. Float "
            f"images in (n, C, H, W) layout can be passed to the estimators "
            f"directly."
        )
    if images.ndim == 3:
        images = images[..., None]
    if images.ndim != 4:
        raise ValueError(f"images must have shape (n, H, W, C) or (n, H, W), got {images.shape}.")
    X = images.transpose(0, 3, 1, 2).astype(np.float32) / np.float32(255.0)
    if (mean is None) != (std is None):
        raise ValueError("mean and std must be given together.")
    if mean is not None:
        mean = np.asarray(mean, dtype=np.float32).reshape(1, -1, 1, 1)
        std = np.asarray(std, dtype=np.float32).reshape(1, -1, 1, 1)
        if mean.shape[1] != X.shape[1] or std.shape[1] != X.shape[1]:
            raise ValueError(
                f"mean and std need one value per channel ({X.shape[1]}), got "
                f"{mean.shape[1]} and {std.shape[1]}."
            )
        X = (X - mean) / std
    return np.ascontiguousarray(X, dtype=np.float32)


_LAYOUTS = {2: "(n_samples, n_features)", 4: "(n_samples, n_channels, height, width)"}


def _looks_channels_last(X) -> bool:
    """``(n, H, W, C)`` images: a trailing axis of 1, 3 or 4 channels.

    Images in the package's layout have at most 4 channels in axis 1, so a
    larger axis 1 followed by a channel-sized last axis means channels last.
    uint8 pixels with a channel-sized last axis are read the same way unless
    axis 1 could itself hold channels (1, 3 or 4).
    """
    if X.shape[-1] not in (1, 3, 4):
        return False
    if X.shape[1] > 4:
        return True
    return X.dtype == np.uint8 and X.shape[1] not in (1, 3, 4)


def _check_channels_first(X, name: str) -> None:
    """Raise a ValueError that says how to convert channels-last images."""
    if not _looks_channels_last(X):
        return
    if X.dtype == np.uint8:
        fix = f"{name} = sklearn_ltdd.utils.images_from_uint8({name})"
    elif X.dtype.kind in "iu" and X.size and X.min() >= 0 and X.max() <= 255:
        fix = f"{name} = sklearn_ltdd.utils.images_from_uint8({name}.astype(np.uint8))"
    else:
        fix = f"{name} = {name}.transpose(0, 3, 1, 2)"
    raise ValueError(
        f"{name} looks like images in channels-last layout (n_samples, height, "
        f"width, n_channels): got shape {X.shape} and dtype {X.dtype}, but "
        f"sklearn_ltdd expects float images of shape (n_samples, n_channels, "
        f"height, width). Convert them with {fix} (images_from_uint8 scales "
        f"uint8 pixels to [0, 1], moves the channel axis first and, with "
        f"mean= and std=, standardises each channel)."
    )


def check_image_array(X, *, ndim=(4,), name: str = "X", min_samples: int = 1, dtype=np.float32):
    """Validate an input array and return it as contiguous float32 numpy.

    Parameters
    ----------
    X : array-like or torch.Tensor
        The input. Images are ``(n, C, H, W)``; tabular data ``(n, d)``.
    ndim : tuple of int, default=(4,)
        The accepted numbers of dimensions.
    name : str, default="X"
        The parameter name used in error messages.
    min_samples : int, default=1
        The fewest rows accepted.
    dtype : numpy dtype or None, default=np.float32
        The returned dtype; None keeps float32/float64 input as it is
        (meta-estimators pass data on to scikit-learn sub-estimators).

    Returns
    -------
    X : ndarray of dtype ``dtype`` (float32 by default)

    Raises
    ------
    ValueError
        For a wrong number of dimensions, too few rows, an empty axis,
        non-numeric values, NaN or infinity, and for images in the
        channels-last layout ``(n, H, W, C)`` (the message says how to
        convert them with :func:`images_from_uint8`).

    Examples
    --------
    >>> import numpy as np
    >>> check_image_array(np.zeros((2, 1, 8, 8))).dtype
    dtype('float32')
    >>> check_image_array(np.zeros((2, 8, 8)))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: X must be a 4-D array of shape (n_samples, ...); got shape (2, 8, 8). ...
    >>> check_image_array(np.zeros((2, 32, 32, 3), dtype=np.uint8))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: X looks like images in channels-last layout ...
    """
    if isinstance(X, torch.Tensor):
        X = X.detach().cpu().numpy()
    if hasattr(X, "toarray"):
        raise TypeError(
            f"{name} is a sparse matrix; sklearn_ltdd needs dense arrays. Use {name}.toarray()."
        )
    try:
        X = np.asarray(X)
    except Exception as exc:  # ragged lists and the like
        raise ValueError(f"{name} could not be converted to an array: {exc}") from exc
    if np.iscomplexobj(X):
        raise ValueError(f"Complex data not supported; {name} must be real-valued.")
    if X.dtype == object:
        X = X.astype(np.float64)  # numbers stored as objects; TypeError otherwise
    if not (np.issubdtype(X.dtype, np.number) or np.issubdtype(X.dtype, np.bool_)):
        raise ValueError(f"{name} must hold numbers, got an array of dtype {X.dtype}.")
    ndim = tuple(ndim)
    if X.ndim == 1 and 1 not in ndim:
        raise ValueError(
            f"Expected a {ndim[0]}-D array for {name}, got a 1-D array instead. "
            f"Reshape your data either using array.reshape(-1, 1) if your data "
            f"has a single feature or array.reshape(1, -1) if it contains a "
            f"single sample."
        )
    if X.ndim not in ndim:
        expected = " or ".join(
            f"a {d}-D array of shape {_LAYOUTS.get(d, '')}".rstrip() for d in ndim
        )
        hint = ""
        if 4 in ndim and X.ndim == 3 and X.dtype == np.uint8:
            hint = (
                f" For uint8 images (n, H, W) use {name} = "
                f"sklearn_ltdd.utils.images_from_uint8({name})."
            )
        elif 4 in ndim and X.ndim == 3:
            hint = " For single-channel images use X[:, None]."
        elif 4 in ndim and X.ndim == 2:
            hint = (
                " For tabular data use module=MLP; for flattened images "
                "reshape them to (n, C, H, W)."
            )
        raise ValueError(f"{name} must be {expected}; got shape {X.shape}.{hint}")
    if X.shape[0] < min_samples:
        raise ValueError(
            f"Found array with {X.shape[0]} sample(s) (shape={X.shape}) while a "
            f"minimum of {min_samples} is required ({name})."
        )
    if any(s == 0 for s in X.shape[1:]):
        raise ValueError(
            f"Found array with 0 feature(s) (shape={X.shape}) while a minimum of "
            f"1 is required ({name} has an empty axis)."
        )
    if X.ndim == 4:
        _check_channels_first(X, name)
    if dtype is None:
        dtype = X.dtype if X.dtype in (np.float32, np.float64) else np.float64
    X = np.ascontiguousarray(X, dtype=dtype)
    if not np.isfinite(X).all():
        n_bad = int((~np.isfinite(X)).any(axis=tuple(range(1, X.ndim))).sum())
        raise ValueError(
            f"{name} contains NaN or infinity in {n_bad} sample(s). Remove or "
            f"impute those samples first."
        )
    return X


def check_images_labels(X, y, *, ndim=(4,), min_classes: int = 2, dtype=np.float32):
    """Validate ``(X, y)`` for fitting: images as above, 1-D classification labels.

    Returns
    -------
    X : ndarray of float32
    y : ndarray of shape (n_samples,)

    Raises
    ------
    ValueError
        For mismatched lengths, labels that are not classes (continuous
        values, NaN, multi-output) or fewer than ``min_classes`` classes.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.zeros((3, 1, 8, 8))
    >>> check_images_labels(X, ["a", "a", "a"])
    Traceback (most recent call last):
    ...
    ValueError: y has only one class ('a'); a classifier needs at least 2 classes.
    """
    if y is None:
        raise ValueError(
            "requires y to be passed, but the target y is None; fit(X, y) needs class labels."
        )
    X = check_image_array(X, ndim=ndim, dtype=dtype)
    y_arr = np.asarray(y)
    if y_arr.ndim == 2 and y_arr.shape[1] != 1:
        raise ValueError(
            f"y must be 1-D class labels, got shape {y_arr.shape}; "
            f"multi-output targets are not supported."
        )
    y = column_or_1d(y, warn=True)
    check_consistent_length(X, y)
    if y.dtype.kind == "f" and not np.isfinite(y).all():
        raise ValueError("y contains NaN or infinity; every sample needs a label.")
    if y.dtype == object:
        kinds = {type(v) for v in y}
        if len(kinds) > 1 and not all(issubclass(k, numbers.Integral) for k in kinds):
            names = sorted(k.__name__ for k in kinds)
            raise ValueError(
                f"y mixes label types {names}; use labels of one type, e.g. y.astype(str)."
            )
    target_type = type_of_target(y, input_name="y")
    if target_type not in ("binary", "multiclass"):
        raise ValueError(
            f"Unknown label type: {target_type!r}. y must hold class labels "
            f"(ints or strings), not continuous values."
        )
    classes = np.unique(y)
    if len(classes) < min_classes:
        raise ValueError(
            f"y has only one class ({classes[0].item()!r}); a classifier needs at "
            f"least {min_classes} classes."
            if len(classes) == 1
            else f"y has {len(classes)} classes; at least {min_classes} are needed."
        )
    return X, y


def check_option(value, options, name: str):
    """Return ``value`` if it is one of ``options``; else a ValueError listing them."""
    try:
        valid = value in options
    except (TypeError, ValueError):  # e.g. an array compared with strings
        valid = False
    if not valid:
        raise ValueError(f"{name} must be one of {list(options)}, got {value!r}.")
    return value


def check_input_shape(X, input_shape, estimator_name: str):
    """Raise if samples of ``X`` do not have the shape seen at ``fit``.

    Tabular inputs get scikit-learn's wording ("X has 3 features, but ... is
    expecting 4 features as input"); images name both shapes.
    """
    shape = tuple(X.shape[1:])
    if shape == tuple(input_shape):
        return
    if len(shape) == 1 and len(input_shape) == 1:
        raise ValueError(
            f"X has {shape[0]} features, but {estimator_name} is expecting "
            f"{input_shape[0]} features as input."
        )
    raise ValueError(
        f"X has samples of shape {shape}, but {estimator_name} was fitted on "
        f"shape {tuple(input_shape)}."
    )


def is_soft_targets(y) -> bool:
    """Whether ``y`` is a 2-D array of floats with several columns (class probabilities)."""
    array = np.asarray(y) if not hasattr(y, "shape") else y
    return (
        getattr(array, "ndim", 0) == 2
        and array.shape[1] > 1
        and np.issubdtype(np.asarray(array).dtype, np.floating)
    )


def check_soft_targets(Y, n_samples: int, n_classes=None) -> np.ndarray:
    """``Y`` as float32 ``(n_samples, n_classes)`` probabilities, or a clear error."""
    Y = np.asarray(Y, dtype=np.float64)
    if Y.shape[0] != n_samples:
        raise ValueError(
            f"X and y have different numbers of samples: {n_samples} and {Y.shape[0]}."
        )
    if n_classes is not None and Y.shape[1] != n_classes:
        raise ValueError(
            f"y has {Y.shape[1]} columns of probabilities; the classifier was "
            f"fitted on {n_classes} classes."
        )
    if not np.all(np.isfinite(Y)) or np.any(Y < 0) or not np.allclose(Y.sum(1), 1.0, atol=1e-3):
        raise ValueError(
            "y as a 2-D array holds class probabilities: finite, non-negative, "
            "each row summing to 1 (a distilled set's soft_labels_)."
        )
    return (Y / Y.sum(1, keepdims=True)).astype(np.float32)
