"""Gradient matching (DC, Zhao et al. 2021) with optional DSA (Zhao & Bilen 2021)."""

from __future__ import annotations

import numbers

import torch
from sklearn.utils import check_scalar
from torch.func import grad, vmap

from ..augmentation import DSA
from ..nets._modules import ConvNet
from ..utils._batching import activation_size
from ..utils._validation import check_option
from ._base import BaseDistiller
from ._functional import make_loss, parameters_of
from ._gm_matching import DISTANCES, ClassGradientsMixin
from ._gm_steps import _ClassBatches, _has_batch_statistics, _InnerTraining, _module_grad
from ._graphs import CUDA_GRAPH_OPTIONS, resolve_cuda_graphs

#: Activations per image (first block) from which the CPU computes the synthetic
#: gradients class by class rather than in one vmap (see ``batch_classes``).
SYN_LOOP_ACTIVATION = 32768

#: DC's ``get_loops``: ipc -> (outer_loop, inner_loop).
DC_LOOPS = {1: (1, 1), 10: (10, 50), 20: (20, 25), 30: (30, 20), 40: (40, 15), 50: (50, 10)}


def default_loops(ipc: int) -> tuple[int, int]:
    """DC's outer/inner loop counts for ``ipc``.

    The reference defines 1, 10, 20, 30, 40 and 50 images per class and
    stops otherwise; here other values take ``outer_loop = ipc`` and the
    inner loop of the nearest of 10, 20, 30, 40, 50 (the smaller on ties;
    ipc=1's inner loop never runs, as its single round ends the iteration).

    Examples
    --------
    >>> default_loops(10), default_loops(5), default_loops(100)
    ((10, 50), (5, 50), (100, 10))
    """
    if ipc in DC_LOOPS:
        return DC_LOOPS[ipc]
    nearest = min((k for k in DC_LOOPS if k >= 10), key=lambda k: (abs(k - ipc), k))
    return ipc, DC_LOOPS[nearest][1]


#: The augmentation names accepted besides a configured DSA instance.
AUGMENTATIONS = (None, "dsa")


