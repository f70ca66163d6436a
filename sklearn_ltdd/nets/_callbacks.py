"""skorch callbacks used by the package's presets."""

from __future__ import annotations

import math
import numbers
import time
from collections import defaultdict

from skorch.callbacks import Callback


def resuming(net) -> bool:
    """Whether ``net`` is finishing an interrupted fit (``ConvNetClassifier.resume_fit``):
    a callback then keeps the state it had when the net was pickled."""
    return bool(getattr(net, "cache_", {}).get("resuming"))


def _now():
    """Wall-clock seconds (a pickled net resumes in another process)."""
    return time.time()


class _Every:
    """A ``Checkpoint`` monitor: true after an epoch once at least ``seconds`` of wall
    time have passed since it was last true (or since the first epoch began)."""

    def __init__(self, seconds):
        self.seconds = seconds
        self.last = None

    def __call__(self, net):
        now = _now()
        if self.last is None:
            self.last = now - net.history[-1, "dur"]
        if now - self.last < self.seconds:
            return False
        self.last = now
        return True


def epoch_checkpoint(path, every=0.0):
    """skorch's ``Checkpoint`` that pickles the whole net to ``path`` after an epoch,
    nothing else: what :meth:`ConvNetClassifier.resume_fit` finishes a stopped fit from.

    Parameters
    ----------
    path : str or path-like
        Where the net is pickled (overwritten each time).
    every : float, default=0.0
        Seconds of wall time at least between two pickles; 0 pickles after every
        epoch. A large net's pickle (a ResNet-18 student's, with its weight
        average and optimiser state, is hundreds of MB) then costs little of a
        long fit, and a stop loses at most ``every`` seconds of it.

    Examples
    --------
    >>> epoch_checkpoint("teacher.pkl").f_pickle
    'teacher.pkl'
    >>> epoch_checkpoint("student.pkl", every=600).monitor.seconds
    600.0
    """
    from skorch.callbacks import Checkpoint

    if (
        isinstance(every, bool)
        or not isinstance(every, numbers.Real)
        or not math.isfinite(every)
        or every < 0
    ):
        raise ValueError(
            f"every must be a number of seconds >= 0 (0: after every epoch), got {every!r}."
        )
    return Checkpoint(
        monitor=_Every(float(every)) if every > 0 else None,
        f_params=None,
        f_optimizer=None,
        f_criterion=None,
        f_history=None,
        f_pickle=str(path),
        dirname="",
    )


class HalfwayStepLR(Callback):
    """Multiply the learning rate by ``gamma`` once, halfway, and restart momentum.

    The evaluation schedule of the gradient-matching and MTT reference code
    (``evaluate_synset``): it trains ``for ep in range(Epoch + 1)`` and, at
    ``ep == Epoch // 2 + 1``, multiplies the learning rate by 0.1 and builds
    a new optimiser, so the momentum starts again from zero. Here, with
    ``max_epochs = N`` epochs in a ``fit`` call, the step happens after
    epoch ``(N - 1) // 2 + 1``: ``N = Epoch + 1`` reproduces the reference
    exactly (301 epochs for its "300", step after 151), and ``N = 300``
    steps after 150.

    Parameters
    ----------
    gamma : float, default=0.1
    reset_momentum : bool, default=True
        Clear the optimiser's state (momentum buffers) at the step, as the
        reference's rebuilt optimiser does.

    Attributes
    ----------
    milestone_ : int
        Epochs done before the step, in the current ``fit`` call.
    """

    def __init__(self, gamma: float = 0.1, reset_momentum: bool = True):
        self.gamma = gamma
        self.reset_momentum = reset_momentum

    def on_train_begin(self, net, X=None, y=None, **kwargs):
        if resuming(net):
            return
        self.milestone_ = (max(int(net.max_epochs), 1) - 1) // 2 + 1
        self.epochs_done_ = 0
        self.base_lrs_ = [group["lr"] for group in net.optimizer_.param_groups]

    def on_epoch_end(self, net, **kwargs):
        self.epochs_done_ += 1
        if self.epochs_done_ != self.milestone_:
            return
        for group in net.optimizer_.param_groups:
            group["lr"] *= self.gamma
        if self.reset_momentum:
            net.optimizer_.state = defaultdict(dict)

    def on_train_end(self, net, X=None, y=None, **kwargs):
        # Restore the initial learning rate so a later partial_fit starts over.
        for group, lr in zip(net.optimizer_.param_groups, self.base_lrs_):
            group["lr"] = lr


