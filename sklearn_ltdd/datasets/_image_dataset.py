"""Any image classification data through Hugging Face ``datasets``.

A hub id, a local folder of Parquet files (the hub's layout) or an image
folder (``root/<class>/<file>``) is decoded once to uint8 arrays and cached
on disk, then optionally made long-tailed and normalised (:mod:`._assembly`).
The CIFAR-LT loaders are presets of the same code path (:mod:`._cifar`).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import numbers
import os
import tempfile
from pathlib import Path

import numpy as np

from ._assembly import _assemble
from ._decoding import _decode_dataset

_DATA_SUFFIXES = (".parquet", ".arrow", ".csv", ".json", ".jsonl")
_IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff")
_SOURCE_HINT = (
    "Without internet access, pass source='path/to/folder' pointing at a local "
    "copy: Parquet files in the hub's layout (train and test files) or images "
    "in one sub-folder per class (root/<class>/<file>.png)."
)


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


def _cache_key(name: str, source: str, options: tuple = ()) -> str:
    """``name-<digest>``: the source's files (path, size, mtime) and decode options."""
    local = Path(source).expanduser()
    if local.is_dir():
        parts = [str(local.resolve())]
        for file in sorted(local.rglob("*")):
            if file.is_file() and file.suffix.lower() in _DATA_SUFFIXES + _IMAGE_SUFFIXES:
                stat = file.stat()
                rel = file.relative_to(local).as_posix()
                parts.append(f"{rel}:{stat.st_size}:{int(stat.st_mtime)}")
    else:
        parts = [source]
    if options:  # the CIFAR presets pass none: their cache names stay as they were
        parts.append(repr(tuple(options)))
    digest = hashlib.sha1("|".join(parts).encode()).hexdigest()[:16]
    return f"{name}-{digest}"


def _looks_like_path(source) -> bool:
    """A path (rather than a hub id ``name`` or ``owner/name``)."""
    if isinstance(source, os.PathLike):
        return True
    text = str(source)
    return (
        text.startswith((".", "/", "~"))
        or "\\" in text
        or text.count("/") > 1
        or Path(text).suffix.lower() in _DATA_SUFFIXES
    )


def _missing_folder(source) -> OSError:
    return OSError(
        f"source={str(source)!r} is not an existing folder. Pass the folder "
        f"that holds the data (Parquet files, or one sub-folder of images "
        f"per class), or a Hugging Face hub id such as 'uoft-cs/cifar10'."
    )


@contextlib.contextmanager
def _quiet_datasets(verbose):
    """Silence ``datasets``' progress bars and the hub's log messages unless ``verbose``.

    Reading a local copy otherwise prints "Generating train split" bars and
    "Repo card metadata block was not found"; the previous settings are
    restored afterwards, so a user's own configuration is left as it was.
    """
    if verbose:
        yield
        return
    import datasets
    from datasets.utils import logging as datasets_logging

    bars = datasets.is_progress_bar_enabled()
    level = datasets_logging.get_verbosity()
    hub = logging.getLogger("huggingface_hub")
    hub_level = hub.level
    datasets.disable_progress_bars()
    datasets_logging.set_verbosity_error()
    hub.setLevel(logging.ERROR)
    try:
        yield
    finally:
        hub.setLevel(hub_level)
        datasets_logging.set_verbosity(level)
        if bars:
            datasets.enable_progress_bars()


def _open_source(source: str, *, what: str, hint: str, cache_dir=None, verbose=0):
    """The ``DatasetDict`` of a hub id, a Parquet folder or an image folder.

    ``cache_dir`` receives the Arrow files ``datasets`` prepares (None: its
    own cache, where downloads from the hub are kept); ``verbose`` shows
    ``datasets``' progress bars and messages.
    """
    local = Path(source).expanduser()
    if not local.exists() and _looks_like_path(source):
        raise _missing_folder(source)
    if local.exists() and not local.is_dir():
        raise OSError(
            f"source={source!r} is a file; pass the folder that holds it "
            f"(train and test files in the hub's layout)."
        )
    kwargs = {"path": source}
    if local.is_dir():
        files = [f for f in local.rglob("*") if f.is_file()]
        has_data = any(f.suffix.lower() in _DATA_SUFFIXES for f in files)
        if not has_data and any(f.suffix.lower() in _IMAGE_SUFFIXES for f in files):
            kwargs = {"path": "imagefolder", "data_dir": str(local), "drop_labels": False}
        elif not has_data:
            raise OSError(
                f"source={source!r} holds no Parquet, Arrow, CSV or JSON files and "
                f"no images ({', '.join(_IMAGE_SUFFIXES)}). Point source at the "
                f"folder of the data set."
            )
    try:
        from datasets import load_dataset

        with _quiet_datasets(verbose):
            return load_dataset(**kwargs, cache_dir=cache_dir)
    except Exception as exc:  # offline, unknown id, unreadable folder
        raise OSError(
            f"Could not load {what} from source={source!r} ({type(exc).__name__}: {exc}). {hint}"
        ) from exc


