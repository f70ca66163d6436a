"""The students a distiller's set trains: its method's own evaluation recipe, or a named
student recipe of :func:`~sklearn_ltdd.nets.make_student`."""

from __future__ import annotations

from sklearn.utils.validation import check_is_fitted


class EvaluationMixin:
    """``make_evaluator`` and ``make_student`` of a fitted distiller (``X_syn_``), at its
    ``module``, ``module__<name>`` sizes (``_module_kwargs``) and ``device``."""

    def make_evaluator(self, **params):
        """An unfitted classifier that trains on the synthetic set as the method's paper does.

        Each method evaluates its sets with its own recipe (ConvNet trained
        from scratch, SGD momentum 0.9, weight decay 5e-4, batches of 256,
        the learning rate divided by 10 halfway): DC for 300 epochs at 0.01
        without augmentation, DSA for 1000 epochs with DSA augmentation,
        MTT for 1000 epochs with DSA at its learned step size on
        ZCA-whitened inputs. ``make_evaluator`` returns that recipe as a
        :class:`~sklearn_ltdd.nets.ConvNetClassifier` (with this
        distiller's ``module`` and ``module__<name>`` sizes), preceded, where the
        distiller whitens, by its fitted whitening (frozen, so fitting the
        pipeline does not refit it); fit it on ``X_syn_, y_syn_`` and
        predict on raw test images. The reference loops run ``Epoch + 1``
        epochs (301 and 1001), and so do these recipes.

        Parameters
        ----------
        **params
            ``ConvNetClassifier`` parameters that replace the recipe's,
            e.g. ``max_epochs=300`` or ``device="cpu"``.

        Returns
        -------
        estimator : ConvNetClassifier or Pipeline

        Examples
        --------
        >>> from sklearn_ltdd import GradientMatchingDistiller
        >>> from sklearn_ltdd.datasets import load_digits_lt
        >>> X, y, X_test, y_test = load_digits_lt(return_X_y=True)
        >>> gm = GradientMatchingDistiller(ipc=2, n_iterations=2, module__width=4,
        ...                                random_state=0).fit(X, y)
        >>> clf = gm.make_evaluator(max_epochs=5, random_state=0)
        >>> clf.max_epochs, clf.lr, clf.augmentation
        (5, 0.01, None)
        >>> clf.fit(gm.X_syn_, gm.y_syn_).predict(X_test).shape
        (500,)
        """
        from sklearn.frozen import FrozenEstimator
        from sklearn.pipeline import make_pipeline

        from ..nets import ConvNetClassifier

        check_is_fitted(self, "X_syn_")
        recipe = {"module": self.module, "device": self.device}
        if "module" not in params:  # another network: the distiller's sizes do not apply
            recipe.update({f"module__{k}": v for k, v in self._module_kwargs().items()})
        recipe.update(self._evaluation_params())
        recipe.update(params)
        if not recipe["lr"] > 0:
            learned = getattr(self, "learned_lr_", None)
            raise ValueError(
                f"The evaluation's learning rate is {recipe['lr']:.3g}"
                + (
                    f" (the learned step size is {learned:.3g}, not positive)"
                    if learned is not None and "lr" not in params
                    else ""
                )
                + "; pass lr=... (a positive number) to make_evaluator."
            )
        clf = ConvNetClassifier(**recipe)
        transform = self._evaluation_transform()
        return clf if transform is None else make_pipeline(FrozenEstimator(transform), clf)

    def make_student(self, teacher=None, *, recipe=None, **params):
        """An unfitted student of a named recipe that scores any set, hard or soft labels.

        :func:`~sklearn_ltdd.nets.make_student` at this distiller's
        ``module``, ``module__<name>`` sizes and ``device`` (a ``module`` given
        in ``params`` drops those sizes): with ``teacher=None`` it learns
        the set's labels, with a fitted teacher that teacher's outputs on
        every batch. Fitted on ``X_syn_, y_syn_`` (or on a random subset of
        the same size), it says what the images add under the same labels;
        :meth:`make_evaluator` is each method's own recipe instead.

        Parameters
        ----------
        teacher : fitted classifier or None, default=None
        recipe : str or None, default=None
            A name of :data:`~sklearn_ltdd.nets.STUDENT_RECIPES`; None: the
            default recipe.
        **params
            ``ConvNetClassifier`` parameters that replace the recipe's.

        Returns
        -------
        student : ConvNetClassifier
        """
        from ..nets import make_student
        from ..nets._student import DEFAULT_RECIPE

        own = {"module": self.module, "device": self.device}
        if "module" not in params:
            own.update({f"module__{k}": v for k, v in self._module_kwargs().items()})
        return make_student(teacher, recipe=recipe or DEFAULT_RECIPE, **{**own, **params})

    def _evaluation_params(self) -> dict:
        """``ConvNetClassifier`` parameters of the method's evaluation."""
        return {"max_epochs": 300, "lr": 0.01}

    def _evaluation_transform(self):
        """A fitted transformer applied before the evaluation classifier, or None."""
        return None
