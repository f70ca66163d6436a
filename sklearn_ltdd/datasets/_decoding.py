"""Decoding a ``datasets.DatasetDict`` into uint8 image arrays and integer labels."""

from __future__ import annotations

import numpy as np

_IMAGE_NAMES = ("image", "img", "images", "picture", "pixel_values")
_LABEL_NAMES = ("label", "labels", "fine_label", "target", "targets", "class", "y")
_TEST_SPLITS = ("test", "validation")
# PIL modes without colour; every other mode (RGB, RGBA, P, CMYK, ...) becomes RGB.
_GREY_MODES = frozenset({"1", "L", "LA", "La", "I", "I;16", "I;16B", "I;16L", "I;16N", "F"})


def _pick_splits(dataset, source: str, require_test: bool) -> dict:
    """``{"train": ..., "test": ...}``; the test split is optional unless required."""
    found = list(dataset)
    test = next((name for name in _TEST_SPLITS if name in dataset), None)
    if "train" not in dataset or (require_test and test is None):
        need = "train and test splits" if require_test else "a train split"
        raise OSError(
            f"source={source!r} needs {need}; found {found}. Name the files "
            f"train*.parquet / test*.parquet, or the image folders "
            f"root/train/<class>/ and root/test/<class>/."
        )
    splits = {"train": dataset["train"]}
    if test is not None:
        splits["test"] = dataset[test]
    return splits


def _find_column(features, given, *, kind, names, what: str, source: str, exclude=()) -> str:
    """The column named by ``given`` or, when None, the one found automatically."""
    columns = list(features)
    features = {k: v for k, v in features.items() if k not in exclude}
    if given is not None:
        for candidate in (given,) if isinstance(given, str) else tuple(given):
            if candidate in columns:
                return candidate
        raise ValueError(
            f"{what}_column={given!r} is not a column of source={source!r}; its "
            f"columns are {columns}. Pass one of them as {what}_column=..."
        )
    typed = [c for c in features if isinstance(features[c], kind)]
    if len(typed) == 1:
        return typed[0]
    named = [name for name in names if name in (typed or list(features))]
    if named:
        return named[0]
    several = (
        f"several {kind.__name__} columns {typed}"
        if typed
        else (f"no {kind.__name__} column and no column with a usual {what} name {list(names)}")
    )
    raise ValueError(
        f"Could not find the {what} column of source={source!r}: it has {several}; "
        f"its columns are {columns}. Pass {what}_column='<name>'."
    )


def _to_pixels(image, size):
    """A uint8 array (H, W) for grey or (H, W, 3) for colour; RGBA drops alpha."""
    from PIL import Image

    if not isinstance(image, Image.Image):
        image = Image.fromarray(np.asarray(image, dtype=np.uint8))
    if image.mode not in ("L", "RGB"):
        image = image.convert("L" if image.mode in _GREY_MODES else "RGB")
    if size is not None and image.size != (size[1], size[0]):
        image = image.resize((size[1], size[0]), resample=Image.BILINEAR)
    return np.asarray(image, dtype=np.uint8)


def _decode_split(part, image_col: str, label_col: str, size):
    """Decoded pixels (a list of arrays) and raw labels of one split."""
    pixels, labels = [], []
    for batch in part.select_columns([image_col, label_col]).iter(batch_size=512):
        pixels.extend(_to_pixels(image, size) for image in batch[image_col])
        labels.extend(batch[label_col])
    return pixels, labels


def _stack(pixels, channels: int, shape) -> np.ndarray:
    """(n, H, W, channels) uint8; grey images are repeated when channels is 3."""
    out = np.empty((len(pixels), *shape, channels), dtype=np.uint8)
    for i, image in enumerate(pixels):
        out[i] = image[..., None] if image.ndim == 2 else image
    return out


def _encode_labels(raw: dict, feature, source: str):
    """Integer codes 0..C-1 per split and the class names."""
    from datasets import ClassLabel

    if isinstance(feature, ClassLabel):
        codes = {split: np.asarray(values, dtype=np.int64) for split, values in raw.items()}
        names = np.asarray(feature.names)
        for split, y in codes.items():
            if y.size and (y.min() < 0 or y.max() >= len(names)):
                raise ValueError(
                    f"source={source!r}: split {split!r} has labels outside "
                    f"0..{len(names) - 1} (e.g. -1 for unlabelled rows); use a "
                    f"split whose rows are all labelled."
                )
        return codes, names
    values = {split: np.asarray(v) for split, v in raw.items()}
    names = np.unique(np.concatenate(list(values.values())))
    if names.dtype == object:
        names = names.astype(str)
    return {split: np.searchsorted(names, v).astype(np.int64) for split, v in values.items()}, names


def _decode_dataset(
    dataset, *, source: str, image_column, label_column, image_size, require_test: bool
) -> dict:
    """The uint8 images and int64 label codes of a ``DatasetDict``'s splits."""
    from datasets import ClassLabel, Image

    splits = _pick_splits(dataset, source, require_test)
    features = splits["train"].features
    image_col = _find_column(
        features, image_column, kind=Image, names=_IMAGE_NAMES, what="image", source=source
    )
    label_col = _find_column(
        features,
        label_column,
        kind=ClassLabel,
        names=_LABEL_NAMES,
        what="label",
        source=source,
        exclude=(image_col,),
    )
    pixels, raw = {}, {}
    for split, part in splits.items():
        pixels[split], raw[split] = _decode_split(part, image_col, label_col, image_size)
    shapes = sorted({image.shape[:2] for images in pixels.values() for image in images})
    if len(shapes) > 1:
        seen = ", ".join(f"{h}x{w}" for h, w in shapes[:5])
        raise ValueError(
            f"source={source!r} has images of different sizes (height x width: "
            f"{seen}{', ...' if len(shapes) > 5 else ''}); pass image_size=(h, w) "
            f"or an int to resize them all (PIL bilinear), e.g. "
            f"image_size={shapes[0][0]}."
        )
    if not shapes:
        raise ValueError(f"source={source!r} has no images in its train split.")
    colour = any(image.ndim == 3 for images in pixels.values() for image in images)
    codes, names = _encode_labels(raw, features[label_col], source)
    arrays = {"target_names": names}
    for split in pixels:
        arrays[f"X_{split}"] = _stack(pixels[split], 3 if colour else 1, shapes[0])
        arrays[f"y_{split}"] = codes[split]
    present = np.unique(arrays["y_train"])
    if present.size < 2:
        only = names[present[0]].item() if present.size else None
        raise ValueError(
            f"source={source!r} has only one class ({only!r}) in its train split; "
            f"a classifier needs at least 2. For an image folder put each class "
            f"in its own sub-folder: root/<class>/<file>.png."
        )
    return arrays
