"""Run an official script (DC/DSA/DM, MTT) from a local checkout, on our data, and time it.

Nothing of the official code is copied or changed: a fresh interpreter puts
the checkout on ``sys.path``, replaces what cannot work offline or without a
GPU (the data loader, MTT's Weights & Biases logging and kornia's ZCA, a
hard-coded ``.cuda()``), wraps the function each script calls once per
iteration (``get_network``) or per expert epoch (``epoch``) with a timer,
and runs the script with ``runpy`` under the command line it documents.
What is replaced, and why:

* ``utils.get_dataset`` returns the CIFAR10-LT arrays of the comparison (a
  ``.npz`` written by the parent) in the tuple each script unpacks, as the
  repository's own ``TensorDataset``; with ``--zca`` (MTT) the images are
  mapped back to [0, 1] and whitened as the script's kornia call would
  (eps 0.1), with ``inverse_transform``.
* ``wandb`` (MTT's ``distill.py`` logs every iteration and rebuilds its
  arguments from ``wandb.config``) is a stub that keeps the arguments and
  logs nothing; ``kornia`` (imported by MTT's ``utils``) is a stub holding
  that ZCA.
* ``torch.Tensor.cuda`` returns the tensor on a machine without CUDA
  (MTT's ``distill.py`` moves its images with ``.cuda()`` when it saves them
  at iteration 0).
* The repositories' ``utils.py`` is loaded from its file with one textual
  change for current PyTorch: the Siamese augmentation's ``t[:] = t[0]``
  (a write whose source overlaps its target, refused since PyTorch 2.x with
  "some elements of the input tensor and the written-to tensor refer to a
  single memory location") runs as ``t[:] = t[0].clone()``: the same values,
  one copy of a (batch, 1, 1, 1) tensor more per augmentation. The files
  on disk are not changed.
"""

from __future__ import annotations

import json
import os
import re
import runpy
import sys
import time
import types

import numpy as np
import torch

CIFAR10_NAMES = "airplane automobile bird cat deer dog frog horse ship truck".split()
#: The per-channel normalisation of both repositories (and of load_cifar10_lt).
MEAN, STD = [0.4914, 0.4822, 0.4465], [0.2023, 0.1994, 0.2010]


class ZCA:
    """kornia's ``ZCAWhitening(eps, compute_inv=True)``, as the MTT scripts call it."""

    def __init__(self, eps=0.1, compute_inv=True, **kwargs):
        self.eps = float(eps)

    def fit(self, x):
        flat = x.flatten(1).double()
        self.mean = flat.mean(0, keepdim=True)
        centred = flat - self.mean
        cov = centred.T @ centred / (flat.shape[0] - 1)
        values, vectors = torch.linalg.eigh(cov)
        self.matrix = ((vectors / torch.sqrt(values + self.eps)) @ vectors.T).float()
        self.inverse = ((vectors * torch.sqrt(values + self.eps)) @ vectors.T).float()
        self.mean = self.mean.float()
        return self

    def __call__(self, x):
        return ((x.flatten(1) - self.mean.to(x.device)) @ self.matrix.to(x.device)).view_as(x)

    def inverse_transform(self, x):
        return (x.flatten(1) @ self.inverse.to(x.device) + self.mean.to(x.device)).view_as(x)


def _stub_modules(record):
    """``wandb`` and ``kornia`` stand-ins; ``wandb.finish`` marks the end of the last iteration."""
    wandb = types.ModuleType("wandb")
    wandb.config = types.SimpleNamespace(_items={})
    wandb.run = types.SimpleNamespace(name="official")

    def init(config=None, **kwargs):
        wandb.config = types.SimpleNamespace(_items=dict(vars(config)) if config else {})
        return wandb.run

    def finish(*args, **kwargs):
        record.setdefault("end", time.perf_counter())

    wandb.init, wandb.finish = init, finish
    wandb.log = lambda *args, **kwargs: None
    wandb.Histogram = wandb.Image = lambda *args, **kwargs: None
    kornia = types.ModuleType("kornia")
    kornia.enhance = types.SimpleNamespace(ZCAWhitening=ZCA)
    sys.modules["wandb"], sys.modules["kornia"] = wandb, kornia