class GradientMatchingDistiller(ClassGradientsMixin, BaseDistiller):
    """Condense a labelled image set by gradient matching (DC / DSA).

    Each of ``n_iterations`` starts from a freshly initialised network. In
    ``outer_loop`` rounds, the gradient of the loss on a real batch of each
    class (up to ``batch_real`` images; all of them for a smaller class) is
    matched by the gradient on that class's synthetic images, and the
    images take one SGD step on the summed distance; between rounds the
    network trains ``inner_loop`` epochs on the synthetic set. With
    ``augmentation="dsa"`` the real and synthetic batch of a class go
    through the same random transformation (Siamese augmentation) before
    matching, and the inner training is augmented too.

    The defaults are those of the official code (VICO-UoE/DatasetCondensation,
    ``main.py``) and of its README's commands: 1000 iterations, image SGD
    at 0.1 with momentum 0.5, network SGD at 0.01 without momentum (the
    code since its DSA release; the first release used momentum 0.5), real
    batches of 256, DC's loops per ipc and its layer-wise distance. DC
    starts from noise (``main.py``'s default); DSA from real images, as the
    README's DSA command does (``--init real``), with its strategy
    ``color_crop_cutout_flip_scale_rotate``. ``init="auto"`` picks between
    the two. All classes are matched in one batched (``torch.func.vmap``)
    step rather than a Python loop over classes; the arithmetic is the same.

    Parameters
    ----------
    ipc : int, default=10
        Synthetic images per class.
    n_iterations : int, default=1000
        Outer iterations, each with a fresh random network.
    outer_loop, inner_loop : int or "auto", default="auto"
        Matching rounds per iteration, and training epochs of the network on
        the synthetic set between rounds; "auto" uses DC's table
        (:func:`default_loops`).
    lr_img : float, default=0.1
        Learning rate of the images (SGD, momentum 0.5).
    lr_net : float, default=0.01
        Learning rate of the network's inner training (SGD).
    momentum_net : float, default=0.0
        Momentum of the network's inner training: none, as in the official
        code since its DSA release (0.5 reproduces the first DC release).
    batch_real : int, default=256
        Real images per class and matching round.
    batch_net : int, default=256
        Batch size of the inner training on the synthetic set.
    distance : {"layerwise", "mse", "cosine"}, default="layerwise"
        Gradient distance: DC's layer-wise sum of 1 - cosine over output
        rows (1-D parameters ignored), squared error, or 1 - cosine of the
        whole flattened gradient.
    init : {"auto", "noise", "real"}, default="auto"
        Start from standard-normal noise or from ``ipc`` real images of each
        class; "auto" follows the official commands: noise for DC
        (``augmentation=None``), real images for DSA. A class with fewer
        than ``ipc`` images starts from all of them plus randomly repeated
        ones with Gaussian noise (standard deviation 0.1 of the data's), so
        that the copies differ.
    augmentation : {None, "dsa"} or DSA, default=None
        None is DC; "dsa" (or a configured :class:`~sklearn_ltdd.augmentation.DSA`)
        is DSA with the DC defaults.
    module : torch module class, builder or name, default=ConvNet
        Network class; its size arguments are inferred from the data.
    **module__<name>
        The network's other constructor arguments, e.g. ``module__width=64``,
        as :class:`~sklearn_ltdd.nets.ConvNetClassifier` takes them (tuned by
        a grid search like any parameter).
    module_params : dict, default=None
        Deprecated (0.2; removed in 0.4): the same arguments as a dict,
        ``{"width": 64}``; a FutureWarning says the ``module__`` spelling.
    batch_classes : {"auto", True, False}, default="auto"
        How the gradients of all classes (real and synthetic) are computed:
        True runs one ``vmap`` over classes (real batches padded to a common
        size with zero weights), False loops over classes; "auto" batches on
        CUDA and loops on the CPU, where the batched convolution backward is
        slower (measured 0.30 s against 0.074 s per ipc=1 iteration on digits,
        width 32, 2 cores; ``benchmarks/distill_speed.py``). The synthetic
        images' gradients (a few images per class, differentiated twice)
        loop over classes on the CPU only for large networks (at least
        32,768 activations per image in the first block, e.g. ConvNet3 of
        width 128 at 32x32); for small ones, such as the demo's width 32 at
        16x16, one ``vmap`` was faster (a single timing on two cores, not a
        committed benchmark). Both give the
        same gradients up to rounding. For a network with batch statistics
        (``norm="batchnorm"``), padding would change the statistics, so the
        batched path then groups classes of equal batch size instead.
    precision : {"fp32", "bf16"}, default="fp32"
        ``"bf16"`` runs every forward pass (real and synthetic gradients,
        the inner training) under bfloat16 autocast; parameters, gradients
        and the matching distance stay float32.
    compile : {False, True, "auto"}, default=False
        Compile the first-order hot loops with ``torch.compile``: the
        network's inner training and the real batches' gradients (on the
        CPU, class by class). The synthetic images' gradient-of-gradient
        stays eager (compilation does not do double backward). "auto"
        compiles where a compiler works; True warns once and runs eagerly
        where none does.
    cuda_graphs : {"auto", True, False}, default="auto"
        Capture the network's inner training between matching rounds
        (``inner_loop`` epochs: 50 sequential steps at ipc=10, most of an
        iteration's time on a GPU, where each step costs its kernel
        launches) as one CUDA graph, replayed once per round. The steps
        draw their random numbers before the round into fixed buffers and
        run the same arithmetic either way, so the result does not depend
        on this switch. "auto" captures on CUDA; if a capture fails, the
        fit goes on eagerly with one ``RuntimeWarning``.
    device : {"auto", "cpu", "cuda"} or str, default="auto"
    random_state : int, RandomState instance or None, default=None
    verbose : int, default=0
        Show a progress bar with the matching loss.
    warm_start : bool, default=False
        Continue from the current synthetic set for ``n_iterations`` more.
    batch_train : deprecated
        Renamed ``batch_net`` in 0.2 (one name across the package); removed in 0.4.

    Attributes
    ----------
    X_syn_ : ndarray of shape (n_classes * ipc, C, H, W)
        The synthetic images, class by class.
    y_syn_ : ndarray of shape (n_classes * ipc,)
    classes_ : ndarray of shape (n_classes,)
    loss_history_ : ndarray of shape (``n_iter_``,)
        Mean matching loss per class and round, per iteration.
    n_iter_ : int
        Iterations run, over all warm starts.
    outer_loop_, inner_loop_ : int
        The loop counts used.
    input_shape_ : tuple of int
    n_features_in_ : int
    device_ : torch.device
    random_seed_ : int
        Seed of the random streams; iteration ``i`` draws from
        ``(random_seed_, i)``, so warm-started chunks continue them.
    resume_state_ : dict
        What a warm start continues from: the images and the image
        optimiser's momentum (see :meth:`save_checkpoint`).
    cuda_graphs_used_ : bool
        Whether the last fit replayed a CUDA graph.

    Notes
    -----
    Differences from the reference code, each with its reason:

    * BatchNorm: the reference freezes BatchNorm during matching at running
      statistics from 16 real images per class; here batch statistics are
      used (pure functions vmap over classes). The default ConvNet has
      instance norm and is unaffected.
    * Randomness comes from ``random_state`` through local generators, one
      stream per iteration; DSA parameters are drawn per class from that
      stream rather than by reseeding the global generator with the clock.

    Examples
    --------
    >>> from sklearn_ltdd.datasets import load_digits_lt
    >>> X, y, _, _ = load_digits_lt(return_X_y=True)
    >>> gm = GradientMatchingDistiller(ipc=1, n_iterations=2, init="real",
    ...                                module__width=8, random_state=0)
    >>> X_syn, y_syn = gm.fit_resample(X, y)
    >>> X_syn.shape, y_syn.tolist()
    ((10, 1, 16, 16), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
    """

    _renamed_params = {"batch_net": "batch_train"}

    def __init__(
        self,
        *,
        ipc=10,
        n_iterations=1000,
        outer_loop="auto",
        inner_loop="auto",
        lr_img=0.1,
        lr_net=0.01,
        momentum_net=0.0,
        batch_real=256,
        batch_net=256,
        distance="layerwise",
        init="auto",
        augmentation=None,
        module=ConvNet,
        module_params=None,
        batch_classes="auto",
        cuda_graphs="auto",
        precision="fp32",
        compile=False,
        micro_batch="auto",
        device="auto",
        random_state=None,
        verbose=0,
        warm_start=False,
        batch_train="deprecated",
        **kwargs,
    ):
        super().__init__(
            ipc=ipc,
            n_iterations=n_iterations,
            module=module,
            module_params=module_params,
            init=init,
            augmentation=augmentation,
            precision=precision,
            compile=compile,
            micro_batch=micro_batch,
            device=device,
            random_state=random_state,
            verbose=verbose,
            warm_start=warm_start,
            **kwargs,
        )
        self.outer_loop = outer_loop
        self.inner_loop = inner_loop
        self.lr_img = lr_img
        self.lr_net = lr_net
        self.momentum_net = momentum_net
        self.batch_real = batch_real
        self.batch_net = batch_net
        self.batch_train = batch_train
        self.distance = distance
        self.batch_classes = batch_classes
        self.cuda_graphs = cuda_graphs

    _initialisations = ("auto", "real", "noise")

    def _evaluation_params(self):
        # DC's main.py: epoch_eval_train 300 without augmentation for DC,
        # 1000 with DSA for DSA, both at lr_net = 0.01; its loop runs
        # range(Epoch + 1), hence 301 and 1001 (see HalfwayStepLR).
        if self.augmentation is None:
            return {"max_epochs": 301, "lr": 0.01, "augmentation": None}
        return {"max_epochs": 1001, "lr": 0.01, "augmentation": "dsa"}

    def _resolved_init(self):
        if self.init == "auto":
            return "noise" if self.augmentation is None else "real"
        return self.init

    def _check_params(self):
        super()._check_params()
        outer, inner = default_loops(self.ipc)
        outer = outer if self.outer_loop == "auto" else self.outer_loop
        inner = inner if self.inner_loop == "auto" else self.inner_loop
        check_scalar(outer, "outer_loop", numbers.Integral, min_val=1)
        check_scalar(inner, "inner_loop", numbers.Integral, min_val=0)
        check_scalar(self.lr_img, "lr_img", numbers.Real, min_val=0, include_boundaries="neither")
        check_scalar(self.lr_net, "lr_net", numbers.Real, min_val=0)
        check_scalar(
            self.momentum_net,
            "momentum_net",
            numbers.Real,
            min_val=0,
            max_val=1,
            include_boundaries="left",
        )
        check_scalar(self.batch_real, "batch_real", numbers.Integral, min_val=1)
        check_scalar(self._param("batch_net"), "batch_net", numbers.Integral, min_val=1)
        check_option(self.distance, DISTANCES, "distance")
        check_option(self.batch_classes, ("auto", True, False), "batch_classes")
        check_option(self.cuda_graphs, CUDA_GRAPH_OPTIONS, "cuda_graphs")
        if not (self.augmentation in AUGMENTATIONS or isinstance(self.augmentation, DSA)):
            raise ValueError(
                f"augmentation must be one of {list(AUGMENTATIONS)} or a DSA "
                f"instance, got {self.augmentation!r}."
            )
        self.outer_loop_, self.inner_loop_ = int(outer), int(inner)

    # -- the method ---------------------------------------------------------------
    def _distill(self, X, y, syn, continuing):
        n_classes, ipc = len(self.classes_), self.ipc
        gen = self._generator
        dsa = (DSA() if self.augmentation == "dsa" else self.augmentation) or None
        sampler = _ClassBatches(y, n_classes, self.batch_real, gen)
        y_syn = self._synthetic_labels(X.device)
        y_syn_cls = y_syn.view(n_classes, ipc)
        class_of_real = torch.arange(n_classes, device=X.device).repeat_interleave(sampler.width)
        ones = torch.ones(n_classes, ipc, device=X.device)
        batched = (X.device.type == "cuda") if self.batch_classes == "auto" else self.batch_classes
        # One network for the whole fit, re-initialised in place every
        # iteration (so a captured graph keeps its memory).
        net = self._factory(0)
        mode = "loop"
        if batched:
            # Zero-weight padding is exact only for per-sample layers: with
            # batch statistics the padded copies would enter the mean and
            # variance. Then classes of equal size share a vmap, unpadded.
            padded = any(size != sampler.width for size in sampler.sizes)
            mode = "buckets" if padded and _has_batch_statistics(net) else "pad"
        loss_fn = make_loss(net, self._micro)
        syn_loop = (
            mode == "loop" and (activation_size(net) or SYN_LOOP_ACTIVATION) >= SYN_LOOP_ACTIVATION
        )
        class_grads = vmap(grad(loss_fn), in_dims=(None, 0, 0, 0))
        real_grad = _module_grad(net, self._accelerated(net)) if self._compile else None
        syn_grad = grad(loss_fn)
        # Detached views of the network's parameters: the matching reads
        # them, the inner training updates them in place.
        params = parameters_of(net)
        inner = None
        if self.outer_loop_ > 1 and self.inner_loop_ > 0:
            inner = _InnerTraining(
                net,
                syn.shape,
                y_syn,
                self.inner_loop_,
                self._param("batch_net"),
                self.lr_net,
                self.momentum_net,
                dsa,
                gen,
                resolve_cuda_graphs(self.cuda_graphs, X.device),
                self._accelerated(net),
                self._autocast,
            )

        syn = syn.clone().requires_grad_(True)
        optimizer = torch.optim.SGD([syn], lr=self.lr_img, momentum=0.5)
        if continuing:
            self._restore_momentum(optimizer, syn, self.resume_state_.get("syn_momentum"))
        distance = DISTANCES[self.distance]
        losses = torch.zeros(self.n_iterations, device=X.device)
        seeds = self._iteration_seeds(self.n_iterations)
        bar = self._progress(self.n_iterations, "gradient matching")
        for it in bar:
            _, net_seed, stream_seed = seeds[it]
            gen.manual_seed(stream_seed)
            with torch.no_grad():
                torch._foreach_copy_(
                    list(net.parameters()), list(self._factory(net_seed).parameters())
                )
            if inner is not None:
                inner.reset()
            for round_ in range(self.outer_loop_):
                index, weight = sampler.sample()
                x_real = X[index]  # (classes, width, ...)
                x_syn = syn.view(n_classes, ipc, *syn.shape[1:])
                if dsa is not None:
                    aug = dsa.sample(n_classes, gen, X.device)
                    x_real = dsa.apply(x_real.flatten(0, 1), aug, class_of_real).view_as(x_real)
                    x_syn = dsa.apply(x_syn.flatten(0, 1), aug, y_syn).view_as(x_syn)
                with torch.no_grad(), self._autocast():
                    g_real = self._real_grads(
                        loss_fn,
                        class_grads,
                        params,
                        x_real,
                        y[index],
                        weight,
                        sampler,
                        mode,
                        real_grad,
                    )
                with self._autocast():
                    g_syn = self._syn_grads(
                        class_grads, syn_grad, params, x_syn, y_syn_cls, ones, syn_loop
                    )
                loss = distance(g_syn, g_real)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                losses[it] += loss.detach()
                if round_ == self.outer_loop_ - 1:
                    break
                inner.run(syn.detach())
            if self.verbose and it % 10 == 0:
                bar.set_postfix(loss=float(losses[it]) / (n_classes * self.outer_loop_))
            if self._check_due(it):
                self._check_finite(losses, it, syn)
        self.cuda_graphs_used_ = inner is not None and inner.step.captured
        self._opt_state = {"syn_momentum": self._momentum_of(optimizer, syn)}
        losses = losses / (n_classes * self.outer_loop_)
        return syn.detach(), losses.cpu().tolist()
