"""Metrics of the paper's tables, on label arrays."""

from __future__ import annotations

import numpy as np
from sklearn.utils import check_consistent_length, column_or_1d


def _labels(y_true, y_pred, labels):
    y_true, y_pred = column_or_1d(y_true), column_or_1d(y_pred)
    check_consistent_length(y_true, y_pred)
    if len(y_true) == 0:
        raise ValueError("y_true is empty; metrics need at least one sample.")
    labels = np.unique(y_true) if labels is None else np.asarray(labels)
    return y_true, y_pred, labels


def per_class_accuracy(y_true, y_pred, *, labels=None) -> np.ndarray:
    """Accuracy (recall) of each class: the fraction of its samples predicted as it.

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n_samples,)
    labels : array-like, default=None
        Classes to report, in order; default the sorted labels of
        ``y_true``. A class absent from ``y_true`` gets NaN.

    Returns
    -------
    accuracy : ndarray of shape (n_labels,), values in [0, 1]

    Examples
    --------
    >>> per_class_accuracy([0, 0, 1, 1], [0, 1, 1, 1]).tolist()
    [0.5, 1.0]
    """
    y_true, y_pred, labels = _labels(y_true, y_pred, labels)
    out = np.full(len(labels), np.nan)
    for i, label in enumerate(labels):
        mask = y_true == label
        if mask.any():
            out[i] = np.mean(y_pred[mask] == label)
    return out


def class_accuracy_std(y_true, y_pred, *, labels=None) -> float:
    """The paper's "Acc Std": population standard deviation of per-class accuracy.

    Lower is more balanced. Classes absent from ``y_true`` are ignored.

    Examples
    --------
    >>> class_accuracy_std([0, 0, 1, 1], [0, 1, 1, 1])
    0.25
    """
    return float(np.nanstd(per_class_accuracy(y_true, y_pred, labels=labels)))


def worst_class_accuracy(y_true, y_pred, *, labels=None) -> float:
    """Lowest per-class accuracy.

    Examples
    --------
    >>> worst_class_accuracy([0, 0, 1, 1], [0, 1, 1, 1])
    0.5
    """
    return float(np.nanmin(per_class_accuracy(y_true, y_pred, labels=labels)))


def _group_lookup(groups):
    lookup = {}
    for g, members in enumerate(groups):
        for label in np.asarray(members).tolist():
            if label in lookup:
                raise ValueError(f"class {label!r} is in more than one group.")
            lookup[label] = g
    return lookup


def group_accuracy(y_true, y_pred, groups) -> float:
    """Accuracy of the group assignment implied by class predictions.

    A prediction counts as correct when the predicted class lies in the
    same group as the true class (the paper's "Group Acc").

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n_samples,)
    groups : sequence of sequences of labels
        A partition of the classes.

    Examples
    --------
    >>> group_accuracy([0, 1, 2, 3], [1, 0, 3, 0], groups=[[0, 1], [2, 3]])
    0.75
    """
    y_true, y_pred, _ = _labels(y_true, y_pred, None)
    lookup = _group_lookup(groups)
    missing = sorted(set(np.unique(np.concatenate([y_true, y_pred])).tolist()) - set(lookup))
    if missing:
        raise ValueError(f"labels {missing!r} are in no group of groups={groups!r}.")
    g_true = np.array([lookup[v] for v in y_true.tolist()])
    g_pred = np.array([lookup[v] for v in y_pred.tolist()])
    return float(np.mean(g_true == g_pred))


def shot_accuracy(
    y_true, y_pred, train_counts, *, many_threshold: int = 100, few_threshold: int = 20
) -> dict:
    """Mean per-class accuracy over many-, medium- and few-shot classes.

    Many-shot classes have more than ``many_threshold`` training images,
    few-shot classes fewer than ``few_threshold``, medium the rest (the
    usual split of the long-tail literature).

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n_samples,)
    train_counts : dict or array-like
        Training images per class: a dict ``{label: count}``, or an array
        indexed by the sorted labels of ``y_true``.

    Returns
    -------
    dict
        ``{"many": ..., "medium": ..., "few": ...}``; NaN for an empty bucket.

    Examples
    --------
    >>> shot_accuracy([0, 1, 2], [0, 1, 0], {0: 500, 1: 50, 2: 5})
    {'many': 1.0, 'medium': 1.0, 'few': 0.0}
    """
    y_true, y_pred, labels = _labels(y_true, y_pred, None)
    if isinstance(train_counts, dict):
        counts = np.array([train_counts[label] for label in labels.tolist()])
    else:
        counts = np.asarray(train_counts)
        if counts.shape != labels.shape:
            raise ValueError(
                f"train_counts has {counts.size} entries but y_true has "
                f"{labels.size} classes; pass a dict {{label: count}}."
            )
    acc = per_class_accuracy(y_true, y_pred, labels=labels)
    buckets = {
        "many": counts > many_threshold,
        "medium": (counts <= many_threshold) & (counts >= few_threshold),
        "few": counts < few_threshold,
    }
    return {
        name: float(acc[mask].mean()) if mask.any() else float("nan")
        for name, mask in buckets.items()
    }


