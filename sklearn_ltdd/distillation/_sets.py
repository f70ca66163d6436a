"""Distilled sets as files: save, load, and export to a Hugging Face dataset."""

from __future__ import annotations

import json

import numpy as np
from sklearn.utils import Bunch
from sklearn.utils.validation import check_is_fitted

from .._version import __version__
from ._checkpoint import params_json

FORMAT = "sklearn-ltdd distilled set"
FORMAT_VERSION = 1


def save_distilled_set(file, distiller, *, mean=None, std=None, X=None, y=None):
    """Write a fitted distiller's synthetic set to a compressed ``.npz`` file.

    The file holds the images (``X``, float32 as the distiller returns them),
    their labels (``y``) and ``classes``, the teacher's soft labels
    (``soft_labels``, columns in the order of ``classes``) where the
    distiller has them (:class:`StatisticsMatchingDistiller`), the ZCA
    whitening the images were distilled in (``zca_*``, trajectory matching
    with ``zca=True``: a network trains on whitened inputs and predicts on
    whitened test images), and, as JSON metadata, the method,
    ``ipc``, the images per class, the distiller's parameters, the package
    version and, when given, the normalisation (``mean``, ``std`` per
    channel) that the images are in, so they can be turned back into
    pictures (:func:`to_hf_dataset`). No pickles: it loads anywhere numpy
    does.

    Parameters
    ----------
    file : str, path or file-like
    distiller : fitted distiller or sampler
        ``GradientMatchingDistiller``, ``TrajectoryMatchingDistiller``,
        ``DistributionMatchingDistiller``, ``StatisticsMatchingDistiller``,
        or a fitted sampler such as :class:`~sklearn_ltdd.CoresetSampler`
        with the set it returned passed as ``X`` and ``y``.
    mean, std : array-like of shape (n_channels,), default=None
        The normalisation of the images, for example ``data.mean`` and
        ``data.std`` of a loader's Bunch.
    X, y : array-like, default=None
        The set, where ``distiller`` does not keep it as ``X_syn_`` and
        ``y_syn_`` (a sampler's ``fit_resample`` output).

    Examples
    --------
    >>> import io
    >>> from sklearn_ltdd.datasets import load_digits_lt
    >>> from sklearn_ltdd.distillation import GradientMatchingDistiller
    >>> data = load_digits_lt()
    >>> gm = GradientMatchingDistiller(ipc=1, n_iterations=1, module__width=4,
    ...                                random_state=0).fit(data.X_train, data.y_train)
    >>> buffer = io.BytesIO()
    >>> save_distilled_set(buffer, gm, mean=data.mean, std=data.std)
    >>> _ = buffer.seek(0)
    >>> loaded = load_distilled_set(buffer)
    >>> loaded.X.shape, loaded.method, loaded.ipc
    ((10, 1, 16, 16), 'GradientMatchingDistiller', 1)
    """
    if X is None or y is None:
        check_is_fitted(distiller, "X_syn_")
        X, y = distiller.X_syn_, distiller.y_syn_
    else:
        check_is_fitted(distiller, "classes_")
    classes = np.asarray(distiller.classes_)
    if classes.dtype == object:
        classes = classes.astype(str)
    meta = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "method": type(distiller).__name__,
        "ipc": int(distiller.ipc),
        "images_per_class": int(len(y) // len(classes)),
        "n_iterations": int(getattr(distiller, "n_iter_", 0)),
        "params": params_json(distiller),
        "sklearn_ltdd_version": __version__,
        "learned_lr": getattr(distiller, "learned_lr_", None),
    }
    arrays = {"X": np.asarray(X, dtype=np.float32), "y": np.asarray(y), "classes": classes}
    if getattr(distiller, "soft_labels_", None) is not None:  # statistics matching's
        arrays["soft_labels"] = np.asarray(distiller.soft_labels_, dtype=np.float64)
    whitening = getattr(distiller, "zca_", None)
    if whitening is not None:  # MTT's sets live in whitened space: keep the map
        arrays.update(
            zca_mean=whitening.mean_,
            zca_whitening=whitening.whitening_,
            zca_unwhitening=whitening.unwhitening_,
        )
        meta["zca_eps"] = float(whitening.eps)
    if (mean is None) != (std is None):
        raise ValueError("give both mean and std (the images' normalisation), or neither.")
    if mean is not None:
        arrays["mean"] = np.asarray(mean, dtype=np.float32).ravel()
        arrays["std"] = np.asarray(std, dtype=np.float32).ravel()
        if (
            len(arrays["mean"]) != arrays["X"].shape[1]
            or len(arrays["std"]) != arrays["X"].shape[1]
        ):
            raise ValueError(
                f"mean and std need one value per channel ({arrays['X'].shape[1]}), got "
                f"{len(arrays['mean'])} and {len(arrays['std'])}."
            )
    if arrays["y"].dtype == object:
        arrays["y"] = arrays["y"].astype(str)
    np.savez_compressed(file, meta=np.asarray(json.dumps(meta)), **arrays)


