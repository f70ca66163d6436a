"""Per-class accuracy as a bar chart, in scikit-learn's Display convention."""

from __future__ import annotations

import numpy as np
from sklearn.base import is_classifier
from sklearn.metrics import accuracy_score

from ._display_helpers import (
    _ORDERS,
    _add_title_line,
    _class_names,
    _counts_of_labels,
    _draw_bands,
    _summary_line,
    _tick_labels,
)
from ._long_tail import _labels, class_accuracy_std, per_class_accuracy


class PerClassAccuracyDisplay:
    """Per-class accuracy of a classifier as bars, head classes to tail classes.

    One bar per class; with training counts, the bars run from the class
    with the most training images to the one with the fewest, and the
    many-shot, medium-shot and few-shot bands of :func:`shot_accuracy`
    (more than 100, 20 to 100, fewer than 20 training images) are shaded
    and labelled with their mean accuracy. The title gives the total
    accuracy and the paper's "Acc Std".

    Prefer :meth:`from_predictions` or :meth:`from_estimator`, which compute
    the figures with :func:`per_class_accuracy` and
    :func:`class_accuracy_std`. All parameters are stored as attributes.

    Parameters
    ----------
    per_class_accuracy : array-like of shape (n_classes,)
        Accuracy (recall) of each class, in percent (0-100).
    class_names : sequence of str of length n_classes
        Name of each class, in the order of ``per_class_accuracy``.
    train_counts : array-like of shape (n_classes,), default=None
        Training images per class, in the same order. Needed to order the
        bars head to tail and to draw the shot bands.
    acc_std : float, default=None
        "Acc Std" in percent, shown in the title.
    total_accuracy : float, default=None
        Total accuracy in percent, shown in the title.
    name : str, default=None
        Name of the model: legend entry of the bars and prefix of the title.

    Attributes
    ----------
    bars_ : matplotlib BarContainer
        The bars, in plotted order (head to tail with training counts).
    bands_ : dict or None
        ``{"many" | "medium" | "few": [span, ...]}``, the shaded spans of
        each band present (``axvspan`` patches), bands head to tail; None
        when no bands were drawn.
    ax_ : matplotlib Axes
        Axes with the bars.
    figure_ : matplotlib Figure
        Figure containing the bars.

    See Also
    --------
    per_class_accuracy : The bar heights, as fractions.
    shot_accuracy : The mean accuracy of each band.
    long_tail_report : The same figures as a table.

    Examples
    --------
    >>> from sklearn_ltdd.metrics import PerClassAccuracyDisplay
    >>> y_true = [0, 0, 1, 1, 2, 2]
    >>> y_pred = [0, 0, 1, 0, 0, 0]
    >>> disp = PerClassAccuracyDisplay.from_predictions(
    ...     y_true, y_pred, train_counts={0: 500, 1: 50, 2: 5},
    ...     target_names=["head", "middle", "tail"])
    >>> disp.bars_.datavalues.tolist()
    [100.0, 50.0, 0.0]
    >>> list(disp.bands_)
    ['many', 'medium', 'few']
    >>> disp.ax_.get_title()
    'Total Acc 50.0%, Acc Std 40.8%'
    >>> import matplotlib.pyplot as plt
    >>> plt.close(disp.figure_)
    """

    def __init__(
        self,
        per_class_accuracy,
        *,
        class_names,
        train_counts=None,
        acc_std=None,
        total_accuracy=None,
        name=None,
    ):
        self.per_class_accuracy = per_class_accuracy
        self.class_names = class_names
        self.train_counts = train_counts
        self.acc_std = acc_std
        self.total_accuracy = total_accuracy
        self.name = name

    def _validated(self):
        """Accuracies, names and counts as arrays of one length, or a clear error."""
        acc = np.asarray(self.per_class_accuracy, dtype=float)
        if acc.ndim != 1 or acc.size == 0:
            raise ValueError(
                "per_class_accuracy must be a non-empty 1-D array of percentages, one "
                f"per class; got shape {acc.shape}."
            )
        names = [str(name) for name in self.class_names]
        if len(names) != acc.size:
            raise ValueError(
                f"class_names has {len(names)} names but per_class_accuracy has "
                f"{acc.size} classes; pass one name per class, in the same order."
            )
        if self.train_counts is None:
            return acc, names, None
        if isinstance(self.train_counts, dict):
            raise TypeError(
                "train_counts of PerClassAccuracyDisplay must be an array-like with one "
                "count per class, in the order of per_class_accuracy; got a dict "
                "(from_predictions and from_estimator accept a dict {label: count})."
            )
        counts = np.asarray(self.train_counts)
        if counts.shape != acc.shape:
            raise ValueError(
                f"train_counts has {counts.size} entries but per_class_accuracy has "
                f"{acc.size} classes; pass one training count per class, in the same order."
            )
        return acc, names, counts

    def plot(
        self, ax=None, *, order: str = "train_counts", bands: bool = True, **bar_kwargs
    ) -> PerClassAccuracyDisplay:
        """Draw the bars.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Axes to draw on; a new figure when None. Several displays may
            share one axes: each adds its bars (pass ``width`` and
            ``align="edge"`` to set them side by side, ``bands=False`` to
            shade the bands once) and a line to the title.
        order : {"train_counts", "labels"}, default="train_counts"
            ``"train_counts"``: from the most to the fewest training images
            (ties in class order), or class order when ``train_counts`` is
            None; ``"labels"``: class order.
        bands : bool, default=True
            Shade and label the many/medium/few-shot bands (needs
            ``train_counts``).
        **bar_kwargs
            Passed to ``ax.bar`` (``color``, ``width``, ``align``, ...);
            ``label`` defaults to ``name``.

        Returns
        -------
        display : PerClassAccuracyDisplay
            ``self``, with ``bars_``, ``bands_``, ``ax_`` and ``figure_``.

        Examples
        --------
        >>> import matplotlib.pyplot as plt
        >>> from sklearn_ltdd.metrics import PerClassAccuracyDisplay
        >>> disp = PerClassAccuracyDisplay([40.0, 90.0], class_names=["a", "b"],
        ...                                train_counts=[10, 300], name="model")
        >>> fig, ax = plt.subplots()
        >>> disp.plot(ax=ax, color="tab:orange").ax_ is ax
        True
        >>> [tick.get_text() for tick in ax.get_xticklabels()]
        ['b\\n(300)', 'a\\n(10)']
        >>> plt.close(fig)
        """
        import matplotlib.pyplot as plt  # noqa: PLC0415  (optional at import time)

        acc, names, counts = self._validated()
        if order not in _ORDERS:
            raise ValueError(f"order must be one of {sorted(_ORDERS)}, got {order!r}.")
        idx = _ORDERS[order](counts, acc.size)
        if ax is None:
            fig, ax = plt.subplots(
                figsize=(min(max(6.4, 0.4 * acc.size), 20.0), 4.2), layout="constrained"
            )
        else:
            fig = ax.figure

        x = np.arange(acc.size)
        bar_kwargs = {"label": self.name, **bar_kwargs} if self.name is not None else bar_kwargs
        self.bars_ = ax.bar(x, acc[idx], **bar_kwargs)
        self.bands_ = None
        if bands and counts is not None:
            self.bands_ = _draw_bands(ax, counts[idx], acc[idx])

        labels, rotation = _tick_labels(
            [names[i] for i in idx], None if counts is None else counts[idx]
        )
        ax.set_xticks(
            x,
            labels,
            rotation=rotation,
            rotation_mode="anchor",
            ha="right" if rotation else "center",
            va="center" if rotation == 90 else "top",
        )
        head_to_tail = counts is not None and order == "train_counts"
        # Room above 100% for the band labels.
        top = 120 if self.bands_ is not None else 105
        ax.set(
            xlim=(-0.5, acc.size - 0.5),
            ylim=(0, max(top, ax.get_ylim()[1])),
            ylabel="Accuracy (%)",
            xlabel="Class (training images), head to tail"
            if head_to_tail
            else "Class"
            if counts is None
            else "Class (training images)",
        )
        _add_title_line(ax, _summary_line(self.name, self.total_accuracy, self.acc_std))
        if self.name is not None:
            ax.legend(loc="lower left")
        self.ax_, self.figure_ = ax, fig
        return self

    @classmethod
    def from_predictions(
        cls,
        y_true,
        y_pred,
        *,
        train_counts=None,
        labels=None,
        target_names=None,
        name=None,
        ax=None,
        **kwargs,
    ) -> PerClassAccuracyDisplay:
        """Plot per-class accuracy given true and predicted labels.

        Parameters
        ----------
        y_true, y_pred : array-like of shape (n_samples,)
            True and predicted labels.
        train_counts : dict or array-like, default=None
            Training images per class: a dict ``{label: count}``, or an array
            in the order of ``labels``. Orders the bars head to tail and adds
            the shot bands.
        labels : array-like, default=None
            Classes to show, in order; default the sorted labels of
            ``y_true``. A class absent from ``y_true`` has no bar (NaN).
        target_names : sequence of str, default=None
            Names of the classes, in the order of ``labels``.
        name : str, default=None
            Name of the model, for the legend and the title.
        ax : matplotlib Axes, default=None
            Axes to draw on; a new figure when None.
        **kwargs
            Passed to :meth:`plot` (``order``, ``bands``, bar keywords).

        Returns
        -------
        display : PerClassAccuracyDisplay
            With ``acc_std`` over the classes shown and ``total_accuracy``
            over all samples, both in percent.

        Examples
        --------
        >>> from sklearn_ltdd.metrics import PerClassAccuracyDisplay
        >>> disp = PerClassAccuracyDisplay.from_predictions(
        ...     [0, 0, 1, 1], [0, 1, 1, 1], name="demo", bands=False)
        >>> disp.per_class_accuracy.tolist(), disp.acc_std
        ([50.0, 100.0], 25.0)
        >>> import matplotlib.pyplot as plt
        >>> plt.close(disp.figure_)
        """
        y_true, y_pred, labels = _labels(y_true, y_pred, labels)
        names = _class_names(target_names, labels)
        counts = _counts_of_labels(train_counts, labels)
        display = cls(
            100.0 * per_class_accuracy(y_true, y_pred, labels=labels),
            class_names=names,
            train_counts=counts,
            acc_std=100.0 * class_accuracy_std(y_true, y_pred, labels=labels),
            total_accuracy=100.0 * accuracy_score(y_true, y_pred),
            name=name,
        )
        return display.plot(ax=ax, **kwargs)

    @classmethod
    def from_estimator(
        cls,
        estimator,
        X,
        y,
        *,
        train_counts=None,
        labels=None,
        target_names=None,
        name=None,
        ax=None,
        **kwargs,
    ) -> PerClassAccuracyDisplay:
        """Plot per-class accuracy of a fitted classifier on ``X, y``.

        Parameters
        ----------
        estimator : fitted classifier
            Anything scikit-learn recognises as a classifier, pipelines
            ending in one included.
        X : array-like
            Test inputs, as ``estimator.predict`` takes them.
        y : array-like of shape (n_samples,)
            Their true labels.
        train_counts, labels, target_names, ax, **kwargs
            As in :meth:`from_predictions`.
        name : str, default=None
            Name of the model; default the estimator's class name.

        Returns
        -------
        display : PerClassAccuracyDisplay

        Examples
        --------
        >>> from sklearn.linear_model import LogisticRegression
        >>> from sklearn_ltdd.metrics import PerClassAccuracyDisplay
        >>> X, y = [[0.0], [1.0], [2.0], [3.0]], [0, 0, 1, 1]
        >>> clf = LogisticRegression().fit(X, y)
        >>> disp = PerClassAccuracyDisplay.from_estimator(clf, X, y)
        >>> disp.name, disp.total_accuracy
        ('LogisticRegression', 100.0)
        >>> import matplotlib.pyplot as plt
        >>> plt.close(disp.figure_)
        """
        if not is_classifier(estimator):
            raise ValueError(
                "PerClassAccuracyDisplay.from_estimator needs a fitted classifier, got "
                f"{type(estimator).__name__}; for another model pass its predictions "
                "to PerClassAccuracyDisplay.from_predictions."
            )
        return cls.from_predictions(
            y,
            estimator.predict(X),
            train_counts=train_counts,
            labels=labels,
            target_names=target_names,
            name=type(estimator).__name__ if name is None else name,
            ax=ax,
            **kwargs,
        )
