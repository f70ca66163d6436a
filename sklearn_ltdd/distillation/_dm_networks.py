"""The networks distribution matching embeds with: a fresh frozen network every iteration
(DM), or IDM's queue of networks trained on the real data as distillation goes on."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

# Keys of the random streams (``_derived_seed``) beside the iterations'.
_QUEUE_NET, _QUEUE_TRAIN = 10, 11


class NetworkQueueMixin:
    """The matching networks of :class:`DistributionMatchingDistiller`: frozen fresh ones,
    and the queue's networks with their training (``n_networks``, ``balance``), left
    out of pickles (a continued fit replays them)."""

    def _frozen_network(self, seed):
        net = self._factory(seed)
        if not hasattr(net, "embed"):
            raise TypeError(
                f"{type(net).__name__} has no embed() method; distribution matching "
                f"compares penultimate features, so give the module an embed(x)."
            )
        for p in net.parameters():
            p.requires_grad_(False)
        return net

    def _new_queue_network(self, *key):
        net = self._frozen_network(self._derived_seed(_QUEUE_NET, *key))
        params = list(net.parameters())
        return {
            "net": net,
            "params": params,
            "momentum": [torch.zeros_like(p) for p in params],
            "correct": 0.0,
            "seen": 0.0,
        }

    def _queue_training_terms(self, y, n_classes):
        """What ``balance`` changes in the queue's training, computed once per fit:
        per-image sampling weights (``"sampling"``) and the log-prior added to
        the logits (``"logit_adjusted"``), each None when not used."""
        counts = torch.bincount(y, minlength=n_classes).float()
        weights = (1.0 / counts)[y] if self.balance == "sampling" else None
        log_prior = torch.log(counts / counts.sum()) if self.balance == "logit_adjusted" else None
        return weights, log_prior

    def _queue_step(self, queue, it, X, y, terms):
        """The queue's work after iteration ``it``: train some networks, maybe add one.

        Draws only from the queue's own stream (keyed on ``it``), so the
        queue evolves the same whether or not matching ran: a continued fit
        can replay it.
        """
        rng = np.random.default_rng(self._derived_seed(_QUEUE_TRAIN, it))
        gen = torch.Generator(device=X.device)
        gen.manual_seed(self._derived_seed(_QUEUE_TRAIN, it, 1))
        chosen = rng.choice(len(queue), size=min(self.networks_trained, len(queue)), replace=False)
        for k in chosen.tolist():
            self._train_queue_network(queue[k], X, y, terms, gen)
        if (it + 1) % 100 == 0:  # the reference resets its accuracy meters at evaluations
            for entry in queue:
                entry["correct"] = entry["seen"] = 0.0
        if (it + 1) % self.network_interval == 0:
            if len(queue) >= self.settings_["n_networks"]:
                queue.pop(0)
            queue.append(self._new_queue_network(1, it + 1))

    def _train_queue_network(self, entry, X, y, terms, gen):
        net, params, momentum = entry["net"], entry["params"], entry["momentum"]
        n = X.shape[0]
        weights, log_prior = terms
        for _ in range(self.network_steps):
            if weights is None:
                index = torch.randint(
                    n, (self._param("batch_net"),), generator=gen, device=X.device
                )
            else:
                index = torch.multinomial(
                    weights, self._param("batch_net"), replacement=True, generator=gen
                )
            with torch.enable_grad():
                for p in params:
                    p.requires_grad_(True)
                logits = net(X[index])
                target = y[index]
                loss = F.cross_entropy(logits if log_prior is None else logits + log_prior, target)
                grads = torch.autograd.grad(loss, params)
                for p in params:
                    p.requires_grad_(False)
            with torch.no_grad():
                # SGD, momentum 0.9, weight decay 5e-4 (the reference's --net_decay).
                torch._foreach_add_(grads, params, alpha=5e-4)
                torch._foreach_mul_(momentum, 0.9)
                torch._foreach_add_(momentum, grads)
                torch._foreach_add_(params, momentum, alpha=-self.lr_net)
                entry["correct"] += (logits.argmax(1) == target).sum()
                entry["seen"] += len(target)

    def __getstate__(self):
        state = super().__getstate__()
        state.pop("_queue", None)  # networks on the device; a continued fit replays them
        state.pop("_queue_iterations", None)
        return state