def _decode_source(
    source: str,
    *,
    image_column,
    label_column,
    image_size,
    data_home=None,
    require_test: bool = False,
    what: str = "images",
    hint: str = _SOURCE_HINT,
    verbose=0,
) -> dict:
    """Decode every split of ``source``: uint8 (n, H, W, C) images, int64 codes."""
    if not Path(source).expanduser().is_dir():  # a hub id: keep its download cached
        dataset = _open_source(source, what=what, hint=hint, verbose=verbose)
        return _decode_dataset(
            dataset,
            source=source,
            image_column=image_column,
            label_column=label_column,
            image_size=image_size,
            require_test=require_test,
        )
    # A local folder: the Arrow copy ``datasets`` prepares is only needed while
    # decoding, so it goes to a scratch folder, not to the global HF cache.
    with tempfile.TemporaryDirectory(
        dir=get_data_home(data_home), prefix="hf-scratch-", ignore_cleanup_errors=True
    ) as cache_dir:
        dataset = _open_source(source, what=what, hint=hint, cache_dir=cache_dir, verbose=verbose)
        arrays = _decode_dataset(
            dataset,
            source=source,
            image_column=image_column,
            label_column=label_column,
            image_size=image_size,
            require_test=require_test,
        )
        del dataset
    return arrays


def _load_decoded(
    source: str, *, name: str, options: tuple, data_home, cache: bool, **decode
) -> dict:
    """The decoded arrays of ``source``, read from / written to the disk cache."""
    if not cache:
        return _decode_source(source, data_home=data_home, **decode)
    path = get_data_home(data_home) / f"{_cache_key(name, source, options)}.npz"
    if path.exists():
        with np.load(path, allow_pickle=False) as data:
            return {key: data[key] for key in data.files}
    arrays = _decode_source(source, data_home=data_home, **decode)
    tmp = path.with_name(f"{path.stem}.{os.getpid()}.tmp.npz")
    np.savez(tmp, **arrays)
    os.replace(tmp, path)
    return arrays


def _check_image_size(image_size):
    """None or (h, w) of positive ints."""
    if image_size is None:
        return None
    sides = (image_size, image_size) if isinstance(image_size, numbers.Integral) else image_size
    try:
        sides = tuple(sides)
        valid = len(sides) == 2 and all(
            isinstance(s, numbers.Integral) and not isinstance(s, bool) and s >= 1 for s in sides
        )
    except TypeError:
        valid = False
    if isinstance(image_size, bool) or not valid:
        raise ValueError(
            f"image_size must be a positive int or a pair (height, width) of "
            f"positive ints, got {image_size!r}."
        )
    return tuple(int(s) for s in sides)


