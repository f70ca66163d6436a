"""Expert trajectories for trajectory matching: their training, and the distiller's experts."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from joblib import Memory
from sklearn.utils.validation import check_memory
from torch.func import grad, vmap
from tqdm.auto import tqdm

from ..augmentation import DSA
from ..utils import resolve_device
from ..utils._acceleration import (
    autocast,
    check_compile,
    check_precision,
    compiled_functional,
    resolve_compile,
)
from ..utils._batching import (
    activation_size,
    has_batch_statistics,
    micro_batched,
    resolve_micro_batch,
)
from ._functional import FlatParameters, ModuleFactory, make_loss, stack_params
from ._iterations import _EXPERT_PASS, _EXPERTS


def train_expert_trajectories(
    X,
    y,
    *,
    module,
    module_kwargs,
    n_experts,
    epochs,
    lr,
    batch_size,
    augmentation,
    seed,
    device="cpu",
    n_parallel="auto",
    n_jobs=None,
    precision="fp32",
    compile=False,
    micro_batch="auto",
    verbose=0,
):
    """Train ``n_experts`` networks with plain SGD and record their parameters.

    Each expert starts from its own random initialisation and runs
    ``epochs`` epochs over ``(X, y)`` in its own random batch order, with
    SGD at a constant ``lr`` (no momentum, no weight decay) and, when
    ``augmentation`` is a :class:`~sklearn_ltdd.augmentation.DSA`, one
    randomly chosen DSA operation per batch with per-image parameters (the
    reference ``buffer.py``), drawn for the whole epoch at its start. On
    CUDA, ``n_parallel`` experts train together in one ``torch.func.vmap``;
    on the CPU they train in turn. Every expert's seeds are drawn from
    ``seed`` up front and every expert draws from a random stream of its
    own, so the trajectories do not depend on how many experts train
    together, nor on how the work is split into parallel tasks (bit for bit
    where every process runs the same number of intra-op threads: torch's
    CPU reductions round differently with another thread count: up to
    7.6e-5 in the parameters after 3 epochs in ``benchmarks/scale_out.py``).

    Parameters
    ----------
    X : ndarray of shape (n, ...), float32
    y : ndarray of shape (n,), int labels in ``[0, n_classes)``
    module : torch module class
    module_kwargs : dict
        Constructor arguments (sizes included).
    n_experts, epochs : int
    lr : float
    batch_size : int
    augmentation : DSA or None
    seed : int
        Drives initialisations, batch orders and augmentation.
    device : str or torch.device, default="cpu"
        Where the experts train; "auto" is resolved where each task runs
        (on a Dask worker: that worker's GPU, if it has one).
    n_parallel : int or "auto", default="auto"
        Experts trained together in one vmap: "auto" is 25 on CUDA and 1
        (a plain loop, faster there) on the CPU.
    n_jobs : int or None, default=None
        Train the experts in this many parallel joblib tasks (None: one
        task, in this process; -1: all processors). Tasks run wherever
        joblib sends them: local processes by default, the workers of a
        Dask cluster under ``joblib.parallel_config(backend="dask")``.
    precision : {"fp32", "bf16"}, default="fp32"
        ``"bf16"``: forward passes under bfloat16 autocast.
    compile : {False, True, "auto"}, default=False
        Compile each expert's forward and backward (one expert at a time,
        the CPU's path), once per architecture.
    micro_batch : "auto", int or None, default="auto"
        Forward passes of that many images, the loss over the whole batch
        (:func:`~sklearn_ltdd.utils._batching.resolve_micro_batch`: on the
        CPU, 16 images, or 64 compiled).
    verbose : int, default=0

    Returns
    -------
    trajectories : ndarray of shape (n_experts, epochs + 1, n_params), float32
        Flat parameter vectors after 0, 1, ..., ``epochs`` epochs, in the
        order of ``module.named_parameters()``.
    """
    rng = np.random.RandomState(seed % 2**32)
    init_seeds = rng.randint(2**31 - 1, size=n_experts)
    stream_seeds = rng.randint(2**31 - 1, size=n_experts)
    X = np.asarray(X, dtype=np.float32)
    check_precision(precision)
    check_compile(compile)
    task = dict(
        module=module,
        module_kwargs=module_kwargs,
        epochs=epochs,
        lr=lr,
        batch_size=batch_size,
        augmentation=augmentation,
        device=device,
        n_parallel=n_parallel,
        precision=precision,
        compile=compile,
        micro_batch=micro_batch,
    )
    if n_jobs is None or n_jobs == 1:
        return _train_experts(X, y, init_seeds, stream_seeds, verbose=verbose, **task)
    from joblib import Parallel, delayed, effective_n_jobs

    n_tasks = max(1, min(n_experts, effective_n_jobs(n_jobs)))
    parts = np.array_split(np.arange(n_experts), n_tasks)
    results = Parallel(n_jobs=n_jobs)(
        delayed(_train_experts)(X, y, init_seeds[part], stream_seeds[part], verbose=0, **task)
        for part in parts
        if len(part)
    )
    return np.concatenate(results)


def _train_experts(
    X,
    y,
    init_seeds,
    stream_seeds,
    *,
    module,
    module_kwargs,
    epochs,
    lr,
    batch_size,
    augmentation,
    device,
    n_parallel,
    precision,
    compile,
    micro_batch,
    verbose,
):
    """The experts of the given seeds, in this process (one joblib task)."""
    device = resolve_device(device)
    n_experts = len(init_seeds)
    X_t = torch.as_tensor(X, device=device)
    y_t = torch.as_tensor(y, device=device, dtype=torch.long)
    n_classes = int(module_kwargs.get("n_classes", int(y_t.max()) + 1))
    factory = ModuleFactory(module, tuple(X.shape[1:]), n_classes, module_kwargs, device)
    if n_parallel == "auto":
        n_parallel = 25 if device.type == "cuda" else 1
    chunk = max(1, int(n_parallel))
    # Compiled one expert at a time (the CPU's path): a vmap over compiled code is not.
    compiled = resolve_compile(compile, device) and chunk == 1
    out, flat = None, None
    bar = tqdm(
        total=n_experts * epochs, desc="expert trajectories", disable=not verbose, leave=False
    )
    for first in range(0, n_experts, chunk):
        nets = [factory(int(s)) for s in init_seeds[first : first + chunk]]
        generators = [
            torch.Generator(device=device).manual_seed(int(s))
            for s in stream_seeds[first : first + chunk]
        ]
        params = stack_params(nets)
        if flat is None:
            flat = FlatParameters({k: v[0] for k, v in params.items()})
            out = np.empty((n_experts, epochs + 1, flat.n_params), dtype=np.float32)
        snapshots = [flat.flatten(params)]
        micro = resolve_micro_batch(
            micro_batch, device, compiled, has_batch_statistics(nets[0]), activation_size(nets[0])
        )
        micro = micro if len(nets) == 1 else None  # a vmap over experts: whole batches
        loss_fn = make_loss(nets[0], micro)
        if compiled or precision != "fp32":
            loss_fn = _accelerated_loss(nets[0], compiled, precision, device, micro)
        for _ in range(epochs):
            params = _train_epoch(
                loss_fn,
                params,
                X_t,
                y_t,
                lr,
                batch_size,
                augmentation,
                generators,
                step=loss_fn.grad if hasattr(loss_fn, "grad") else None,
            )
            snapshots.append(flat.flatten(params))
            bar.update(len(nets))
        out[first : first + len(nets)] = torch.stack(snapshots, dim=1).cpu().numpy()
    bar.close()
    return out


def _accelerated_loss(net, compiled, precision, device, micro=None):
    """The cross-entropy of a network's functional forward, compiled and/or under autocast;
    ``.grad(params, x, y)`` gives its gradient (first order: the compiled backward)."""
    forward = compiled_functional(net, compiled, "train_expert_trajectories")
    buffers = {k: v.detach() for k, v in net.named_buffers()}

    def loss(params, x, y):
        with autocast(precision, device):
            logits = micro_batched(lambda part: forward(params, buffers, part), x, micro)
        return F.cross_entropy(logits.float(), y)

    def gradient(params, x, y):
        leaves = {k: v.detach().requires_grad_() for k, v in params.items()}
        with torch.enable_grad():
            grads = torch.autograd.grad(loss(leaves, x, y), list(leaves.values()))
        return dict(zip(leaves, grads))

    loss.grad = gradient
    return loss


def _train_epoch(loss_fn, params, X, y, lr, batch_size, augmentation, generators, step=None):
    """One epoch of SGD for a stack of experts (leading dimension of params).

    Expert ``e`` shuffles and augments with ``generators[e]``: its batch
    order and, with DSA, every batch's operation and every image's
    parameters are drawn once at the start of the epoch from its own
    stream, so its trajectory does not depend on which experts train with
    it, and the batches themselves draw nothing. More than one expert
    trains in one ``vmap`` over the stacked parameters.
    """
    n_experts = len(generators)
    n = X.shape[0]
    order = torch.stack([torch.randperm(n, generator=g, device=X.device) for g in generators])
    aug = None
    if isinstance(augmentation, DSA):
        batch_of = torch.arange(n, device=X.device) // batch_size
        n_batches = -(-n // batch_size)
        rows = [augmentation.sample(n, g, X.device, batch_of, n_batches) for g in generators]
        aug = {key: torch.stack([r[key] for r in rows]) for key in rows[0]}  # (experts, n)
    batched_step = vmap(grad(loss_fn), in_dims=(0, 0, 0)) if n_experts > 1 else None
    step = grad(loss_fn) if step is None else step
    for start in range(0, n, batch_size):
        index = order[:, start : start + batch_size]
        xb, yb = X[index], y[index]  # (experts, batch, ...)
        if aug is not None:
            rows = {
                key: value[:, start : start + batch_size].reshape(-1) for key, value in aug.items()
            }
            xb = augmentation.apply(xb.flatten(0, 1), rows).view_as(xb)
        if batched_step is not None:
            g = batched_step(params, xb, yb)
        else:
            g = {
                k: v[None]
                for k, v in step({k: v[0] for k, v in params.items()}, xb[0], yb[0]).items()
            }
        params = {k: v - lr * g[k] for k, v in params.items()}
    return params


class ExpertsMixin:
    """Trajectory matching's experts: given, cached or trained, and read from a buffer."""

    def _dsa(self):
        """The augmentation of the experts' training and of the student's batches."""
        return DSA() if self.augmentation == "dsa" else self.augmentation

    def _expert_trajectories(self, X, y, seed):
        """The parameter ``experts`` checked, or :func:`train_expert_trajectories` on
        ``(X, y)`` (through ``memory``'s cache, where it has a location)."""
        s = self.settings_
        if self.experts is not None:
            experts = np.asarray(self.experts, dtype=np.float32)
            if (
                experts.ndim != 3
                or experts.shape[1] < s["max_start_epoch"] + s["expert_epochs"] + 1
            ):
                raise ValueError(
                    f"experts must have shape (n_experts, epochs + 1, n_params) "
                    f"with at least max_start_epoch + expert_epochs + 1 = "
                    f"{s['max_start_epoch'] + s['expert_epochs'] + 1} snapshots; "
                    f"got {experts.shape}."
                )
            return experts
        train = train_expert_trajectories
        memory = check_memory(self.memory)
        if isinstance(memory, Memory) and memory.location is not None:
            train = memory.cache(train, ignore=["device", "n_parallel", "n_jobs", "verbose"])
        return train(
            X.cpu().numpy(),
            y.cpu().numpy(),
            module=self.module,
            module_kwargs=dict(self._factory.kwargs),
            n_experts=self.n_experts,
            epochs=s["trajectory_epochs"],
            lr=float(self._param("lr_net")),
            batch_size=self._param("batch_net"),
            augmentation=self._dsa(),
            seed=seed,
            device=str(self.device_) if self.n_jobs in (None, 1) else self.device,
            n_jobs=self.n_jobs,
            precision=self.precision,
            compile=self.compile,
            micro_batch=self.micro_batch,
            verbose=self.verbose,
        )

    def _fit_experts(self, X, y, continuing):
        """The trajectories of this fit: a warm start reuses the fitted ones (unless
        ``experts`` is given); otherwise :meth:`_expert_trajectories`."""
        previous = getattr(self, "experts_", None) if continuing else None
        if previous is not None and self.experts is None:
            return previous
        return self._expert_trajectories(X, y, self._derived_seed(_EXPERTS))

    def _expert_buffer(self, experts, device):
        """``experts`` as a tensor to copy snapshots from: on CUDA, page-locked once per
        expert set (kept in ``_pinned_experts``), not on every (warm-started) fit."""
        pinned = torch.from_numpy(experts)
        if device.type == "cuda":
            cached = getattr(self, "_pinned_experts", None)
            if cached is None or cached[0] is not experts:
                cached = (experts, pinned.pin_memory())
                self._pinned_experts = cached
            pinned = cached[1]
        return pinned

    def _expert_of(self, index, n_experts):
        """The expert iteration ``index`` reads: shuffled passes over the buffer.

        As the reference ``distill.py`` does (it shuffles its buffer and
        walks through it, reshuffling at the end), every expert is used
        once per pass; pass ``p`` is shuffled from ``(random_seed_, p)``.
        """
        passes, position = divmod(index, n_experts)
        order = np.random.default_rng(self._derived_seed(_EXPERT_PASS, passes)).permutation(
            n_experts
        )
        return int(order[position])

    def __getstate__(self):
        state = super().__getstate__()
        state.pop("_pinned_experts", None)  # a page-locked copy of experts_
        return state
