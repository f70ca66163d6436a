"""The training and inference steps of ConvNetClassifier: batches on the device,
augmentation, batch mixing, a teacher's soft targets, precision and compilation."""

from __future__ import annotations

import numpy as np
import torch
from skorch.dataset import Dataset
from skorch.utils import to_tensor
from torch.utils.data import DataLoader

from ..augmentation import BatchMixing, get_augmentation
from ..utils._acceleration import autocast, compiled_method, resolve_compile
from ..utils._batching import (
    DEFAULT_CHUNK,
    activation_size,
    has_batch_statistics,
    in_fixed_chunks,
    micro_batched,
    resolve_micro_batch,
)
from ._losses import teacher_loss as compare_with_teacher
from ._teacher import TeacherTargets


class _DeviceBatches:
    """Mini-batches sliced from tensors already on the device.

    ``skip_single``: leave out a last batch of one image (batch norm cannot
    train on it), unless it is the only one.
    """

    def __init__(self, data, batch_size, generator, skip_single=False):
        self.X, self.y = data
        self.batch_size = int(batch_size)
        self.generator = generator
        self.skip_single = skip_single and len(self.X) % self.batch_size == 1 and len(self.X) > 1

    def __len__(self):
        return -(-len(self.X) // self.batch_size) - int(self.skip_single)

    def __iter__(self):
        n = len(self.X)
        if self.generator is None:
            order = None
        else:
            order = torch.randperm(n, generator=self.generator).to(self.X.device)
        for start in range(0, n - int(self.skip_single), self.batch_size):
            index = (
                slice(start, start + self.batch_size)
                if order is None
                else order[start : start + self.batch_size]
            )
            yield self.X[index], (None if self.y is None else self.y[index])


class StepsMixin:
    """The steps of :class:`ConvNetClassifier` (before skorch's ``NeuralNetClassifier``
    in its bases): what a batch goes through in training and at prediction."""

    def infer(self, x, **fit_params):
        x = to_tensor(x, device=self.device_)
        forward = self._forward_fn()
        with autocast(self.precision, self.device_):
            if not self.module_.training:  # the same output for a row however X is cut
                out = in_fixed_chunks(
                    lambda xb: forward(xb, **fit_params), x, self._inference_chunk()
                )
            else:  # in passes of micro_batch rows, the loss over the whole batch
                out = micro_batched(
                    lambda xb: forward(xb, **fit_params), x, self._micro_batch(training=True)
                )
        return out.float()

    def _micro_batch(self, training):
        """Rows per forward pass (None: the whole batch); batch norm is cut at prediction
        only, where it uses its running statistics."""
        key = f"micro_{training}"
        if key not in self.cache_:
            stats = training and has_batch_statistics(self.module_)
            self.cache_[key] = resolve_micro_batch(
                self.micro_batch,
                self.device_,
                self._compiled(),
                stats,
                activation_size(self.module_),
            )
        return self.cache_[key]

    def _compiled(self) -> bool:
        """``compile`` resolved once per fit (its warning, if any, once)."""
        if "compile" not in self.cache_:
            self.cache_["compile"] = resolve_compile(self.compile, self.device_)
        return self.cache_["compile"]

    def _forward_fn(self):
        """The module's forward, compiled when ``compile`` says so (made once per fit)."""
        forward = self.cache_.get("forward")
        if forward is None:
            compiled = compiled_method(self.module_, self._compiled(), type(self).__name__)

            def forward(x, **fit_params):
                return compiled(x) if not fit_params else self.module_(x, **fit_params)

            self.cache_["forward"] = forward
        return forward

    def torch_compile(self, module, name):
        """Compilation is this class's own (:meth:`_forward_fn`): skorch's is not used.

        The module stays a plain ``nn.Module`` (its state dict, pickling and
        ``embed`` unchanged); its forward is compiled on first use, once per
        architecture and process (:func:`~sklearn_ltdd.utils._acceleration.compiled_method`),
        and runs eagerly if compiling fails.
        """
        return module

    def train_step_single(self, batch, **fit_params):
        """One step: augment, mix, then learn the labels or the teacher's soft targets."""
        self._set_training(True)
        Xi, yi = batch
        x = to_tensor(Xi, device=self.device_)
        y = to_tensor(yi, device=self.device_)
        if self._augment is not None:
            x = self._augment(x, self._generator("augment", x.device))
        if self.batch_mixing is not None:
            mixing = self.cache_.get("mixing")
            if mixing is None:
                mixing = BatchMixing(self.batch_mixing, len(self.classes_), self.mixing_alpha)
                self.cache_["mixing"] = mixing
            x, y = mixing(x, y, self._generator("mix"))
        y_pred = self.infer(x, **fit_params)
        if self.teacher is None:
            loss = self.get_loss(y_pred, y, X=x, training=True)
        else:
            loss = compare_with_teacher(
                y_pred,
                self._teacher_targets().logits(x),
                self.teacher_loss,
                self.teacher_temperature,
            )
            if self.hard_label_weight:
                loss = loss + self.hard_label_weight * self.get_loss(y_pred, y, X=x, training=True)
        loss.backward()
        return {"loss": loss, "y_pred": y_pred}

    def resume_fit(self, X, y):
        """Finish a ``fit`` that stopped part-way, from the net as pickled after one of its
        epochs (:func:`~sklearn_ltdd.nets.epoch_checkpoint`, skorch's ``Checkpoint``,
        pickles it after each).

        Trains the epochs of ``max_epochs`` that its history lacks, with the
        learning-rate schedule, the weight average and the random streams where
        they stood: on the same data and device, the result is the
        uninterrupted fit's. A long teacher so survives the end of a session.

        Parameters
        ----------
        X, y
            The data of the interrupted ``fit``.

        Returns
        -------
        self

        Examples
        --------
        >>> import pickle
        >>> from sklearn_ltdd.datasets import load_digits_lt
        >>> from sklearn_ltdd.nets import ConvNetClassifier
        >>> X, y, _, _ = load_digits_lt(return_X_y=True)
        >>> net = ConvNetClassifier(module__width=8, max_epochs=2, random_state=0)
        >>> saved = pickle.dumps(net.set_params(max_epochs=1).fit(X, y).set_params(max_epochs=2))
        >>> len(pickle.loads(saved).resume_fit(X, y).history)
        2
        """
        if not getattr(self, "initialized_", False) or not hasattr(self, "label_encoder_"):
            raise ValueError(
                "resume_fit continues a net pickled during its fit; this one was never "
                "fitted. Use fit(X, y)."
            )
        remaining = int(self.max_epochs) - len(self.history)
        if remaining <= 0:
            return self
        X, y_enc = self._encode(X, y, reset=False)
        if self.teacher is not None:
            self._start_teacher(X, y_enc if y_enc.ndim == 1 else y_enc.argmax(1))
        self.cache_["resuming"] = True  # the callbacks keep their state (``resuming``)
        try:
            return self.partial_fit(X, y_enc, _encoded=True, epochs=remaining)
        finally:
            self.cache_.pop("resuming", None)

    def _teacher_targets(self):
        targets = self.cache_.get("teacher")
        if targets is None:
            targets = TeacherTargets(
                self.teacher,
                self.classes_,
                self.teacher_temperature,
                self.teacher_shift,
                self.teacher_prior,
            )
            self.cache_["teacher"] = targets
        return targets

    def _start_teacher(self, X, y_enc):
        """The teacher's targets, checked before training; ``teacher_shift="auto"``'s tau or
        ``"balanced"``'s offsets chosen on the training set (``teacher_shift_``,
        ``teacher_offsets_``)."""
        self.cache_.pop("teacher", None)
        targets = self._teacher_targets()
        if self.teacher_shift in ("auto", "balanced"):
            x = torch.as_tensor(np.asarray(X), device=self.device_)
            if self.teacher_shift == "auto":
                targets.choose_shift(x, torch.as_tensor(y_enc))
            else:
                targets.balance(x, torch.as_tensor(y_enc))
        self.teacher_shift_ = targets.shift_
        offsets = targets.offsets_
        self.teacher_offsets_ = np.zeros(len(self.classes_)) if offsets is None else offsets

    def _forward_eval(self, x):
        """Logits of the trained network on a tensor batch, in eval mode (a teacher's call)."""
        module = self.module_
        training = module.training
        module.eval()
        try:
            with torch.no_grad(), autocast(self.precision, self.device_):
                return micro_batched(self._forward_fn(), x, self._micro_batch(False)).float()
        finally:
            module.train(training)

    def _inference_chunk(self) -> int:
        """Rows per forward pass at prediction (every pass gets exactly this many):
        ``iterator_valid__batch_size`` if given, else ``micro_batch``'s, else the batch size."""
        size = self.get_params_for("iterator_valid").get("batch_size")
        size = size or self._micro_batch(False) or self.batch_size
        return int(size) if size and size > 0 else DEFAULT_CHUNK

    # -- randomness ----------------------------------------------------------
    @property
    def _augment(self):
        return get_augmentation(self.augmentation)

    def _generator(self, name, device="cpu"):
        """The generator of one random stream (seeded once per ``initialize``; after
        unpickling, where the pickled net's stream stood, on the same kind of device)."""
        generator = self.cache_.get(name)
        if generator is None or generator.device != torch.device(device):
            generator = torch.Generator(device=device)
            saved = (getattr(self, "random_states_", None) or {}).pop(name, None)
            if saved is not None and saved[0] == str(generator.device):
                generator.set_state(saved[1])
            else:
                generator.manual_seed(self.seeds_[name])
            self.cache_[name] = generator
        return generator

    def get_iterator(self, dataset, training=False):
        """Batches of ``dataset``: from device-resident tensors when possible.

        For in-memory arrays and the default loader settings, the data are
        copied to the device once per fit (or predict) and batches are
        slices of it, shuffled by the net's own generator; this avoids the
        per-sample indexing, collation and host-to-device copy of a
        ``DataLoader`` at every step. Any other loader setting
        (``iterator_train__num_workers``, a custom ``dataset``, ...) falls
        back to skorch's ``DataLoader`` path.
        """
        prefix = "iterator_train" if training else "iterator_valid"
        kwargs = self.get_params_for(prefix)
        batch_size = kwargs.pop("batch_size", self.batch_size)
        if batch_size == -1:
            batch_size = len(dataset)
        shuffle = kwargs.pop("shuffle", False)
        iterator = self.iterator_train if training else self.iterator_valid
        simple = (
            iterator is DataLoader
            and not kwargs
            and isinstance(dataset, Dataset)
            and isinstance(dataset.X, np.ndarray)
            and (dataset.y is None or isinstance(dataset.y, np.ndarray))
        )
        if simple:
            generator = self._generator("loader") if training and shuffle else None
            skip = training and any(
                isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in self.module_.modules()
            )
            return _DeviceBatches(self._on_device(dataset), batch_size, generator, skip)
        kwargs = self.get_params_for(prefix)
        kwargs["batch_size"] = batch_size
        if "generator" not in kwargs:
            # The net's generator for shuffling; a private one at prediction,
            # so a DataLoader never draws its base seed from torch's global one.
            kwargs["generator"] = self._generator("loader") if training else torch.Generator()
        return iterator(dataset, **kwargs)

    def _on_device(self, dataset):
        """``(X, y)`` of a dataset as device tensors, copied once per fit or predict.

        One copy per dataset, so a validation split does not evict the
        training set's copy at every epoch; ``partial_fit`` and
        ``predict_proba`` drop them all when they return.
        """
        copies = self.cache_.setdefault("data", {})
        if id(dataset) not in copies:
            X = torch.as_tensor(dataset.X, device=self.device_)
            y = None if dataset.y is None else torch.as_tensor(dataset.y, device=self.device_)
            copies[id(dataset)] = (dataset, X, y)  # the dataset kept: its id stays unique
        _, X, y = copies[id(dataset)]
        return X, y
