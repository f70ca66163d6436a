"""ConvNetClassifier: a skorch classifier preset with the paper's recipe."""

from __future__ import annotations

import numbers

import numpy as np
import torch
from sklearn.preprocessing import LabelEncoder
from sklearn.utils import check_random_state, check_scalar
from skorch import NeuralNetClassifier

from ..augmentation import MIXINGS
from ..utils import resolve_device
from ..utils._acceleration import SpeedOptionsMixin, autocast
from ..utils._batching import in_fixed_chunks
from ..utils._random import torch_seed
from ..utils._validation import check_option
from ._building import PRESET_KWARGS as _PRESET_KWARGS
from ._building import NetworkMixin, embedding_function
from ._callbacks import CosineLR, CriterionProgress, HalfwayStepLR, WeightAverage
from ._devices import DeviceMixin
from ._encoding import EncodingMixin
from ._losses import TEACHER_LOSSES
from ._modules import ConvNet
from ._steps import StepsMixin
from ._teacher import check_teacher_shift


class ConvNetClassifier(
    DeviceMixin,
    EncodingMixin,
    StepsMixin,
    NetworkMixin,
    SpeedOptionsMixin,
    NeuralNetClassifier,
):
    """ConvNet3 image classifier: a skorch net with the paper's training recipe.

    SGD (lr 0.01, momentum 0.9, weight decay 5e-4), batches of 256 drawn
    without replacement in shuffled order, ``max_epochs=300`` and a tenfold
    learning-rate drop after half the epochs (the evaluation schedule of the
    gradient-matching code), no internal validation split. Module sizes
    (input channels, image size, number of classes, flat feature size) are
    read from the data at ``fit``. Labels may be any classes (strings,
    non-contiguous integers); they are encoded internally.

    Everything else is a normal :class:`skorch.NeuralNetClassifier`: any
    skorch argument (``callbacks``, ``iterator_train__*``, ``module__*``,
    ``optimizer__*``) can be passed and tuned with ``GridSearchCV``.

    Parameters
    ----------
    module : torch module class, builder, instance or str, default=ConvNet
        The network: the paper's ConvNet3, a name (``"convnet"``, ``"mlp"``,
        ``"resnet18"``, ``"vgg11"``, ``"alexnet"``: the students of the
        cross-architecture tables, :mod:`sklearn_ltdd.nets`), or any
        ``nn.Module`` class or builder (``torchvision.models.resnet18``).
        Its constructor arguments named ``in_channels``, ``image_size``,
        ``n_features`` and ``n_classes`` (or ``num_classes``) are filled in
        from the training data unless given as ``module__<name>``; a builder
        taking ``**kwargs`` gets ``num_classes`` only. One dummy batch checks
        the network's output before training (user guide, "Other networks").
    criterion : str or torch loss class, default="cross_entropy"
        ``"cross_entropy"`` (the paper), ``"logit_adjusted"`` (Menon et al.
        2021; temperature ``criterion__tau``), ``"balanced_softmax"`` (Ren
        et al. 2020) or ``"class_balanced"`` (Cui et al. 2019;
        ``criterion__beta``). Class counts come from the training labels.
    optimizer : torch optimizer class, default=torch.optim.SGD
    lr : float, default=0.01
    max_epochs : int, default=300
    batch_size : int, default=256
    lr_schedule : {"halfway", "cosine", None}, default="halfway"
        ``"halfway"`` multiplies the learning rate by 0.1 after epoch
        ``(max_epochs - 1) // 2 + 1`` and restarts the momentum, as the
        DC/MTT evaluation code does (:class:`HalfwayStepLR`); ``"cosine"``
        decays it to 0 over the epochs (:class:`CosineLR`, the schedule of
        knowledge-distillation students); None keeps it constant.
    augmentation : {None, "crop_flip", "dsa", "resized_crop_flip"} or callable, default=None
        Training-time augmentation of each batch, off at prediction:
        random crop (padding 4) + horizontal flip; differentiable Siamese
        augmentation with the DC defaults (how DC and MTT evaluate their
        distilled sets); or a random resized crop (area 8-100 %) + flip
        (:class:`~sklearn_ltdd.augmentation.ResizedCropFlip`, the views of
        soft-label students). A callable ``f(x, generator) -> x`` works too.
    batch_mixing : {None, "mixup", "cutmix", "mixup_or_cutmix"}, default=None
        Mix each augmented training batch with a shuffled copy of itself
        (torchvision's ``MixUp``/``CutMix``, :class:`~sklearn_ltdd.augmentation.BatchMixing`);
        the targets become the mixed labels, which every ``criterion``
        accepts. Images only.
    mixing_alpha : float, default=1.0
        The Beta(alpha, alpha) distribution of the mixing weight.
    teacher : fitted classifier or None, default=None
        Learn from a teacher (knowledge distillation, Hinton et al. 2015):
        on every training batch, after augmentation and mixing, the targets
        are the teacher's outputs on that same batch, compared with the
        student's by ``teacher_loss``. A fitted classifier whose classes
        include the student's; wrap it in ``sklearn.frozen.FrozenEstimator``
        so that ``clone`` (pipelines, grid search) keeps it fitted. A
        student trained on some of the classes (a group of a two-stage model)
        learns the teacher's view of those classes. None trains on the
        labels as usual.
    teacher_loss : {"kl", "mse"}, default="kl"
        ``"kl"``: ``T^2 KL(teacher || student)`` of the probabilities at
        temperature ``T = teacher_temperature`` (Hinton; RDED, SRe2L);
        ``"mse"``: the mean squared difference of the logits (EDC and the
        uni-level framework), the temperature unused.
    teacher_temperature : float, default=4.0
        The softening temperature ``T`` of ``teacher_loss="kl"`` (4 is
        Hinton's usual value; SRe2L and RDED use 20).
    hard_label_weight : float, default=0.0
        With a teacher, add this times ``criterion`` on the batch's labels
        (mixed like the images) to the teacher's loss (EDC: 0.025 with
        ``teacher_loss="mse"``).
    teacher_shift : float, "auto" or "balanced", default=0.0
        Shift the teacher's logits by ``-tau * log(prior)`` before the
        student learns them (ADSA's long-tail-aware soft labels, Zhao et
        al. 2025): tau > 0 moves the teacher's probabilities from its
        training data's head classes towards its tail. "auto" chooses tau
        as ADSA does, at the start of ``fit``: the value (in steps of 0.05
        from -1 to 3) that makes the teacher's mean probability of the true
        class most even across the classes of the training set
        (``teacher_shift_``). "balanced" adds one offset per class instead
        (``teacher_offsets_``), chosen at the start of ``fit`` so that the
        teacher's probabilities, summed over the training set, give every
        class the share its labels give it (on a balanced distilled set, an
        equal share): no prior needed, and no class collects the soft-label
        mass of the classes it is confused with. On a distilled set whose
        images the teacher was trained on, it takes mass from the tail the
        teacher memorised (measured worse; user guide).
    teacher_prior : array-like or None, default=None
        The class prior of the teacher's training data (counts or
        frequencies, in the order of the teacher's ``classes_``), used by
        ``teacher_shift``; None takes the teacher's ``class_counts_`` (a
        ``ConvNetClassifier`` has them).
    ema_decay : float or None, default=None
        Keep an exponential moving average of the weights (and batch-norm
        statistics) during training, with this decay per step, and predict
        with it (:class:`~sklearn_ltdd.nets.WeightAverage`; EDC's students
        use 0.99).
    precision : {"fp32", "bf16"}, default="fp32"
    compile : {False, True, "auto"}, default=False
    micro_batch : "auto", int or None, default="auto"
        The speed options (:class:`~sklearn_ltdd.utils.SpeedOptionsMixin`):
        bfloat16 autocast of the forward passes (training and prediction),
        the network's forward (and through it its backward) compiled, and
        training batches in passes of ``micro_batch`` rows (predictions in
        passes of the same size). skorch's own ``compile`` (which would wrap
        ``module_``) is replaced by this one: ``module_`` stays a plain module.
    train_split : callable or None, default=None
        skorch's internal validation split; none by default.
    device : {"auto", "cpu", "cuda"} or str, default="auto"
        ``"auto"`` uses CUDA when present and the CPU otherwise. Asking for
        CUDA on a machine without it raises a ValueError at ``fit``.
    random_state : int, RandomState instance or None, default=None
        Seeds the weight initialisation, the batch order and the
        augmentation, so CPU runs are repeatable. The global torch RNG is
        not touched.
    verbose : int, default=0
        1 prints skorch's per-epoch table.
    **kwargs
        Any other :class:`skorch.NeuralNetClassifier` argument.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels seen at ``fit``.
    teacher_shift_ : float or "balanced"
        With a teacher, the tau of ``teacher_shift`` used in the last ``fit``.
    teacher_offsets_ : ndarray of shape (n_classes,)
        With a teacher, what was added to its logits in the last ``fit``
        (``-tau * log(prior)``, the "balanced" offsets, or zeros).
    class_counts_ : ndarray of shape (n_classes,)
        Training images per class (used by the long-tail criteria).
    input_shape_ : tuple of int
        Shape of one training input, e.g. ``(3, 32, 32)``.
    n_features_in_ : int
        Product of ``input_shape_``.
    device_ : torch.device
        The device the net runs on.
    module_ : torch.nn.Module
        The trained network.

    Examples
    --------
    >>> from sklearn_ltdd.datasets import load_digits_lt
    >>> from sklearn_ltdd.nets import ConvNetClassifier
    >>> X, y, X_test, y_test = load_digits_lt(return_X_y=True)
    >>> clf = ConvNetClassifier(module__width=16, max_epochs=3, random_state=0)
    >>> clf.fit(X, y).predict(X_test[:3]).shape
    (3,)
    """

    def __init__(
        self,
        module=ConvNet,
        *,
        criterion="cross_entropy",
        optimizer=torch.optim.SGD,
        lr: float = 0.01,
        max_epochs: int = 300,
        batch_size: int = 256,
        lr_schedule: str | None = "halfway",
        augmentation=None,
        batch_mixing=None,
        mixing_alpha: float = 1.0,
        teacher=None,
        teacher_loss: str = "kl",
        teacher_temperature: float = 4.0,
        hard_label_weight: float = 0.0,
        teacher_shift=0.0,
        teacher_prior=None,
        ema_decay=None,
        precision: str = "fp32",
        compile=False,
        micro_batch="auto",
        train_split=None,
        device="auto",
        random_state=None,
        verbose: int = 0,
        **kwargs,
    ):
        for key, value in _PRESET_KWARGS.items():
            kwargs.setdefault(key, value)
        super().__init__(
            module,
            criterion=criterion,
            optimizer=optimizer,
            lr=lr,
            max_epochs=max_epochs,
            batch_size=batch_size,
            train_split=train_split,
            device=device,
            verbose=verbose,
            compile=compile,
            **kwargs,
        )
        self.lr_schedule = lr_schedule
        self.augmentation = augmentation
        self.batch_mixing = batch_mixing
        self.mixing_alpha = mixing_alpha
        self.teacher = teacher
        self.teacher_loss = teacher_loss
        self.teacher_temperature = teacher_temperature
        self.hard_label_weight = hard_label_weight
        self.teacher_shift = teacher_shift
        self.teacher_prior = teacher_prior
        self.ema_decay = ema_decay
        self.precision = precision
        self.micro_batch = micro_batch
        self.random_state = random_state

    # -- callbacks ---------------------------------------------------------
    @property
    def _default_callbacks(self):
        callbacks = list(super()._default_callbacks)
        schedule = {"halfway": HalfwayStepLR, "cosine": CosineLR}.get(
            self.lr_schedule if isinstance(self.lr_schedule, str) else None
        )
        if schedule is not None:
            callbacks.insert(1, ("lr_schedule", schedule()))
        if self.ema_decay is not None:
            callbacks.insert(1, ("weight_average", WeightAverage(self.ema_decay)))
        callbacks.insert(1, ("criterion_progress", CriterionProgress()))
        return callbacks

    # -- skorch ----------------------------------------------------------------
    def initialize(self):
        """Resolve the device and seeds, then build module, criterion, optimizer."""
        self.device_ = resolve_device(self.device)
        if self.random_state is None:  # draw from torch's global stream
            seeds = [int(torch.randint(2**62, ()).item()) for _ in range(4)]
        else:
            rng = check_random_state(self.random_state)
            seeds = [torch_seed(rng) for _ in range(4)]
        # Names end in "_": skorch reports every other attribute as a parameter.
        self.seeds_ = {
            "module": seeds[0] if self.random_state is not None else None,
            "loader": seeds[1],
            "augment": seeds[2],
            "mix": seeds[3],
        }
        self.cache_ = {}  # generators and device copies of the data; not pickled
        self.random_states_ = {}  # the generators' states in a pickle (``_generator``)
        check_scalar(self.max_epochs, "max_epochs", numbers.Integral, min_val=1)
        check_scalar(self.lr, "lr", numbers.Real, min_val=0, include_boundaries="neither")
        if not (
            self.batch_size == -1
            or (isinstance(self.batch_size, numbers.Integral) and self.batch_size >= 1)
        ):
            raise ValueError(
                f"batch_size must be a positive int or -1 (the whole set), got {self.batch_size!r}."
            )
        if not (
            self.lr_schedule is None
            or (isinstance(self.lr_schedule, str) and self.lr_schedule in ("halfway", "cosine"))
        ):
            raise ValueError(
                f"lr_schedule must be 'halfway', 'cosine' or None, got {self.lr_schedule!r}."
            )
        if self.batch_mixing is not None and self.batch_mixing not in MIXINGS:
            raise ValueError(
                f"batch_mixing must be None or one of {list(MIXINGS)}, got {self.batch_mixing!r}."
            )
        check_scalar(
            self.mixing_alpha, "mixing_alpha", numbers.Real, min_val=0, include_boundaries="neither"
        )
        check_option(self.teacher_loss, TEACHER_LOSSES, "teacher_loss")
        check_scalar(self.hard_label_weight, "hard_label_weight", numbers.Real, min_val=0)
        check_teacher_shift(self.teacher_shift)
        if self.ema_decay is not None:
            check_scalar(
                self.ema_decay,
                "ema_decay",
                numbers.Real,
                min_val=0,
                max_val=1,
                include_boundaries="neither",
            )
        self._check_speed_options()
        return super().initialize()

    def _check_settable_attr(self, name, attr):
        """skorch's check, but ``augmentation`` may be a torchvision transform (an
        ``nn.Module`` without weights, which skorch would refuse outside ``initialize``)."""
        if name != "augmentation":
            super()._check_settable_attr(name, attr)

    def _get_predict_nonlinearity(self):
        if self.predict_nonlinearity == "auto":
            return lambda logits: torch.softmax(logits, dim=-1)
        return super()._get_predict_nonlinearity()

    # -- sklearn API ------------------------------------------------------------
    @classmethod
    def from_module(cls, module, classes, input_shape, *, class_counts=None, **params):
        """A fitted classifier around a trained ``nn.Module`` (a pretrained network).

        The result predicts, embeds and serves as a teacher, observer, scorer
        or backbone like any fitted ``ConvNetClassifier``; wrap it in
        ``sklearn.frozen.FrozenEstimator`` so that ``clone`` keeps it.

        Parameters
        ----------
        module : torch.nn.Module
            Trained; its logits' columns are ``classes`` in this order.
        classes : array-like of shape (n_classes,)
        input_shape : tuple of int
            Shape of one input, e.g. ``(3, 32, 32)``.
        class_counts : array-like of shape (n_classes,), default=None
            Its training images per class, if known (the prior of a
            student's ``teacher_shift``).
        **params
            Other ``ConvNetClassifier`` parameters (``device``, ``precision``).

        Returns
        -------
        classifier : ConvNetClassifier
        """
        if not isinstance(module, torch.nn.Module):
            raise TypeError(
                f"module must be a trained torch.nn.Module instance, got {type(module).__name__}."
            )
        net = cls(module=module, **params)
        net.label_encoder_ = LabelEncoder().fit(np.asarray(classes))
        net.input_shape_ = tuple(int(s) for s in input_shape)
        net.n_features_in_ = int(np.prod(net.input_shape_))
        if class_counts is not None:
            net.class_counts_ = np.asarray(class_counts)
        net.initialize()
        net.module_.eval()
        return net

    def fit(self, X, y, **fit_params):
        """Train a fresh network on images ``X`` with labels ``y``.

        Parameters
        ----------
        X : array-like of shape (n_samples, C, H, W)
            Float images; 2-D ``(n_samples, n_features)`` for an MLP module.
        y : array-like of shape (n_samples,) or (n_samples, n_classes)
            Class labels, or soft targets: probabilities whose columns are
            the classes (``classes``, sorted, or 0 .. n_classes - 1), rows
            summing to 1 (a distilled set's ``soft_labels_``); every
            ``criterion`` and batch mixing accept them.

        Returns
        -------
        self
        """
        if not self.warm_start or not getattr(self, "initialized_", False):
            X, y_enc = self._encode(X, y, reset=True)
            self.initialize()
        else:
            X, y_enc = self._encode(X, y, reset=False)
        if self.teacher is not None:  # its errors before any training; tau for "auto"
            self._start_teacher(X, y_enc if y_enc.ndim == 1 else y_enc.argmax(1))
        self.partial_fit(X, y_enc, _encoded=True, **fit_params)
        return self

    def partial_fit(self, X, y=None, classes=None, _encoded=False, **fit_params):
        """Continue training for ``max_epochs`` (see skorch)."""
        if not _encoded:
            first = not getattr(self, "initialized_", False) or not hasattr(self, "label_encoder_")
            X, y = self._encode(X, y, reset=first)
            if first:
                self.initialize()
        try:
            return super().partial_fit(X, y, **fit_params)
        finally:
            getattr(self, "cache_", {}).pop("data", None)  # free the device copy

    def predict_proba(self, X):
        """Class probabilities, columns in the order of ``classes_``."""
        try:
            return super().predict_proba(self._check_predict_input(X))
        finally:
            getattr(self, "cache_", {}).pop("data", None)

    def predict(self, X):
        """Predicted class labels."""
        index = self.predict_proba(X).argmax(axis=1)
        return self.classes_[index]

    def embed(self, X, batch_size: int | None = None) -> np.ndarray:
        """Penultimate-layer features of the trained network.

        The module's ``embed`` method (every network of the package has
        one), or else the input of its last ``nn.Linear`` layer (a
        torchvision ResNet's pooled features, say).

        Returns
        -------
        features : ndarray of shape (n_samples, n_features)
        """
        X = self._check_predict_input(X)
        embed = embedding_function(self.module_)
        batch_size = batch_size or self._inference_chunk()
        self.module_.eval()
        out = []
        with torch.no_grad():
            # Fixed-size passes: a row's features do not depend on how X is cut.
            for start in range(0, len(X), 16 * batch_size):
                xb = torch.as_tensor(X[start : start + 16 * batch_size], device=self.device_)
                with autocast(self.precision, self.device_):
                    features = in_fixed_chunks(embed, xb, batch_size)
                out.append(features.float().cpu().numpy())
        return np.concatenate(out).astype(np.float32, copy=False)
