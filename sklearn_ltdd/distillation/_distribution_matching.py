"""Distribution matching (DM, Zhao & Bilen 2023) and its improvement IDM (Zhao et al. 2023)."""

from __future__ import annotations

import numbers

import torch
import torch.nn.functional as F
from sklearn.utils import check_scalar

from ..augmentation import DSA
from ..augmentation._tiles import expand_tiles
from ..augmentation._tiles import tile_images as _tile
from ..nets._modules import ConvNet
from ..utils._validation import check_option
from ._base import BaseDistiller
from ._dm_networks import NetworkQueueMixin
from ._gm_steps import _ClassBatches

#: Settings of each method's documented command (DM: the DatasetCondensation
#: README's ``main_DM.py`` command; IDM: ``command.txt`` of uitrbn/IDM).
METHOD_DEFAULTS = {
    "dm": {
        "lr_img": 1.0,
        "expansion": False,
        "n_networks": 0,
        "ce_weight": 0.0,
        "class_steps": False,
    },
    "idm": {
        "lr_img": 0.2,
        "expansion": True,
        "n_networks": 100,
        "ce_weight": 0.5,
        "class_steps": True,
    },
}
BALANCES = (None, "sampling", "logit_adjusted")


class DistributionMatchingDistiller(NetworkQueueMixin, BaseDistiller):
    """Condense a labelled image set by distribution matching (DM or IDM).

    **DM** (Zhao & Bilen, WACV 2023): every iteration a network is drawn
    (by default a freshly initialised one, its weights frozen); a real batch
    of every class and that class's synthetic images go through the same
    DSA transformation and the network's penultimate features
    (``module.embed``, 2,048-d for ConvNet3), and the loss is the sum over
    classes of the squared distance between the mean real and the mean
    synthetic embedding. The images take one SGD step (momentum 0.5) per
    iteration. No inner training loop: an iteration is one forward pass of
    the real and synthetic images.

    **IDM** (Zhao et al., "Improved Distribution Matching", CVPR 2023),
    ``method="idm"``, adds three things, each also a parameter:

    * *partition and expansion* (``expansion``): each stored image holds
      four half-resolution images in its quadrants, upsampled for matching
      and for output, so ``ipc`` stored images per class give ``4 * ipc``
      training images (``fit_resample`` returns those; ``ipc`` counts what
      is stored). Initialisation fills each quadrant with a different real
      image at half resolution;
    * a *queue of networks* (``n_networks``) trained as distillation goes
      on: it starts with 3 random networks, gains one every
      ``network_interval`` iterations (dropping the oldest beyond
      ``n_networks``), and after each iteration ``networks_trained``
      networks drawn from it take ``network_steps`` SGD steps on real
      batches (lr ``lr_net``, momentum 0.9, weight decay 5e-4); each
      iteration matches on one network drawn from the queue;
    * a *class-aware cross-entropy* regulariser (``ce_weight``): the
      synthetic images of a class should be classified as that class by
      the matching network, weighted by that network's running accuracy
      on its real training batches (in percent, as the reference code
      does, reset every 100 iterations);

    and, as the reference, takes one image step per class (``class_steps``).

    **Long-tail-aware option** (``balance``, this package's): the queue's
    networks are trained on the long-tailed real data, so they are biased
    towards head classes; ``balance="sampling"`` trains them on
    class-balanced batches, ``balance="logit_adjusted"`` with the
    logit-adjusted loss (Menon et al. 2021), so that the features the
    synthetic images are matched in are not dominated by head classes.

    Parameters
    ----------
    ipc : int, default=10
        Synthetic images per class (stored; see ``expansion``).
    n_iterations : int, default=20000
        Iterations (both official codes' default).
    method : {"dm", "idm"}, default="dm"
        Which method's defaults the "auto" parameters take.
    lr_img : float or "auto", default="auto"
        Image learning rate (SGD, momentum 0.5): 1.0 for DM (its README),
        0.2 for IDM (its command).
    batch_real : int, default=256
        Real images per class and iteration (all of a smaller class).
    expansion : bool or "auto", default="auto"
        Partition and expansion (IDM's ``--aug``): on for IDM.
    n_networks : int or "auto", default="auto"
        Size of the network queue; 0 draws a fresh random network every
        iteration (DM). "auto": 0 for DM, 100 for IDM.
    network_interval : int, default=30
        Iterations between two new networks in the queue.
    network_steps : int, default=10
        SGD steps of each trained queue network per iteration.
    networks_trained : int, default=2
        Queue networks trained per iteration.
    lr_net : float, default=0.01
        Learning rate of the queue networks.
    batch_net : int, default=256
        Real images per training step of a queue network.
    ce_weight : float or "auto", default="auto"
        Weight of the class-aware cross-entropy: 0 for DM, for IDM 0.5
        (0.1 from ipc 50 on, as its commands).
    class_steps : bool or "auto", default="auto"
        One image step per class (IDM's code) or one for all (DM's).
    balance : {None, "sampling", "logit_adjusted"}, default=None
        How the queue's networks are trained on the long-tailed data (see
        above); None as the reference (batches drawn uniformly from all
        images, cross-entropy).
    init : {"real", "noise"}, default="real"
        Both commands start from real images.
    augmentation : {"dsa", None} or DSA, default="dsa"
        The same transformation for a class's real and synthetic batch.
    precision : {"fp32", "bf16"}, default="fp32"
        ``"bf16"``: the embeddings under bfloat16 autocast (the distances in
        float32).
    compile : {False, True, "auto"}, default=False
        Compile the embedding of the real and the synthetic batches (first
        order: the whole matching step), once per architecture, shared by
        the fresh network of every iteration.
    module, module__<name>, module_params, device, random_state, verbose, warm_start
        As in :class:`GradientMatchingDistiller`; the module needs an
        ``embed`` method (ConvNet and MLP have one).
    network_batch : deprecated
        Renamed ``batch_net`` in 0.2 (one name across the package); removed in 0.4.

    Attributes
    ----------
    X_syn_ : ndarray of shape (n_classes * images per class, C, H, W)
        The training images: ``ipc`` per class, or ``4 * ipc`` expanded.
    y_syn_, classes_, loss_history_, n_iter_, random_seed_, resume_state_
        As in :class:`GradientMatchingDistiller`; ``resume_state_["syn"]``
        holds the stored (unexpanded) images.
    settings_ : dict
        The resolved "auto" settings.
    network_accuracy_ : list of float
        Running accuracy (%) of each queue network on its real batches.

    Notes
    -----
    Differences from the official code: its networks are reseeded from the
    clock; here every network, batch and transformation comes from
    ``random_state`` (one stream per iteration, one per queue network and
    one for the queue's training, so a continued fit replays the queue
    exactly). The reference puts the matching network in eval mode; the
    package's networks normalise with batch statistics either way (instance
    norm by default). A continued fit in another process (a checkpoint)
    rebuilds the queue by replaying its training, which costs
    ``networks_trained * network_steps`` steps per past iteration.

    Examples
    --------
    >>> from sklearn_ltdd.datasets import load_digits_lt
    >>> X, y, _, _ = load_digits_lt(return_X_y=True)
    >>> dm = DistributionMatchingDistiller(ipc=2, n_iterations=3, module__width=8,
    ...                                    random_state=0)
    >>> dm.fit_resample(X, y)[0].shape
    (20, 1, 16, 16)
    >>> idm = DistributionMatchingDistiller(method="idm", ipc=2, n_iterations=3,
    ...                                     module__width=8, random_state=0)
    >>> idm.fit_resample(X, y)[0].shape                  # 4 images from each stored one
    (80, 1, 16, 16)
    """

    _renamed_params = {"batch_net": "network_batch"}

    def __init__(
        self,
        *,
        ipc=10,
        n_iterations=20000,
        method="dm",
        lr_img="auto",
        batch_real=256,
        expansion="auto",
        n_networks="auto",
        network_interval=30,
        network_steps=10,
        networks_trained=2,
        lr_net=0.01,
        batch_net=256,
        ce_weight="auto",
        class_steps="auto",
        balance=None,
        init="real",
        augmentation="dsa",
        module=ConvNet,
        module_params=None,
        precision="fp32",
        compile=False,
        micro_batch="auto",
        device="auto",
        random_state=None,
        verbose=0,
        warm_start=False,
        network_batch="deprecated",
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
        self.method = method
        self.lr_img = lr_img
        self.batch_real = batch_real
        self.expansion = expansion
        self.n_networks = n_networks
        self.network_interval = network_interval
        self.network_steps = network_steps
        self.networks_trained = networks_trained
        self.lr_net = lr_net
        self.batch_net = batch_net
        self.network_batch = network_batch
        self.ce_weight = ce_weight
        self.class_steps = class_steps
        self.balance = balance

    # -- parameters ------------------------------------------------------------------
    def _check_params(self):
        super()._check_params()
        check_option(self.method, METHOD_DEFAULTS, "method")
        table = dict(METHOD_DEFAULTS[self.method])
        if self.method == "idm" and self.ipc >= 50:
            table["ce_weight"] = 0.1
        s = self._resolve_auto(
            table, ("lr_img", "expansion", "n_networks", "ce_weight", "class_steps")
        )
        check_scalar(s["lr_img"], "lr_img", numbers.Real, min_val=0, include_boundaries="neither")
        check_scalar(s["ce_weight"], "ce_weight", numbers.Real, min_val=0)
        check_scalar(s["n_networks"], "n_networks", numbers.Integral, min_val=0)
        for key in ("expansion", "class_steps"):
            check_option(s[key], (True, False), key)
        for key in ("batch_real", "network_interval", "batch_net"):
            check_scalar(self._param(key), key, numbers.Integral, min_val=1)
        for key in ("network_steps", "networks_trained"):
            check_scalar(getattr(self, key), key, numbers.Integral, min_val=0)
        check_scalar(self.lr_net, "lr_net", numbers.Real, min_val=0)
        check_option(self.balance, BALANCES, "balance")
        self._check_dsa_augmentation()
        self.settings_ = s

    def _evaluation_params(self):
        # Both codes' evaluate_synset: 1000 epochs (range(1000 + 1)) with DSA at 0.01.
        return {
            "max_epochs": 1001,
            "lr": 0.01,
            "augmentation": "dsa" if self.augmentation is not None else None,
        }

    def _divergence_hint(self):
        return f"Lower lr_img (currently {self.settings_['lr_img']!r})."

    def _images_per_class(self):
        return 4 * self.ipc if self.settings_["expansion"] else self.ipc

    # -- the stored images and what they yield -----------------------------------------
    def _working_space_is_identity(self):
        return not self.settings_["expansion"]

    def _from_working_space(self, X):
        return expand_tiles(X) if self.settings_["expansion"] else X

    def _initial_synthetic(self, X, y, rng):
        if not self.settings_["expansion"]:
            return super()._initial_synthetic(X, y, rng)
        height, width = X.shape[-2:]
        if X.ndim != 4 or height % 2 or width % 2:
            raise ValueError(
                f"expansion=True splits each image into four quadrants, which needs "
                f"images (n, C, H, W) of even height and width; got {tuple(X.shape[1:])}. "
                f"Use expansion=False."
            )
        if self._resolved_init() == "noise":
            shape = (len(self.classes_) * self.ipc, *X.shape[1:])
            return torch.randn(shape, generator=self._generator, device=X.device)
        return _tile(self._real_images(X, y, rng, 4 * self.ipc))

    # -- the method -----------------------------------------------------------------------
    def _distill(self, X, y, syn, continuing):
        s = self.settings_
        n_classes, ipc = len(self.classes_), self.ipc
        gen = self._generator
        dsa = (DSA() if self.augmentation == "dsa" else self.augmentation) or None
        sampler = _ClassBatches(y, n_classes, self.batch_real, gen)
        # The valid entries of the padded (classes, width) batches, found once:
        # real batches are used unpadded, so no statistic sees a padding entry.
        valid = sampler.weight.flatten().nonzero().squeeze(1)
        class_of_real = torch.arange(n_classes, device=X.device).repeat_interleave(sampler.width)[
            valid
        ]
        real_counts = sampler.weight.sum(1, keepdim=True)
        per_class = 4 * ipc if s["expansion"] else ipc
        y_syn = torch.arange(n_classes, device=X.device).repeat_interleave(per_class)

        queue = None
        if s["n_networks"] > 0:
            terms = self._queue_training_terms(y, n_classes)
            queue = getattr(self, "_queue", None) if continuing else None
            if queue is None or getattr(self, "_queue_iterations", None) != self._iterations_done:
                queue = [self._new_queue_network(0, k) for k in range(3)]
                for it in range(self._iterations_done):  # replay: the queue never sees syn
                    self._queue_step(queue, it, X, y, terms)

        syn = syn.clone().requires_grad_(True)
        optimizer = torch.optim.SGD([syn], lr=s["lr_img"], momentum=0.5)
        if continuing:
            self._restore_momentum(optimizer, syn, self.resume_state_.get("syn_momentum"))
        losses = torch.zeros(self.n_iterations, device=X.device)
        seeds = self._iteration_seeds(self.n_iterations)
        bar = self._progress(self.n_iterations, "distribution matching")
        for it in bar:
            index_it, net_seed, stream_seed = seeds[it]
            gen.manual_seed(stream_seed)
            if queue is None:
                entry = None
                net = self._frozen_network(net_seed)
            else:
                pick = int(
                    torch.randint(
                        len(queue), (1,), generator=torch.Generator().manual_seed(net_seed)
                    )
                )
                entry = queue[pick]
                net = entry["net"]
            index, _ = sampler.sample()
            x_real = X[index.flatten()[valid]]
            aug = dsa.sample(n_classes, gen, X.device) if dsa is not None else None
            if dsa is not None:
                x_real = dsa.apply(x_real, aug, class_of_real)
            embed = self._accelerated(net, "embed")  # in passes of micro_batch images
            with torch.no_grad(), self._autocast():
                embedded = embed(x_real).float()
                real_means = torch.zeros(n_classes, embedded.shape[1], device=X.device)
                real_means.index_add_(0, class_of_real, embedded)
                real_means = real_means / real_counts
            accuracy = None  # the matching network's running accuracy (%), a tensor
            if entry is not None and s["ce_weight"] > 0:
                accuracy = 100.0 * entry["correct"] / max(entry["seen"], 1.0)
            if s["class_steps"]:
                for c in range(n_classes):
                    rows = slice(c * ipc, (c + 1) * ipc)
                    x_syn = self._from_working_space(syn[rows])
                    if dsa is not None:
                        rows_of = torch.full((x_syn.shape[0],), c, device=X.device)
                        x_syn = dsa.apply(x_syn, aug, rows_of)
                    with self._autocast():
                        loss = self._class_loss(
                            net,
                            embed,
                            x_syn,
                            real_means[c : c + 1],
                            y_syn[c * per_class : (c + 1) * per_class],
                            accuracy,
                        )
                    optimizer.zero_grad(set_to_none=True)
                    loss.backward()
                    optimizer.step()
                    losses[it] += loss.detach()
            else:
                x_syn = self._from_working_space(syn)
                if dsa is not None:
                    x_syn = dsa.apply(x_syn, aug, y_syn)
                with self._autocast():
                    loss = self._class_loss(
                        net, embed, x_syn, real_means, y_syn, accuracy, n_classes
                    )
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                losses[it] += loss.detach()
            if queue is not None:
                self._queue_step(queue, index_it, X, y, terms)
            if self.verbose and it % 10 == 0:
                bar.set_postfix(loss=float(losses[it]))
            if self._check_due(it):
                self._check_finite(losses, it, syn)
        if queue is not None:
            self._queue = queue
            self._queue_iterations = self._iterations_done + self.n_iterations
            self.network_accuracy_ = [
                float(100.0 * e["correct"] / max(e["seen"], 1.0)) for e in queue
            ]
        self._opt_state = {"syn_momentum": self._momentum_of(optimizer, syn)}
        return syn.detach(), losses.cpu().tolist()

    def _class_loss(self, net, embed, x_syn, real_means, labels, accuracy, n_classes=1):
        """Squared distances of mean embeddings (per class), plus the weighted cross-entropy."""
        embedded = embed(x_syn).float()
        sums = torch.zeros(n_classes, embedded.shape[1], device=x_syn.device)
        index = labels - labels.min() if n_classes == 1 else labels
        sums = sums.index_add(0, index, embedded)
        means = sums / torch.bincount(index, minlength=n_classes).clamp_min(1)[:, None]
        loss = ((real_means - means) ** 2).sum()
        ce_weight = self.settings_["ce_weight"]
        if ce_weight > 0 and accuracy is not None:  # weight 0 until the network trained
            logits = net.classifier(embedded) if hasattr(net, "classifier") else net(x_syn)
            if n_classes == 1:
                loss = loss + ce_weight * accuracy * F.cross_entropy(logits, labels)
            else:
                per_class = F.cross_entropy(logits, labels, reduction="none")
                class_means = torch.zeros(n_classes, device=x_syn.device).index_add(
                    0, labels, per_class
                ) / torch.bincount(labels, minlength=n_classes)
                loss = loss + ce_weight * accuracy * class_means.sum()
        return loss
