"""Progress of the long steps: an epoch bar for every network an estimator trains."""

from __future__ import annotations

from skorch.callbacks import Callback


class EpochProgress(Callback):
    """A skorch callback: one progress bar per fit, over its epochs (tqdm).

    The distillers, samplers and the grouper add it to the networks they
    train themselves (their teachers, observers, scorers) when their
    ``verbose`` is 1 or more, so every step longer than a few seconds shows
    progress.

    Parameters
    ----------
    desc : str
        The bar's label, e.g. ``"teacher"``.
    """

    def __init__(self, desc: str = "training"):
        self.desc = desc

    def on_train_begin(self, net, **kwargs):
        from tqdm.auto import tqdm

        self.bar_ = tqdm(total=net.max_epochs, desc=self.desc, leave=False)

    def on_epoch_end(self, net, **kwargs):
        self.bar_.update(1)

    def on_train_end(self, net, **kwargs):
        self.bar_.close()


def with_progress(estimator, desc: str, verbose) -> object:
    """``estimator`` with an :class:`EpochProgress` bar added to its skorch callbacks
    when ``verbose``; unchanged otherwise (or if it is not a skorch net)."""
    if not verbose or not hasattr(estimator, "callbacks") or not hasattr(estimator, "max_epochs"):
        return estimator
    callbacks = list(estimator.callbacks or [])
    if not any(isinstance(c, tuple) and c[0] == "progress" for c in callbacks):
        estimator.set_params(callbacks=callbacks + [("progress", EpochProgress(desc))])
    return estimator
