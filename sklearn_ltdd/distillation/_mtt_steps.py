"""The iteration of trajectory matching: the unrolled student, its loss and the updates."""

from __future__ import annotations

import contextlib

import torch
import torch.nn.functional as F

from ._graphs import GraphedStep


class _StudentIteration:
    """One MTT iteration on static tensors: the unrolled student, the loss, the updates.

    A student starts from an expert's snapshot and takes ``syn_steps`` SGD
    steps on (batches of) the augmented synthetic images with the learnable
    step size; the normalised distance to the expert's later snapshot is
    back-propagated to the images and the step size, which then take one
    SGD step with momentum 0.5 (as ``torch.optim.SGD`` computes it: buffers
    that start at zero equal its first-step copy). :meth:`run` copies the
    snapshots in and draws the iteration's random numbers (the batch
    permutations, split into ``batch`` chunks taken from the end as the
    reference does, and the DSA parameters of every step) into static
    buffers; the rest is a fixed sequence of kernels, run eagerly or
    captured as one CUDA graph (:class:`GraphedStep`).
    """

    def __init__(
        self,
        forward,
        flat,
        syn,
        y_syn,
        start_lr,
        syn_steps,
        batch,
        lr_img,
        lr_lr,
        dsa,
        generator,
        syn_momentum,
        lr_momentum,
        graphs,
        autocast=None,
    ):
        device = syn.device
        self.autocast = autocast or contextlib.nullcontext
        self.forward, self.flat, self.y_syn, self.dsa, self.generator = (
            forward,
            flat,
            y_syn,
            dsa,
            generator,
        )
        self.syn = syn.detach().clone().requires_grad_(True)
        self.syn_lr = torch.tensor(float(start_lr), device=device, requires_grad=True)
        self.syn_momentum = (
            torch.zeros_like(self.syn)
            if syn_momentum is None
            else torch.as_tensor(syn_momentum, device=device).clone()
        )
        self.lr_momentum = (
            torch.zeros_like(self.syn_lr)
            if lr_momentum is None
            else torch.as_tensor(lr_momentum, device=device, dtype=torch.float32)
            .clone()
            .reshape(())
        )
        self.lr_img, self.lr_lr = float(lr_img), float(lr_lr)
        n_syn = syn.shape[0]
        self.syn_steps, self.batch = int(syn_steps), int(batch)
        self.full = batch == n_syn
        # The chunks each step takes: permutation p, rows [lo, hi).
        bounds = [(lo, min(lo + batch, n_syn)) for lo in range(0, n_syn, batch)]
        self.plan = [
            (k // len(bounds), bounds[len(bounds) - 1 - k % len(bounds)])
            for k in range(self.syn_steps)
        ]
        n_perms = 0 if self.full else self.plan[-1][0] + 1
        self.keys = torch.zeros(n_perms, n_syn, device=device)
        self.start = torch.zeros(flat.n_params, device=device)
        self.target = torch.zeros(flat.n_params, device=device)
        self.loss = torch.zeros((), device=device)
        width = max(hi - lo for _, (lo, hi) in self.plan)
        self.groups = torch.arange(self.syn_steps, device=device).repeat_interleave(width)
        self.width = width
        self.aug = None
        self.graphed = GraphedStep(
            self._iteration,
            [self.syn, self.syn_lr, self.syn_momentum, self.lr_momentum],
            graphs,
            "TrajectoryMatchingDistiller iteration",
        )

    def run(self, start, target):
        self.start.copy_(start, non_blocking=True)
        self.target.copy_(target, non_blocking=True)
        if self.keys.numel():
            torch.rand(self.keys.shape, generator=self.generator, out=self.keys)
        if self.dsa is not None:
            drawn = self.dsa.sample(
                self.groups.numel(), self.generator, self.syn.device, self.groups, self.syn_steps
            )
            if self.aug is None:
                self.aug = {
                    k: torch.empty_like(v).view(self.syn_steps, -1) for k, v in drawn.items()
                }
            for key, value in drawn.items():
                self.aug[key].copy_(value.view(self.syn_steps, -1))
        self.graphed()

    def _student_grad(self, w, x, y):
        """Gradient of the student's loss, kept differentiable (create_graph)."""
        with self.autocast():
            logits = self.forward(self.flat.unflatten(w), x)
        loss = F.cross_entropy(logits.float(), y)
        return torch.autograd.grad(loss, w, create_graph=True)[0]

    def _iteration(self):
        w = self.start.clone().requires_grad_(True)
        orders = self.keys.argsort(dim=1) if self.keys.numel() else None
        for k, (perm, (lo, hi)) in enumerate(self.plan):
            if self.full:
                xb, yb = self.syn, self.y_syn
            else:
                chosen = orders[perm, lo:hi]
                xb, yb = self.syn[chosen], self.y_syn[chosen]
            if self.dsa is not None:
                xb = self.dsa.apply(xb, {key: v[k, : xb.shape[0]] for key, v in self.aug.items()})
            w = w - self.syn_lr * self._student_grad(w, xb, yb)
        loss = ((w - self.target) ** 2).sum() / ((self.start - self.target) ** 2).sum()
        g_syn, g_lr = torch.autograd.grad(loss, [self.syn, self.syn_lr])
        with torch.no_grad():
            self.syn_momentum.mul_(0.5).add_(g_syn)
            self.syn.add_(self.syn_momentum, alpha=-self.lr_img)
            self.lr_momentum.mul_(0.5).add_(g_lr)
            self.syn_lr.add_(self.lr_momentum, alpha=-self.lr_lr)
            self.loss.copy_(loss)
