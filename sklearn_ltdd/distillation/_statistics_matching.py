"""Statistics matching with soft labels: the uni-level long-tailed framework (Cui et al. 2026)."""

from __future__ import annotations

import numbers

import numpy as np
from sklearn.utils import check_scalar
from sklearn.utils.validation import check_is_fitted

from ..nets._modules import ConvNet
from ..utils._validation import check_option
from ._base import BaseDistiller
from ._bn_statistics import VARIANCES
from ._sm_networks import DEBIAS, NetworksMixin
from ._sm_recovery import RecoveryMixin
from ._sm_views import ViewsMixin

RECALIBRATIONS = ("class_balanced", None)
INITS = ("confident_crops", "real", "noise")
TARGET_VIEWS = ("raw", "augmented")
LABELLERS = ("teacher", "ensemble")
CE_TARGETS = ("hard", "class_mean", "tail_confusions")


class StatisticsMatchingDistiller(NetworksMixin, RecoveryMixin, ViewsMixin, BaseDistiller):
    """Condense a long-tailed image set by statistics matching, with soft labels.

    The uni-level framework of Cui et al., "Rethinking Long-tailed Dataset
    Distillation: A Uni-Level Framework with Unbiased Recovery and
    Relabeling" (AAAI 2026), of the squeeze-recover-relabel family (SRe2L,
    Yin et al. 2023; RDED, Sun et al. 2024; EDC, Shao et al. 2024):

    1. *Squeeze*: an **observer** network with batch normalisation and a
       **teacher** are trained on the long-tailed data with a debiasing loss
       (``debias``), or given fitted.
    2. *Recalibrate*: one pass over the real data measures every BN layer's
       input statistics per class (each class an exact running mean, the
       paper's dynamic momentum, eq. 8); the global targets weigh every
       class the same (eq. 9) instead of following the head classes
       (``recalibration``).
    3. *Initialise*: the images start as the teacher's most confident views
       of real images, chosen in rounds with at most one view per image per
       round (``init="confident_crops"``).
    4. *Recover*: ``n_iterations`` Adam steps on the pixels bring the
       observer's BN-input statistics of the (augmented) synthetic batch to
       the targets, globally and per class (``class_weight``), with the
       observer's cross-entropy (``ce_weight``) towards each image's label,
       as SRe2L and EDC (``ce_target``; or towards its class's mean
       probabilities mixed with the label, kinder to the tail).
    5. *Relabel*: the teacher's probabilities, ``soft_labels_``; a student
       learns them on every augmented batch (:meth:`make_evaluator`, a
       :class:`~sklearn_ltdd.nets.ConvNetClassifier` with ``teacher``).

    ``fit_resample`` returns ``ipc`` images per class with their hard
    labels, like the other distillers. The user guide lists every choice
    this implementation made where the paper is silent.

    Parameters
    ----------
    ipc : int, default=10
        Synthetic images per class.
    n_iterations : int, default=100
        Recovery steps (0: the initial views as they are). The paper gives
        none (SRe2L recovers CIFAR for 1000 steps from noise, EDC for 75 from
        real images); 100 with the default loss and ``lr_img`` is what
        validation data chose (user guide; ``benchmarks/results/student_sweep_sm.md``).
    observer : classifier or None, default=None
        The network whose BN statistics are matched. A fitted one wrapped in
        ``sklearn.frozen.FrozenEstimator`` is used as it is; an unfitted one
        is cloned and fitted on ``(X, y)``; None fits the default: a
        batch-norm ConvNet3 (``module``, ``module__<name>``) trained for
        ``teacher_epochs`` with the ``debias`` loss, crop + flip and batch
        mixing. It must have batch normalisation.
    teacher : classifier, "observer" or None, default=None
        The network that labels the images and scores the initial views.
        Fitted (FrozenEstimator), unfitted or None as ``observer`` (None: a
        second network of the default recipe with its own seed, as the
        paper trains two experts); ``"observer"`` uses the observer.
    debias : {"logit_adjusted", "cumulative", None}, default="logit_adjusted"
        The default networks' loss, on mixup or CutMix batches: logit
        adjustment, or the paper's "cumulative" (after GLMC: cross-entropy
        moving to class-reweighted cross-entropy as training goes on,
        :class:`~sklearn_ltdd.nets.CumulativeReweightedLoss`); None plain
        cross-entropy without mixing. Logit adjustment is the default
        because it made the better teacher: on CIFAR10-LT's validation data,
        57.6 % against 52.5 % for the paper's loss at 200 epochs (seed 0,
        ``benchmarks/results/student_sweep_sm.md``).
    teacher_epochs : int, default=200
        Training epochs of the default networks (GLMC's CIFAR-LT setting).
    recalibration : {"class_balanced", None}, default="class_balanced"
        The global targets: class-balanced statistics from one pass over
        the data (the paper), or the observer's running statistics (SRe2L).
    variance : {"mixture", "class_mean"}, default="mixture"
        The global variance target from the per-class ones: the variance of
        the balanced mixture of the classes, or the mean of the class
        variances (see :func:`~sklearn_ltdd.distillation._bn_statistics.targets_from_classes`).
    init : {"confident_crops", "real", "noise"}, default="confident_crops"
        The paper's confidence-guided multi-round views, random real images,
        or Gaussian noise (SRe2L).
    n_crops : int, default=5
        Candidate views per real image for ``"confident_crops"`` (the image
        itself and random resized crops; RDED's number).
    crop_scale : (float, float), default=(0.5, 1.0)
        Area fraction of the random resized crops, of the initial views and
        of the recovery's augmentation.
    whole_below : int or float, default=0
        Classes with fewer images than this (a count, or a fraction of the
        largest class, as ``hard_below``) keep whole real images: their
        initial views are the images and their mirror images (no zoomed
        crops), and the recovery leaves them as they are. Where a class has
        few images, a crop only loses what little there is, and its
        statistics, measured on so few images, are no target to move them to.
    diversity : float, default=1.0
        Above 1, a class's ``ipc`` views are chosen by k-center in the
        teacher's penultimate features among its ``ceil(diversity * ipc)``
        most confident views (starting from the most confident): confident
        and different views instead of near-copies of its easiest images.
    max_candidates : int or None, default=None
        For ``"confident_crops"``, score a random subset of at most this many
        of a class's images (RDED: 300); None scores all (the uni-level
        paper), which measured the same total (user guide).
    combine : {1, 4}, default=1
        Initial views per stored image: 4 stores four views of a class at
        half resolution in the quadrants of each of its ``ipc`` images (the
        combine step of RDED, IDM's expansion and prune-combine-augment), so
        the same storage holds ``4 * ipc`` views, and ``X_syn_`` holds them
        decoded (each quadrant upsampled back); ``X_stored_`` the stored
        images.
    class_weight : float, default=1.0
        Weight of the per-class statistics term against the global one.
    ce_weight : float, default=1.0
        Weight of the observer's cross-entropy on the target class. The
        paper's recovery loss has none; SRe2L and EDC add one of weight 1,
        with ``statistics_weight=0.01``: the defaults, because on validation
        data the statistics alone added nothing to the initial views and this
        loss did (user guide).
    ce_target : {"hard", "class_mean", "tail_confusions"}, default="hard"
        What the cross-entropy pulls an image of class c towards: its label
        (SRe2L, EDC); the observer's mean probabilities on class c's real
        images mixed with the label by ``label_share`` (kinder to the tail,
        harder on the head); or of that mean only the mass on the tail's
        classes, the rest given to the label ("tail_confusions"). On
        validation data of the standard CIFAR10-LT's shape: 61.7 %, 58.1 %,
        58.4 %; random real images 58.9 % (user guide).
    hard_below : int or float, default=0.05
        For the soft targets, classes with fewer images than this are the
        tail and keep the label alone as their target: an int counts images,
        a float in (0, 1] is a fraction of the largest class (as
        scikit-learn's ``min_samples_split``); 0.05 picks the four smallest
        classes both on the CPU profile (under 50 of 1000) and on
        CIFAR10-LT at ratio 100 (under 250 of 5000); 0 none.
    label_share : float, default=0.5
        For the soft targets, the label's share in the other classes':
        ``label_share * e_c + (1 - label_share) * mean_c`` (1: the label).
        Of 0, 0.25, 0.5 and 0.75 on validation data, 0.5 scored best in total.
    confidence_cap : float, default=1.0
        An image's cross-entropy stops pulling once the observer gives its
        class at least this probability (clamped at ``-log(confidence_cap)``);
        1 never stops. For ``ce_target="hard"`` (a soft target's never reaches 0).
    statistics_weight : float, default=0.01
        Weight of the statistics loss (SRe2L and EDC: 0.01 beside a
        cross-entropy of weight 1).
    first_layer_weight : float, default=10.0
        Weight of the first BN layer's statistics term against the others'
        (EDC's ``first-multiplier``).
    target_views : {"augmented", "raw"}, default="augmented"
        The statistics the recovery matches are measured on the real images
        as they are, or on the random resized crops the recovery itself
        applies to the synthetic images (then both sides see the same kind
        of views).
    recalibrate_observer : bool, default=True
        Recover against a copy of the observer whose BN running statistics
        are class-balanced (layer by layer,
        :func:`~sklearn_ltdd.distillation._bn_statistics.recalibrated_copy`):
        its eval-mode normalisation then treats every class alike. The
        observer itself (and a teacher that is the observer) is unchanged.
        On by default: the same accuracy on validation data, a better tail.
    labeller : {"ensemble", "teacher"}, default="ensemble"
        Who scores the initial views and labels the images: the mean logits
        of the observer and the teacher (:class:`~sklearn_ltdd.nets.LogitAverage`,
        as EDC labels with several networks; ``make_evaluator``'s student
        then learns that average), or the teacher alone. The default
        networks are two anyway; with ``teacher="observer"`` both are one.
    lr_img : float, default=0.01
        Adam's learning rate on the pixels (betas 0.5, 0.9, as EDC), constant,
        so warm-started chunks equal one run (EDC decays it). Chosen on
        validation data between 0.001 and EDC's 0.05.
    step_balance : float, default=0.0
        Class c's images take Adam's step times ``(n_max / n_c) ** step_balance``
        (``n_c`` its real images, ``n_max`` the largest class's): the tail's
        images recovered harder than the head's; 0 the same step for all. On
        validation data 0.25 and 0.5 lowered few-shot accuracy (48.7 and 46.2
        against 49.0 %; ``benchmarks/results/student_sweep_sm_pool.md``).
    augmentation : {"crops", None}, default="crops"
        A random resized crop and flip of every image at every step.
    precision : {"fp32", "bf16"}, default="fp32"
        ``"bf16"``: the default networks train, and the observer runs in
        recovery, under bfloat16 autocast (statistics in float32).
    compile : {False, True, "auto"}, default=False
        Compile the default networks' training; the recovery runs eagerly
        (it reads the BN layers' inputs through hooks).
    module : torch module class, builder or name, default=ConvNet
        Network class of the default observer and teacher.
    **module__<name>
        Its constructor arguments, e.g. ``module__width=32`` (``norm`` is
        "batchnorm" unless given, where the network takes one).
    module_params : dict, default=None
        Deprecated (0.2; removed in 0.4): the same as a dict.
    device, random_state, verbose, warm_start
        As in :class:`GradientMatchingDistiller`.

    expert_epochs : deprecated
        Renamed ``teacher_epochs`` in 0.2 (one name across the package); removed in 0.4.

    Attributes
    ----------
    X_syn_ : ndarray of shape (n_classes * combine * ipc, C, H, W)
    y_syn_ : ndarray of shape (n_classes * combine * ipc,)
    X_stored_ : ndarray of shape (n_classes * ipc, C, H, W)
        The stored images (with ``combine=4``, the tiles; else ``X_syn_``).
    soft_labels_ : ndarray of shape (n_classes * combine * ipc, n_classes)
        The labeller's probabilities of each synthetic image (rows sum to 1).
    labeller_ : fitted classifier
        The teacher, or the average of the observer and the teacher.
    observer_, teacher_ : fitted classifiers
        As used (FrozenEstimator parameters stay wrapped).
    init_sources_ : ndarray of shape (n_classes * ipc,)
        Row of the real image each synthetic image started from (-1: noise).
    timings_ : dict
        Seconds of training the networks, recalibration, initialisation and
        recovery, in the last fit. A fit continued (``warm_start=True``) on the
        same data, networks and settings keeps the previous fit's recalibrated
        targets (``"recalibration"``: 0): a run in chunks measures them once.
    classes_, loss_history_, n_iter_, random_seed_, resume_state_
        As in :class:`GradientMatchingDistiller`.

    Examples
    --------
    >>> from sklearn_ltdd.datasets import load_digits_lt
    >>> X, y, _, _ = load_digits_lt(return_X_y=True)
    >>> sm = StatisticsMatchingDistiller(ipc=2, n_iterations=3, teacher_epochs=2,
    ...                                  module__width=8, random_state=0)
    >>> X_syn, y_syn = sm.fit_resample(X, y)
    >>> X_syn.shape, sm.soft_labels_.shape
    ((20, 1, 16, 16), (20, 10))
    """

    _initialisations = INITS
    _min_iterations = 0
    _checkpoint_network_params = ("observer", "teacher")

    _renamed_params = {"teacher_epochs": "expert_epochs"}

    def __init__(
        self,
        *,
        ipc=10,
        n_iterations=100,
        observer=None,
        teacher=None,
        debias="logit_adjusted",
        teacher_epochs=200,
        recalibration="class_balanced",
        variance="mixture",
        init="confident_crops",
        n_crops=5,
        crop_scale=(0.5, 1.0),
        whole_below=0,
        diversity=1.0,
        max_candidates=None,
        combine=1,
        class_weight=1.0,
        ce_weight=1.0,
        ce_target="hard",
        hard_below=0.05,
        label_share=0.5,
        confidence_cap=1.0,
        statistics_weight=0.01,
        first_layer_weight=10.0,
        target_views="augmented",
        recalibrate_observer=True,
        labeller="ensemble",
        lr_img=0.01,
        step_balance=0.0,
        augmentation="crops",
        module=ConvNet,
        module_params=None,
        precision="fp32",
        compile=False,
        micro_batch="auto",
        device="auto",
        random_state=None,
        verbose=0,
        warm_start=False,
        expert_epochs="deprecated",
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
        self.observer = observer
        self.teacher = teacher
        self.debias = debias
        self.teacher_epochs = teacher_epochs
        self.expert_epochs = expert_epochs
        self.recalibration = recalibration
        self.variance = variance
        self.n_crops = n_crops
        self.crop_scale = crop_scale
        self.whole_below = whole_below
        self.diversity = diversity
        self.max_candidates = max_candidates
        self.combine = combine
        self.class_weight = class_weight
        self.ce_weight = ce_weight
        self.ce_target = ce_target
        self.hard_below = hard_below
        self.label_share = label_share
        self.confidence_cap = confidence_cap
        self.statistics_weight = statistics_weight
        self.first_layer_weight = first_layer_weight
        self.target_views = target_views
        self.recalibrate_observer = recalibrate_observer
        self.labeller = labeller
        self.lr_img = lr_img
        self.step_balance = step_balance

    # -- parameters --------------------------------------------------------------------
    def _check_params(self):
        super()._check_params()
        check_option(self.debias, DEBIAS, "debias")
        check_option(self.recalibration, RECALIBRATIONS, "recalibration")
        check_option(self.variance, VARIANCES, "variance")
        check_option(self.augmentation, ("crops", None), "augmentation")
        check_option(self.target_views, TARGET_VIEWS, "target_views")
        check_option(self.labeller, LABELLERS, "labeller")
        check_option(self.ce_target, CE_TARGETS, "ce_target")
        check_option(self.recalibrate_observer, (True, False), "recalibrate_observer")
        check_scalar(self._param("teacher_epochs"), "teacher_epochs", numbers.Integral, min_val=1)
        check_scalar(self.n_crops, "n_crops", numbers.Integral, min_val=1)
        for key in ("whole_below", "hard_below"):  # a count, or a fraction of the largest
            value = getattr(self, key)
            if isinstance(value, numbers.Integral):
                check_scalar(value, key, numbers.Integral, min_val=0)
            else:
                check_scalar(
                    value, key, numbers.Real, min_val=0, max_val=1, include_boundaries="right"
                )
        check_scalar(self.diversity, "diversity", numbers.Real, min_val=1)
        if self.max_candidates is not None:
            check_scalar(self.max_candidates, "max_candidates", numbers.Integral, min_val=1)
        check_option(self.combine, (1, 4), "combine")
        for key in ("class_weight", "ce_weight", "statistics_weight", "first_layer_weight"):
            check_scalar(getattr(self, key), key, numbers.Real, min_val=0)
        check_scalar(
            self.confidence_cap,
            "confidence_cap",
            numbers.Real,
            min_val=0,
            max_val=1,
            include_boundaries="right",
        )
        check_scalar(self.label_share, "label_share", numbers.Real, min_val=0, max_val=1)
        check_scalar(self.lr_img, "lr_img", numbers.Real, min_val=0, include_boundaries="neither")
        check_scalar(self.step_balance, "step_balance", numbers.Real, min_val=0)
        scale = self.crop_scale
        if not (
            isinstance(scale, (tuple, list))
            and len(scale) == 2
            and 0 < float(scale[0]) <= float(scale[1]) <= 1
        ):
            raise ValueError(
                f"crop_scale must be (low, high) with 0 < low <= high <= 1, got {scale!r}."
            )
        if isinstance(self.teacher, str) and self.teacher != "observer":
            raise ValueError(
                f"teacher must be a classifier, 'observer' or None, got {self.teacher!r}."
            )

    def _divergence_hint(self):
        return f"Lower lr_img (currently {self.lr_img!r})."

    # -- the stages ----------------------------------------------------------------------------
    def _start_synthetic(self, X_t, y_t, rng, continuing):
        import time

        from ..utils._random import torch_seed

        if not continuing:
            # Drawn first: the networks and the initial views come from it.
            self.random_seed_ = torch_seed(rng)
            self.resume_state_ = {}
            self.observer_ = self.teacher_ = None
        if self.combine > 1 and (X_t.ndim != 4 or X_t.shape[2] % 2 or X_t.shape[3] % 2):
            raise ValueError(
                f"combine={self.combine} tiles images (n, C, H, W) of even height "
                f"and width; got {tuple(X_t.shape[1:])}. Use combine=1."
            )
        timings = self.timings_ = {}
        start = time.perf_counter()
        self._resolve_networks(X_t.cpu().numpy(), self.classes_[y_t.cpu().numpy()])
        timings["networks"] = time.perf_counter() - start
        start = time.perf_counter()
        kept = self._recovery_set_up(X_t, y_t)
        timings["recalibration"] = 0.0 if kept else time.perf_counter() - start
        flat = X_t.transpose(0, 1).flatten(1)  # the pixels' range, per channel (feature)
        shape = (1, -1, *[1] * (X_t.ndim - 2))
        self._bounds = (flat.min(1).values.view(shape), flat.max(1).values.view(shape))
        if continuing:
            return X_t, self._continued_synthetic(), list(self.loss_history_)
        start = time.perf_counter()
        syn = self._initial_synthetic(X_t, y_t, rng)
        timings["initialisation"] = time.perf_counter() - start
        return X_t, syn, []

    def _store_synthetic(self, syn, history, losses):
        super()._store_synthetic(syn, history, losses)
        stored = self.X_syn_ if self._working_space_is_identity() else syn.cpu().numpy()
        self.X_stored_ = stored.astype(np.float32, copy=False)
        self._store_soft_labels()
        for name in ("_targets", "_bounds", "_recovery_module", "_ce_targets"):
            self.__dict__.pop(name, None)

    def _extra_checkpoint_attributes(self):  # else X_stored_ is X_syn_ (_checkpoint_loaded)
        stored = () if self._working_space_is_identity() else ("X_stored_",)
        return ("soft_labels_", "init_sources_", *stored)

    # -- evaluation -------------------------------------------------------------------------
    def make_evaluator(self, **params):
        """An unfitted student of ``labeller_``: :func:`~sklearn_ltdd.nets.make_student`.

        The default student recipe (:data:`~sklearn_ltdd.nets.DEFAULT_RECIPE`:
        the labeller's logits on every augmented, CutMix-mixed batch, 1000
        epochs) at this distiller's ``module`` and ``module__<name>``.
        ``params`` replace the recipe's (``recipe="kd"`` for the other one).
        """
        check_is_fitted(self, "X_syn_")
        if getattr(self, "teacher_", None) is None:
            raise ValueError(
                "The teacher is not available: load_checkpoint was given no data. Call "
                "load_checkpoint(file, X=X, y=y), or fit (warm_start=True continues)."
            )
        return self.make_student(getattr(self, "labeller_", self.teacher_), **params)