def load_image_dataset(
    source: str | os.PathLike,
    *,
    image_column: str | None = None,
    label_column: str | None = None,
    image_size: int | tuple[int, int] | None = None,
    test_size: float | int = 0.2,
    imbalance_ratio: float | None = None,
    max_per_class: int | None = None,
    mean=None,
    std=None,
    random_state=0,
    return_X_y: bool = False,
    data_home=None,
    cache: bool = True,
    verbose: int = 0,
):
    """Load any image classification data set, optionally made long-tailed.

    The data are read with the Hugging Face ``datasets`` library from a hub
    id (online), a local folder of Parquet files in the hub's layout, or an
    image folder ``root/<class>/<file>.png`` (``root/train/<class>/...`` and
    ``root/test/<class>/...`` give both splits). Images are decoded once to
    uint8 arrays and cached on disk; colour images become RGB (alpha is
    dropped), and the data keep one channel only when every image is grey.

    Parameters
    ----------
    source : str or path
        A hub id such as ``"uoft-cs/cifar10"``, or a local folder such as
        ``"../shared/data/cifar10"`` or an image folder.
    image_column, label_column : str, default=None
        The columns holding the images and the class labels. None finds
        them: the column with an ``Image`` / ``ClassLabel`` feature, else a
        usual name (``image``, ``img``; ``label``, ``labels``,
        ``fine_label``, ...).
    image_size : int or (int, int), default=None
        Resize every image to ``(height, width)`` (an int: a square) with
        PIL bilinear interpolation. Needed when the images have different
        sizes.
    test_size : float or int, default=0.2
        Used only when the source has no ``test`` (or ``validation``) split:
        the share (or number) of images held out by a stratified split,
        seeded by ``random_state``.
    imbalance_ratio : float, default=None
        Make the training set long-tailed (:func:`make_long_tailed`): class
        ``c`` keeps ``int(n_max * imbalance_ratio ** (-c / (C - 1)))``
        images. None (and ``max_per_class=None``) keeps every image.
    max_per_class : int, default=None
        Images of the head class; None: the smallest class size. Given
        alone, it caps every class (``imbalance_ratio=1``).
    mean, std : sequence of float of length C, default=None
        Per-channel normalisation of the ``[0, 1]``-scaled pixels. None:
        the mean and std of the returned training images.
    random_state : int, RandomState instance or None, default=0
        Drives the test split and which images each class keeps.
    return_X_y : bool, default=False
        Return ``(X_train, y_train, X_test, y_test)`` instead of a Bunch.
    data_home : str or path, default=None
        Cache folder (``$SKLEARN_LTDD_DATA``, else ``~/.cache/sklearn_ltdd``).
    cache : bool, default=True
        Read and write the decoded uint8 arrays in ``data_home``.
    verbose : int, default=0
        1 shows what ``datasets`` prints while it reads the source (its
        progress bars and the hub's messages); 0 keeps them quiet.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        ``X_train`` (float32, n x C x H x W, normalised), ``y_train`` (int
        codes 0..C-1), ``X_test``, ``y_test``, ``target_names`` (the class
        of each code), ``mean``, ``std``, ``class_counts``, ``DESCR``.

    Raises
    ------
    OSError
        When the source cannot be read: a missing folder, a hub id while
        offline, no train split.
    ValueError
        When no label column is found, the training set has a single class,
        or the images have different sizes and ``image_size`` is None.

    See Also
    --------
    load_cifar10_lt : the CIFAR10-LT preset of this loader.

    Examples
    --------
    An image folder with two classes of five 8x8 images each:

    >>> import tempfile
    >>> from pathlib import Path
    >>> import numpy as np
    >>> from PIL import Image
    >>> tmp = tempfile.TemporaryDirectory()
    >>> root = Path(tmp.name) / "images"
    >>> for label in ("cat", "dog"):
    ...     (root / label).mkdir(parents=True)
    ...     for i in range(5):
    ...         pixels = np.full((8, 8, 3), 40 * i, dtype=np.uint8)
    ...         Image.fromarray(pixels).save(root / label / f"{i}.png")
    >>> data = load_image_dataset(root, test_size=0.4,
    ...                           data_home=Path(tmp.name) / "cache")
    >>> data.X_train.shape, data.X_test.shape
    ((6, 3, 8, 8), (4, 3, 8, 8))
    >>> data.target_names.tolist(), data.class_counts.tolist()
    (['cat', 'dog'], [3, 3])
    >>> tmp.cleanup()
    """
    if source is None:
        raise ValueError(
            "source must be a hub id or a local folder, got None; e.g. "
            "source='uoft-cs/cifar10' or source='path/to/images'."
        )
    if isinstance(source, os.PathLike) and not Path(source).expanduser().exists():
        raise _missing_folder(source)
    if (mean is None) != (std is None):
        raise ValueError(
            f"mean and std must be given together (or both left None to use the "
            f"training set's statistics), got mean={mean!r} and std={std!r}."
        )
    size = _check_image_size(image_size)
    source = str(source)
    options = ("load_image_dataset", image_column, label_column, size)
    arrays = _load_decoded(
        source,
        name="images",
        options=options,
        data_home=data_home,
        cache=cache,
        image_column=image_column,
        label_column=label_column,
        image_size=size,
        verbose=verbose,
    )
    data = _assemble(
        arrays,
        source=source,
        test_size=test_size,
        imbalance_ratio=imbalance_ratio,
        max_per_class=max_per_class,
        mean=mean,
        std=std,
        random_state=random_state,
    )
    if return_X_y:
        return data.X_train, data.y_train, data.X_test, data.y_test
    return data