def load_distilled_set(file):
    """Read a file written by :func:`save_distilled_set`.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        ``X``, ``y``, ``classes``, ``mean``, ``std``, ``soft_labels`` and
        ``whitening`` (a fitted :class:`~sklearn_ltdd.distillation.ZCAWhitening`)
        (None when not saved), ``method``, ``ipc``, ``images_per_class``,
        ``params``, ``learned_lr``, ``sklearn_ltdd_version``. ``X, y`` (or
        ``X, soft_labels``) train any ``ConvNetClassifier``, behind
        ``whitening`` where there is one; ``PrecomputedSampler(data.X,
        data.y)`` makes them the stage data of a
        :class:`~sklearn_ltdd.two_stage.TwoStageClassifier`.

    Raises
    ------
    ValueError
        If the file is not a distilled set.
    """
    with np.load(file, allow_pickle=False) as data:
        if "meta" not in data.files:
            raise ValueError(
                "this file is not a distilled set written by save_distilled_set "
                f"(arrays {data.files}); a distiller's checkpoint loads with "
                f"load_checkpoint instead."
            )
        meta = json.loads(str(data["meta"]))
        if meta.get("format") != FORMAT:
            raise ValueError(
                f"this .npz is a {meta.get('format', 'unknown file')!r}, not a "
                f"distilled set; checkpoints load with load_checkpoint."
            )
        out = Bunch(
            X=data["X"],
            y=data["y"],
            classes=data["classes"],
            mean=data["mean"] if "mean" in data.files else None,
            std=data["std"] if "std" in data.files else None,
            soft_labels=data["soft_labels"] if "soft_labels" in data.files else None,
            whitening=None,
        )
        if "zca_mean" in data.files:
            from ._zca import ZCAWhitening

            zca = ZCAWhitening(eps=meta.get("zca_eps", ZCAWhitening().eps))
            zca.mean_, zca.whitening_, zca.unwhitening_ = (
                data["zca_mean"],
                data["zca_whitening"],
                data["zca_unwhitening"],
            )
            zca.input_shape_ = tuple(out.X.shape[1:])
            zca.n_features_in_ = int(np.prod(zca.input_shape_))
            out.whitening = zca
    out.update(
        {
            key: meta.get(key)
            for key in (
                "method",
                "ipc",
                "images_per_class",
                "params",
                "learned_lr",
                "n_iterations",
                "sklearn_ltdd_version",
            )
        }
    )
    return out


def to_hf_dataset(distilled):
    """A Hugging Face ``datasets.Dataset`` of a distilled set, ready for ``push_to_hub``.

    Images are de-normalised with the set's ``mean`` and ``std`` and
    rounded to uint8 (so pixel values come back within 1/255); the
    ``image`` column has the ``Image`` feature and ``label`` a
    ``ClassLabel`` with the class names; a set with soft labels gets a
    ``soft_label`` column (the teacher's probabilities, in class order).

    Parameters
    ----------
    distilled : Bunch or str or path
        What :func:`load_distilled_set` returns, or a file it reads.

    Returns
    -------
    dataset : datasets.Dataset
    """
    from datasets import ClassLabel, Dataset, Features, Image, Sequence, Value

    if not isinstance(distilled, Bunch):
        distilled = load_distilled_set(distilled)
    if distilled.mean is None:
        raise ValueError(
            "the set was saved without its normalisation, so its images cannot be turned "
            "back into pictures; save it with save_distilled_set(..., mean=data.mean, "
            "std=data.std)."
        )
    X = np.asarray(distilled.X, dtype=np.float32)
    pixels = X * distilled.std[None, :, None, None] + distilled.mean[None, :, None, None]
    pixels = np.clip(np.rint(pixels * 255.0), 0, 255).astype(np.uint8).transpose(0, 2, 3, 1)
    if pixels.shape[-1] == 1:
        pixels = pixels[..., 0]
    names = [str(c) for c in distilled.classes.tolist()]
    position = {c: i for i, c in enumerate(distilled.classes.tolist())}
    labels = [position[v] for v in distilled.y.tolist()]
    columns = {"image": list(pixels), "label": labels}
    features = {"image": Image(), "label": ClassLabel(names=names)}
    if distilled.get("soft_labels") is not None:
        columns["soft_label"] = np.asarray(distilled.soft_labels, dtype=np.float32).tolist()
        features["soft_label"] = Sequence(Value("float32"), length=len(names))
    return Dataset.from_dict(columns, features=Features(features))
