"""From decoded uint8 arrays to a loader's Bunch: the test split (when the source has
none), the long-tailed selection, a validation set from the images it leaves out, and
the per-channel normalisation. Shared by :func:`load_image_dataset` and the CIFAR-LT
presets."""

from __future__ import annotations

import numpy as np
from sklearn.model_selection import train_test_split
from sklearn.utils import Bunch, check_random_state

from ..utils import images_from_uint8
from ._long_tailed import make_long_tailed


def _split_train_test(arrays: dict, *, test_size, random_state, source: str) -> dict:
    """A stratified, seeded train/test split when the source has no test split."""
    if "X_test" in arrays:
        return arrays
    y = arrays["y_train"]
    try:
        train, test = train_test_split(
            np.arange(len(y)), test_size=test_size, stratify=y, random_state=random_state
        )
    except ValueError as exc:
        raise ValueError(
            f"source={source!r} has no test split, and the stratified split with "
            f"test_size={test_size!r} failed: {exc} Use a test_size that leaves "
            f"every class at least one image on each side, or give the source a "
            f"test split."
        ) from exc
    train, test = np.sort(train), np.sort(test)
    return {
        **arrays,
        "X_train": arrays["X_train"][train],
        "y_train": y[train],
        "X_test": arrays["X_train"][test],
        "y_test": y[test],
    }


def _left_out(y, used, n_per_class, random_state):
    """``n_per_class`` rows of every class drawn from those not in ``used`` (sorted)."""
    free = np.ones(len(y), dtype=bool)
    free[used] = False
    rng = np.random.RandomState(check_random_state(random_state).randint(2**31 - 1))
    chosen = []
    for label in np.unique(y):
        rows = np.flatnonzero(free & (y == label))
        if len(rows) < n_per_class:
            raise ValueError(
                f"n_val_per_class={n_per_class} asks for more images of class {label} than "
                f"the long-tailed training set leaves out ({len(rows)}); use at most "
                f"{len(rows)}, or None."
            )
        chosen.append(rng.permutation(rows)[:n_per_class])
    return np.sort(np.concatenate(chosen))


def _assemble(
    arrays: dict,
    *,
    source: str,
    test_size,
    imbalance_ratio,
    max_per_class,
    mean,
    std,
    random_state,
    n_val_per_class=None,
) -> Bunch:
    """Split, make long-tailed, normalise: the Bunch of :func:`load_image_dataset`."""
    has_test = "X_test" in arrays
    arrays = _split_train_test(
        arrays, test_size=test_size, random_state=random_state, source=source
    )
    X_train, y_train = arrays["X_train"], arrays["y_train"]
    long_tailed = imbalance_ratio is not None or max_per_class is not None
    if n_val_per_class is not None and not long_tailed:
        raise ValueError(
            "n_val_per_class draws from the images the long-tailed set leaves "
            "out; give imbalance_ratio or max_per_class too, or None."
        )
    val = None
    if long_tailed:
        ratio = 1 if imbalance_ratio is None else imbalance_ratio
        _, y_train, idx = make_long_tailed(
            y_train,
            y_train,
            imbalance_ratio=ratio,
            max_per_class=max_per_class,
            random_state=random_state,
            return_indices=True,
        )
        if n_val_per_class is not None:
            val = _left_out(arrays["y_train"], idx, int(n_val_per_class), random_state)
        X_train = X_train[idx]
    if mean is None:  # the training set's statistics, after the long-tailed selection
        pixels = X_train.reshape(-1, X_train.shape[-1])
        mean = pixels.mean(axis=0, dtype=np.float64) / 255.0
        std = pixels.std(axis=0, dtype=np.float64) / 255.0
        std[std == 0] = 1.0  # constant channels stay constant instead of NaN
    mean = np.asarray(mean, dtype=np.float32)
    std = np.asarray(std, dtype=np.float32)
    X_train = images_from_uint8(X_train, mean=mean, std=std)
    X_test = images_from_uint8(arrays["X_test"], mean=mean, std=std)
    extra = {}
    if val is not None:
        extra = {
            "X_val": images_from_uint8(arrays["X_train"][val], mean=mean, std=std),
            "y_val": arrays["y_train"][val],
        }
    n_classes = len(arrays["target_names"])
    counts = np.bincount(y_train, minlength=n_classes)
    profile = "as in the source"
    if long_tailed:
        profile = f"long-tailed: imbalance ratio {ratio}, head class {int(counts.max())} images"
    test = "the source's test split" if has_test else f"a stratified split (test_size={test_size})"
    return Bunch(
        X_train=X_train,
        y_train=y_train,
        X_test=X_test,
        y_test=arrays["y_test"],
        target_names=arrays["target_names"],
        mean=mean,
        std=std,
        class_counts=counts,
        **extra,
        DESCR=(
            f"Images from source={source!r}: {len(y_train)} training images of "
            f"{n_classes} classes ({profile}) and {len(arrays['y_test'])} test "
            f"images ({test}), {X_train.shape[1]} x {X_train.shape[2]} x "
            f"{X_train.shape[3]}, normalised per channel."
        ),
    )
