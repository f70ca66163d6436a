"""The steps of gradient matching: inner training, per-class gradients, class batches."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ._graphs import GraphedStep


class _InnerTraining:
    """``epochs`` epochs of SGD on the synthetic set, as one fixed sequence of steps.

    Between matching rounds the network trains on the detached synthetic
    images. Everything random in a round (each epoch's batch order and,
    with DSA, each batch's augmentation: one operation per batch, parameters
    per image) is drawn by :meth:`run` into static buffers before the round,
    so the round is a fixed sequence of kernels, run eagerly or captured as
    one CUDA graph (:class:`GraphedStep`). The update is SGD as
    ``torch.optim.SGD`` computes it without weight decay; momentum buffers
    start at zero for every new network, which equals PyTorch's first-step
    copy of the gradient.
    """

    def __init__(
        self,
        net,
        x_shape,
        y,
        epochs,
        batch,
        lr,
        momentum,
        dsa,
        generator,
        graphs,
        forward=None,
        autocast=None,
    ):
        device = y.device
        self.net, self.y, self.dsa, self.generator = net, y, dsa, generator
        self.forward = net if forward is None else forward
        self.autocast = autocast
        self.params = list(net.parameters())
        self.buffers = [torch.zeros_like(p) for p in self.params] if momentum else []
        self.lr, self.momentum = float(lr), float(momentum)
        n = int(x_shape[0])
        self.epochs = int(epochs)
        self.bounds = [(s, min(s + batch, n)) for s in range(0, n, batch)]
        self.x = torch.zeros(x_shape, device=device)
        self.keys = torch.zeros(self.epochs, n, device=device)
        # Which batch each (epoch, position) row belongs to: one DSA operation each.
        batch_of = torch.arange(n, device=device) // batch
        self.groups = (
            torch.arange(self.epochs, device=device)[:, None] * len(self.bounds) + batch_of[None, :]
        ).flatten()
        self.aug = None
        self.step = GraphedStep(
            self._steps,
            self.params + self.buffers,
            graphs,
            "GradientMatchingDistiller inner training",
        )

    def reset(self):
        """A new network: momentum starts from zero."""
        for buffer in self.buffers:
            buffer.zero_()

    def run(self, x):
        self.x.copy_(x)
        torch.rand(self.keys.shape, generator=self.generator, out=self.keys)
        if self.dsa is not None:
            drawn = self.dsa.sample(
                self.groups.numel(),
                self.generator,
                self.x.device,
                self.groups,
                self.epochs * len(self.bounds),
            )
            if self.aug is None:
                self.aug = {k: torch.empty_like(v).view(self.epochs, -1) for k, v in drawn.items()}
            for key, value in drawn.items():
                self.aug[key].copy_(value.view(self.epochs, -1))
        self.step()

    def _steps(self):
        for epoch in range(self.epochs):
            order = self.keys[epoch].argsort()
            for start, stop in self.bounds:
                index = order[start:stop]
                xb = self.x[index]
                if self.dsa is not None:
                    xb = self.dsa.apply(xb, {k: v[epoch, start:stop] for k, v in self.aug.items()})
                if self.autocast is None:
                    logits = self.forward(xb)
                else:
                    with self.autocast():
                        logits = self.forward(xb)
                loss = F.cross_entropy(logits.float(), self.y[index])
                grads = torch.autograd.grad(loss, self.params)
                with torch.no_grad():
                    if self.buffers:
                        torch._foreach_mul_(self.buffers, self.momentum)
                        torch._foreach_add_(self.buffers, grads)
                        torch._foreach_add_(self.params, self.buffers, alpha=-self.lr)
                    else:
                        torch._foreach_add_(self.params, grads, alpha=-self.lr)


def _module_grad(net, forward):
    """``grad(params, x, y)``: the cross-entropy gradient through ``forward`` (the network
    itself, compiled), as a dict like ``torch.func.grad``'s, for ``net``'s own parameters."""
    names, tensors = zip(*net.named_parameters())

    def gradient(params, x, y):
        with torch.enable_grad():
            loss = F.cross_entropy(forward(x).float(), y)
            return dict(zip(names, torch.autograd.grad(loss, tensors)))

    return gradient


def _has_batch_statistics(net) -> bool:
    """Whether ``net`` normalises with statistics over the batch (BatchNorm)."""
    return any(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in net.modules())


class _ClassBatches:
    """Random real batches for every class at once, drawn on the device.

    Each call returns indices ``(n_classes, width)`` into the data and a
    0/1 weight marking real entries: class c gets ``min(n_c, batch)``
    distinct random images, padded with weight 0 up to ``width``.
    """

    def __init__(self, y, n_classes, batch, generator):
        counts = torch.bincount(y, minlength=n_classes)
        n_max = int(counts.max())
        order = torch.argsort(y, stable=True)
        starts = torch.cumsum(counts, 0) - counts
        cols = torch.arange(n_max, device=y.device)
        self.valid = cols[None, :] < counts[:, None]
        table = starts[:, None] + cols[None, :].clamp(max=n_max - 1)
        table = torch.minimum(table, (starts + counts - 1)[:, None])
        self.table = order[table]
        self.width = min(int(batch), n_max)
        self.sizes = [min(int(n), int(batch)) for n in counts.tolist()]
        self.weight = (
            torch.arange(self.width, device=y.device)[None, :] < counts.clamp(max=batch)[:, None]
        ).float()
        self.generator = generator
        by_size = {}
        for c, size in enumerate(self.sizes):
            by_size.setdefault(size, []).append(c)
        self.buckets = [
            (size, torch.tensor(members, device=y.device))
            for size, members in sorted(by_size.items(), reverse=True)
        ]

    def sample(self):
        keys = torch.rand(self.valid.shape, generator=self.generator, device=self.valid.device)
        keys = torch.where(self.valid, keys, 2.0)
        pick = keys.argsort(dim=1)[:, : self.width]
        return self.table.gather(1, pick), self.weight