class CosineLR(Callback):
    """Cosine learning-rate decay over the epochs of a ``fit`` call.

    After epoch ``e`` (of ``N``) the learning rate is
    ``base * (1 + cos(pi * e / N)) / 2``: it starts at ``lr`` and ends near
    0, the schedule of knowledge-distillation students (SRe2L, RDED).

    Examples
    --------
    >>> import math
    >>> round((1 + math.cos(math.pi * 150 / 300)) / 2, 3)   # halfway: half the rate
    0.5
    """

    def on_train_begin(self, net, X=None, y=None, **kwargs):
        if resuming(net):
            return
        self.epochs_ = max(int(net.max_epochs), 1)
        self.done_ = 0
        self.base_lrs_ = [group["lr"] for group in net.optimizer_.param_groups]

    def on_epoch_end(self, net, **kwargs):
        self.done_ += 1
        factor = 0.5 * (1.0 + math.cos(math.pi * self.done_ / self.epochs_))
        for group, lr in zip(net.optimizer_.param_groups, self.base_lrs_):
            group["lr"] = lr * factor

    def on_train_end(self, net, X=None, y=None, **kwargs):
        for group, lr in zip(net.optimizer_.param_groups, self.base_lrs_):
            group["lr"] = lr


class CriterionProgress(Callback):
    """Tell a criterion with ``set_progress`` how far training is (``epoch / max_epochs``).

    :class:`~sklearn_ltdd.nets.CumulativeReweightedLoss` moves its weight
    from plain to reweighted cross-entropy with it; other criteria are left
    alone.
    """

    def on_train_begin(self, net, X=None, y=None, **kwargs):
        if resuming(net):
            return
        self.done_ = 0

    def on_epoch_begin(self, net, **kwargs):
        criterion = getattr(net, "criterion_", None)
        criterion = getattr(criterion, "_orig_mod", criterion)  # a compiled one
        if hasattr(criterion, "set_progress"):
            criterion.set_progress(self.done_ / max(int(net.max_epochs), 1))

    def on_epoch_end(self, net, **kwargs):
        self.done_ += 1


class InitFromModule(Callback):
    """Start training from another network's weights, except its classifier.

    At the start of every ``fit``, the module's parameters and buffers take
    the values of ``state_dict`` wherever a name and shape match and the
    name does not start with one of ``skip`` (by default the final
    ``classifier`` layer, whose classes may differ). Fine-tuning a trained
    backbone on another set of classes is then an ordinary ``fit``.

    Parameters
    ----------
    state_dict : dict of str to Tensor
        For example ``trained.module_.state_dict()``.
    skip : tuple of str, default=("classifier.",)

    Attributes
    ----------
    loaded_ : list of str
        The names taken from ``state_dict`` in the last ``fit``.
    """

    def __init__(self, state_dict, skip=("classifier.",)):
        self.state_dict = state_dict
        self.skip = skip

    def on_train_begin(self, net, X=None, y=None, **kwargs):
        own = net.module_.state_dict()
        take = {
            name: value
            for name, value in self.state_dict.items()
            if name in own
            and tuple(own[name].shape) == tuple(value.shape)
            and not name.startswith(tuple(self.skip))
        }
        if not take:
            raise ValueError(
                "InitFromModule found no parameter of the same name and shape in "
                "the network; the backbone and the fine-tuned network must share "
                "their architecture (module and module__ parameters)."
            )
        net.module_.load_state_dict(take, strict=False)
        self.loaded_ = sorted(take)


class _EMAUpdate:
    """torch's EMA update (``get_ema_multi_avg_fn``) as a picklable object, so that a net
    pickled during its fit (``resume_fit``) keeps its average."""

    def __init__(self, decay):
        self.decay = decay

    def __call__(self, averaged, current, num_averaged):
        from torch.optim.swa_utils import get_ema_multi_avg_fn

        get_ema_multi_avg_fn(self.decay)(averaged, current, num_averaged)


class WeightAverage(Callback):
    """An exponential moving average of the weights, which the network keeps after ``fit``.

    After every training batch the average moves towards the module's
    parameters and buffers (``avg <- decay * avg + (1 - decay) * w``, batch
    norm's running statistics included) through
    :class:`torch.optim.swa_utils.AveragedModel`; when training ends, the
    module takes the averaged values, so predictions (and a later
    ``partial_fit``) use them. The students of EDC and of the uni-level
    framework keep such an average (decay 0.99).

    Parameters
    ----------
    decay : float, default=0.99

    Attributes
    ----------
    averaged_ : torch.optim.swa_utils.AveragedModel
        During training, the average.
    """

    def __init__(self, decay: float = 0.99):
        self.decay = decay

    def on_train_begin(self, net, X=None, y=None, **kwargs):
        if resuming(net):
            return
        from torch.optim.swa_utils import AveragedModel

        self.averaged_ = AveragedModel(
            net.module_, multi_avg_fn=_EMAUpdate(float(self.decay)), use_buffers=True
        )

    def on_batch_end(self, net, batch=None, training=False, **kwargs):
        if training:
            self.averaged_.update_parameters(net.module_)

    def on_train_end(self, net, X=None, y=None, **kwargs):
        averaged = getattr(self, "averaged_", None)
        if averaged is not None and int(averaged.n_averaged) > 0:
            net.module_.load_state_dict(averaged.module.state_dict())
        self.averaged_ = None