def long_tail_report(
    y_true,
    y_pred,
    *,
    train_counts=None,
    groups=None,
    target_names=None,
    name: str = "model",
    n_train_images=None,
    verbose: bool = True,
) -> dict:
    """All of the paper's figures for one model, as a dict and a printed table.

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n_samples,)
    train_counts : dict or array-like, default=None
        Adds many/medium/few-shot accuracy (see :func:`shot_accuracy`).
    groups : sequence of sequences, default=None
        Adds group accuracy.
    target_names : sequence of str, default=None
        Column names for the per-class accuracies.
    name : str, default="model"
        Row label ("Dataset" column of the paper's tables).
    n_train_images : int, default=None
        "Train Img Num" column.
    verbose : bool, default=True
        Print the table (:func:`format_long_tail_table`).

    Returns
    -------
    report : dict
        ``name``, ``train_images``, ``total_acc``, ``balanced_acc``,
        ``acc_std``, ``per_class_acc`` (dict name -> %), and where asked
        ``group_acc``, ``many_shot``, ``medium_shot``, ``few_shot``.
        Accuracies are in percent, as in the paper.

    Examples
    --------
    >>> r = long_tail_report([0, 0, 1, 1], [0, 1, 1, 1], verbose=False)
    >>> r["total_acc"], r["acc_std"], r["per_class_acc"]
    (75.0, 25.0, {'0': 50.0, '1': 100.0})
    """
    y_true, y_pred, labels = _labels(y_true, y_pred, None)
    acc = per_class_accuracy(y_true, y_pred, labels=labels)
    names = (
        [str(n) for n in target_names]
        if target_names is not None
        else [str(label) for label in labels]
    )
    if len(names) != len(labels):
        raise ValueError(f"target_names has {len(names)} names for {len(labels)} classes.")
    report = {
        "name": name,
        "train_images": None if n_train_images is None else int(n_train_images),
        "total_acc": 100.0 * float(np.mean(y_true == y_pred)),
        "balanced_acc": 100.0 * float(np.mean(acc)),
        "acc_std": 100.0 * float(np.std(acc)),
        "per_class_acc": {n: 100.0 * float(a) for n, a in zip(names, acc)},
    }
    if groups is not None:
        report["group_acc"] = 100.0 * group_accuracy(y_true, y_pred, groups)
    if train_counts is not None:
        shots = shot_accuracy(y_true, y_pred, train_counts)
        report.update({f"{k}_shot": 100.0 * v for k, v in shots.items()})
    if verbose:
        print(format_long_tail_table([report]))
    return report


def _fmt(value, width):
    if value is None:
        return "-".rjust(width)
    if isinstance(value, str):
        return value.rjust(width)
    if isinstance(value, (int, np.integer)):
        return str(int(value)).rjust(width)
    if np.isnan(value):
        return "nan".rjust(width)
    return f"{value:.1f}".rjust(width)


def format_long_tail_table(reports, *, per_class: bool = True) -> str:
    """Format reports of :func:`long_tail_report` as the paper's tables (a) and (b).

    Returns a plain-text table: one row per report with images used,
    total accuracy, Acc Std, group accuracy where present, then the
    per-class accuracies.

    Examples
    --------
    >>> r = long_tail_report([0, 1], [0, 0], name="demo", verbose=False)
    >>> print(format_long_tail_table([r], per_class=False))
    Dataset  Train Img Num  Total Acc (%)  Acc Std (%)
    demo                 -           50.0         50.0
    """
    reports = list(reports)
    has_group = any("group_acc" in r for r in reports)
    name_w = max(7, *(len(str(r["name"])) for r in reports))
    header = ["Dataset".ljust(name_w), "Train Img Num", "Total Acc (%)", "Acc Std (%)"]
    if has_group:
        header.append("Group Acc (%)")
    lines = ["  ".join(header)]
    for r in reports:
        row = [
            str(r["name"]).ljust(name_w),
            _fmt(r.get("train_images"), 13),
            _fmt(r["total_acc"], 13),
            _fmt(r["acc_std"], 11),
        ]
        if has_group:
            row.append(_fmt(r.get("group_acc"), 13))
        lines.append("  ".join(row))
    if per_class:
        classes = list(reports[0]["per_class_acc"])
        width = max(6, *(len(c) for c in classes))
        lines.append("")
        lines.append("  ".join(["Cls Acc (%)".ljust(name_w)] + [c.rjust(width) for c in classes]))
        for r in reports:
            values = [r["per_class_acc"].get(c) for c in classes]
            lines.append(
                "  ".join([str(r["name"]).ljust(name_w)] + [_fmt(v, width) for v in values])
            )
    return "\n".join(lines)
