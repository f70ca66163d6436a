"""The drawing helpers of :class:`PerClassAccuracyDisplay`: bar orders, shot bands,
tick labels, the title line and the checks of the per-class inputs."""

from __future__ import annotations

import numpy as np

from ._long_tail import shot_accuracy

#: Band names of :func:`shot_accuracy`, head to tail, and how they are drawn.
_BAND_NAMES = {"many": "many-shot", "medium": "medium-shot", "few": "few-shot"}
_BAND_COLOURS = {"many": "#dbe9f6", "medium": "#fdf1d6", "few": "#f8dede"}


def _order_by_labels(train_counts, n_classes):
    return np.arange(n_classes)


def _order_by_train_counts(train_counts, n_classes):
    if train_counts is None:
        return np.arange(n_classes)
    return np.argsort(-train_counts, kind="stable")


#: Bar orders of :meth:`PerClassAccuracyDisplay.plot`.
_ORDERS = {"labels": _order_by_labels, "train_counts": _order_by_train_counts}


def _shot_band(count) -> str:
    """The band ("many", "medium" or "few") of a class with ``count`` training images.

    Asks :func:`shot_accuracy` itself, so that the bands drawn are always
    the buckets of the many/medium/few-shot metric.
    """
    shots = shot_accuracy([0], [0], [count])
    return next(band for band, acc in shots.items() if not np.isnan(acc))


def _class_names(target_names, labels) -> list:
    if target_names is None:
        return [str(label) for label in labels.tolist()]
    names = [str(name) for name in target_names]
    if len(names) != len(labels):
        raise ValueError(
            f"target_names has {len(names)} names but there are {len(labels)} classes "
            f"(labels {labels.tolist()!r}); pass one name per class, in the order of labels."
        )
    return names


def _counts_of_labels(train_counts, labels):
    """``train_counts`` (dict or array-like) as an array in the order of ``labels``."""
    if train_counts is None:
        return None
    if isinstance(train_counts, dict):
        missing = [label for label in labels.tolist() if label not in train_counts]
        if missing:
            raise ValueError(
                f"train_counts has no count for labels {missing!r}; give every class "
                f"of labels {labels.tolist()!r} a count."
            )
        return np.array([train_counts[label] for label in labels.tolist()])
    counts = np.asarray(train_counts)
    if counts.shape != labels.shape:
        raise ValueError(
            f"train_counts has {counts.size} entries but there are {labels.size} classes "
            f"(labels {labels.tolist()!r}); pass one count per class in the order of "
            "labels (by default the sorted labels of y_true), or a dict {label: count}."
        )
    return counts


def _summary_line(name, total_accuracy, acc_std) -> str:
    parts = []
    if total_accuracy is not None:
        parts.append(f"Total Acc {total_accuracy:.1f}%")
    if acc_std is not None:
        parts.append(f"Acc Std {acc_std:.1f}%")
    line = ", ".join(parts)
    if name is not None:
        line = f"{name}: {line}" if line else str(name)
    return line


def _add_title_line(ax, line) -> None:
    """Add ``line`` under the title of ``ax``, so that several displays share an axes."""
    if not line:
        return
    lines = [text for text in ax.get_title().split("\n") if text]
    if line not in lines:
        ax.set_title("\n".join([*lines, line]))


def _tick_labels(names, counts):
    """Tick labels (with training counts where known) and a rotation that fits them."""
    two_lines = (
        [f"{name}\n({int(count)})" for name, count in zip(names, counts)]
        if counts is not None
        else list(names)
    )
    widest = max(len(line) for label in two_lines for line in label.split("\n"))
    if len(names) * (widest + 1) <= 64:
        return two_lines, 0
    return [label.replace("\n", " ") for label in two_lines], 45 if len(names) <= 20 else 90


def _draw_bands(ax, counts, acc) -> dict:
    """Shade the runs of consecutive bars that share a shot band; label each band once.

    ``counts`` and ``acc`` are in bar order. Returns ``{band: [spans]}``,
    bands in order of first appearance.
    """
    band_of = [_shot_band(count) for count in counts]
    spans, start = {}, 0
    for stop in range(1, len(band_of) + 1):
        if stop < len(band_of) and band_of[stop] == band_of[start]:
            continue
        band = band_of[start]
        span = ax.axvspan(
            start - 0.5,
            stop - 0.5,
            color=_BAND_COLOURS[band],
            linewidth=0,
            zorder=0,
            label="_nolegend_",
        )
        if band not in spans:
            ax.text(
                (start + stop - 1) / 2,
                0.98,
                _band_label(band, band_of, acc),
                transform=ax.get_xaxis_transform(),
                ha="center",
                va="top",
                fontsize="small",
            )
        spans.setdefault(band, []).append(span)
        start = stop
    return spans


def _band_label(band, band_of, acc) -> str:
    values = acc[np.array(band_of) == band]
    if np.isnan(values).all():
        return _BAND_NAMES[band]
    return f"{_BAND_NAMES[band]}\n{np.nanmean(values):.1f}%"
