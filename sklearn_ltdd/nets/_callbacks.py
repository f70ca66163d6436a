"""skorch callbacks used by the package's presets."""

from __future__ import annotations

import torch
from skorch.callbacks import Callback


class HalfwayStepLR(Callback):
    """Multiply the learning rate by ``gamma`` once half the epochs are done.

    The evaluation schedule of the gradient-matching reference code (its
    ``lr_schedule = [epochs // 2 + 1]``), written for any ``max_epochs``: the
    step happens after epoch ``max_epochs // 2`` of a ``fit`` call.

    Parameters
    ----------
    gamma : float, default=0.1
    """

    def __init__(self, gamma: float = 0.1):
        self.gamma = gamma

    def on_train_begin(self, net, X=None, y=None, **kwargs):
        milestone = max(1, int(net.max_epochs) // 2)
        self.scheduler_ = torch.optim.lr_scheduler.MultiStepLR(
            net.optimizer_, milestones=[milestone], gamma=self.gamma
        )

    def on_epoch_end(self, net, **kwargs):
        self.scheduler_.step()

    def on_train_end(self, net, X=None, y=None, **kwargs):
        # Restore the initial learning rate so a later partial_fit starts over.
        for group, lr in zip(net.optimizer_.param_groups, self.scheduler_.base_lrs):
            group["lr"] = lr