def _dataset_loader(utils, arrays, n_values):
    """A replacement of ``utils.get_dataset`` returning the comparison's data."""

    def get_dataset(dataset, data_path, *args, **kwargs):
        X, y = torch.as_tensor(arrays["X"]), torch.as_tensor(arrays["y"]).long()
        X_test, y_test = torch.as_tensor(arrays["X_test"]), torch.as_tensor(arrays["y_test"]).long()
        options = kwargs.get("args") or (args[2] if len(args) > 2 else None)
        if options is not None and getattr(options, "zca", False):
            mean = torch.tensor(MEAN).view(1, 3, 1, 1)
            std = torch.tensor(STD).view(1, 3, 1, 1)
            zca = ZCA(0.1).fit(X * std + mean)
            X, X_test = zca(X * std + mean), zca(X_test * std + mean)
            options.zca_trans = zca
        train, test = utils.TensorDataset(X, y), utils.TensorDataset(X_test, y_test)
        loader = torch.utils.data.DataLoader(test, batch_size=256, shuffle=False, num_workers=0)
        out = (3, (32, 32), 10, CIFAR10_NAMES, MEAN, STD, train, test, loader)
        if n_values == 12:  # the MTT scripts also unpack the class maps
            out += (None, {i: i for i in range(10)}, None)
        return out

    return get_dataset


#: ``t[:] = t[0]``, the Siamese augmentation's overlapping write (see above).
_OVERLAPPING_WRITE = re.compile(r"^(\s*)(\w+)\[:\] = \2\[0\]\s*$", re.MULTILINE)


def _load_utils(repo):
    """The repository's ``utils`` module, its overlapping writes made explicit copies."""
    path = os.path.join(repo, "utils.py")
    with open(path) as fh:
        source = _OVERLAPPING_WRITE.sub(r"\1\2[:] = \2[0].clone()", fh.read())
    module = types.ModuleType("utils")
    module.__file__ = path
    sys.modules["utils"] = module
    exec(compile(source, path, "exec"), module.__dict__)
    return module


def run(spec: dict) -> dict:
    """Run ``spec["script"]`` of ``spec["repo"]`` with ``spec["argv"]``; the timings.

    Returns ``{"iteration_starts": [...], "end": t}`` (perf_counter
    timestamps of every ``get_network`` call) or, for ``buffer.py``,
    ``{"epochs": [[mode, seconds], ...]}``.
    """
    torch.set_num_threads(int(spec["threads"]))
    arrays = dict(np.load(spec["data"]))
    record = {"iteration_starts": [], "epochs": []}
    repo = os.path.abspath(spec["repo"])
    sys.path.insert(0, repo)
    os.chdir(spec["workdir"])
    _stub_modules(record)
    if not torch.cuda.is_available():
        torch.Tensor.cuda = lambda self, *args, **kwargs: self
    utils = _load_utils(repo)  # the repository's own module

    utils.get_dataset = _dataset_loader(utils, arrays, 12 if spec["kind"] == "mtt" else 9)
    real_network, real_epoch = utils.get_network, utils.epoch

    def get_network(*args, **kwargs):
        record["iteration_starts"].append(time.perf_counter())
        return real_network(*args, **kwargs)

    def epoch(mode, *args, **kwargs):
        start = time.perf_counter()
        out = real_epoch(mode, *args, **kwargs)
        record["epochs"].append([mode, time.perf_counter() - start])
        return out

    utils.get_network, utils.epoch = get_network, epoch
    script = os.path.join(repo, spec["script"])
    sys.argv = [script, *spec["argv"]]
    runpy.run_path(script, run_name="__main__")
    record.setdefault("end", time.perf_counter())
    return record


if __name__ == "__main__":
    with open(sys.argv[1]) as fh:
        result = run(json.load(fh))
    print("OFFICIAL_TIMINGS " + json.dumps(result), flush=True)
