"""CUDA runs agree with CPU runs (skipped where CUDA is absent, never faked)."""

import warnings

import numpy as np
import pytest
import torch

from sklearn_ltdd import ConvNetClassifier, GradientMatchingDistiller, TrajectoryMatchingDistiller
from sklearn_ltdd.distillation import train_expert_trajectories
from sklearn_ltdd.nets import ConvNet

from .conftest import requires_cuda

pytestmark = requires_cuda


@pytest.fixture
def full_fp32():
    """Plain float32 convolutions and matrix products for the duration of a test.

    On Ampere and later GPUs PyTorch lets cuDNN convolutions use TF32 (a
    10-bit mantissa) by default, and its rounding depends on the kernel:
    batched (vmap) and looped classes run different kernels, so under TF32
    they differ by about 1e-3 (first H100 window: losses 21.04 and 21.09).
    Comparing the two paths is about their arithmetic, so it runs in fp32.
    """
    saved = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    yield
    torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = saved


def test_classifier_on_cuda(digits):
    clf = ConvNetClassifier(module__width=8, max_epochs=5, device="cuda", random_state=0)
    clf.fit(digits.X_train, digits.y_train)
    assert clf.device_.type == "cuda" and next(clf.module_.parameters()).is_cuda
    proba = clf.predict_proba(digits.X_test)
    assert proba.shape == (500, 10) and np.allclose(proba.sum(1), 1, atol=1e-5)
    again = ConvNetClassifier(module__width=8, max_epochs=5, device="cuda", random_state=0)
    assert np.allclose(
        again.fit(digits.X_train, digits.y_train).predict_proba(digits.X_test), proba, atol=1e-3
    )


@pytest.mark.parametrize("augmentation", [None, "dsa"])
def test_gradient_matching_vmap_on_cuda_matches_the_class_loop(augmentation, digits, full_fp32):
    kwargs = dict(
        ipc=2,
        n_iterations=2,
        outer_loop=2,
        inner_loop=1,
        init="real",
        augmentation=augmentation,
        module__width=8,
        random_state=0,
        device="cuda",
    )
    batched = GradientMatchingDistiller(batch_classes=True, **kwargs).fit(
        digits.X_train, digits.y_train
    )
    looped = GradientMatchingDistiller(batch_classes=False, **kwargs).fit(
        digits.X_train, digits.y_train
    )
    assert np.allclose(batched.X_syn_, looped.X_syn_, atol=1e-3)


def test_experts_on_cuda_match_the_cpu(tiny_images):
    X, y = tiny_images
    kwargs = dict(
        module=ConvNet,
        module_kwargs={"width": 4, "n_classes": 3},
        n_experts=3,
        epochs=2,
        lr=0.01,
        batch_size=16,
        augmentation=None,
        seed=0,
    )
    gpu = train_expert_trajectories(X, y, device="cuda", **kwargs)  # 3 experts in one vmap
    cpu = train_expert_trajectories(X, y, device="cpu", **kwargs)
    assert gpu.shape == cpu.shape
    # Initialisations come from the CUDA and CPU generators respectively, so
    # only shapes and finiteness are comparable across devices.
    assert np.isfinite(gpu).all()


def test_trajectory_matching_on_cuda(tiny_images):
    X, y = tiny_images
    mtt = TrajectoryMatchingDistiller(
        ipc=1,
        n_iterations=3,
        n_experts=2,
        syn_steps=2,
        max_start_epoch=1,
        zca=True,
        lr_img=1.0,
        module__width=4,
        device="cuda",
        random_state=0,
    )
    X_syn, _ = mtt.fit_resample(X, y)
    assert X_syn.shape == (3, 1, 16, 16) and np.isfinite(X_syn).all()
    assert torch.cuda.max_memory_allocated() > 0


@pytest.mark.parametrize("norm", ["instancenorm", "batchnorm", "none"])
def test_batched_classes_agree_with_the_loop_on_cuda_for_every_norm(norm, digits, full_fp32):
    # digits-LT has classes of 12-124 images: smaller than batch_real=64, so the
    # batched path pads (instance norm, none) or groups classes by size (batchnorm).
    kwargs = dict(
        ipc=2,
        n_iterations=2,
        outer_loop=2,
        inner_loop=1,
        batch_real=64,
        module__width=8,
        module__norm=norm,
        random_state=0,
        device="cuda",
    )
    batched = GradientMatchingDistiller(batch_classes=True, **kwargs).fit(
        digits.X_train, digits.y_train
    )
    looped = GradientMatchingDistiller(batch_classes=False, **kwargs).fit(
        digits.X_train, digits.y_train
    )
    assert np.allclose(batched.loss_history_, looped.loss_history_, rtol=1e-3)
    assert np.allclose(batched.X_syn_, looped.X_syn_, atol=1e-3)


@pytest.mark.parametrize("augmentation", [None, "dsa"])
def test_gradient_matching_in_chunks_on_cuda_equals_one_run(augmentation, digits, full_fp32):
    kwargs = dict(
        ipc=2,
        outer_loop=2,
        inner_loop=2,
        module__width=8,
        augmentation=augmentation,
        random_state=0,
        device="cuda",
    )
    one = GradientMatchingDistiller(n_iterations=4, **kwargs).fit(digits.X_train, digits.y_train)
    chunks = GradientMatchingDistiller(n_iterations=2, warm_start=True, **kwargs)
    chunks.fit(digits.X_train, digits.y_train).fit(digits.X_train, digits.y_train)
    # cuDNN's backward kernels may sum in another order from run to run.
    assert np.allclose(one.X_syn_, chunks.X_syn_, atol=1e-4)


def test_trajectory_matching_in_chunks_on_cuda_equals_one_run(tiny_images, full_fp32):
    X, y = tiny_images
    kwargs = dict(
        ipc=2,
        n_experts=3,
        syn_steps=3,
        max_start_epoch=2,
        zca=True,
        lr_img=10.0,
        batch_syn=4,
        module__width=4,
        device="cuda",
        random_state=0,
    )
    one = TrajectoryMatchingDistiller(n_iterations=4, **kwargs).fit(X, y)
    chunks = TrajectoryMatchingDistiller(n_iterations=2, warm_start=True, **kwargs).fit(X, y)
    experts = chunks.experts_
    chunks.fit(X, y)
    assert chunks.experts_ is experts  # reused, not retrained
    assert np.allclose(one.X_syn_, chunks.X_syn_, atol=1e-4)
    assert one.learned_lr_ == pytest.approx(chunks.learned_lr_, rel=1e-4)


@pytest.mark.parametrize("augmentation", [None, "dsa"])
@pytest.mark.parametrize("momentum_net", [0.0, 0.5])
def test_gradient_matching_cuda_graphs_equal_the_eager_path(
    augmentation, momentum_net, digits, full_fp32
):
    kwargs = dict(
        ipc=2,
        n_iterations=3,
        outer_loop=3,
        inner_loop=4,
        batch_net=12,
        momentum_net=momentum_net,
        module__width=8,
        augmentation=augmentation,
        random_state=0,
        device="cuda",
    )
    eager = GradientMatchingDistiller(cuda_graphs=False, **kwargs).fit(
        digits.X_train, digits.y_train
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # the capture must succeed
        graphs = GradientMatchingDistiller(cuda_graphs=True, **kwargs).fit(
            digits.X_train, digits.y_train
        )
    assert graphs.cuda_graphs_used_ and not eager.cuda_graphs_used_
    assert np.allclose(eager.loss_history_, graphs.loss_history_, rtol=1e-4)
    assert np.allclose(eager.X_syn_, graphs.X_syn_, atol=1e-4)


@pytest.mark.parametrize("batch_syn", [None, 4])
def test_trajectory_matching_cuda_graphs_equal_the_eager_path(batch_syn, tiny_images, full_fp32):
    X, y = tiny_images
    kwargs = dict(
        ipc=2,
        n_iterations=4,
        n_experts=2,
        syn_steps=5,
        max_start_epoch=2,
        zca=True,
        lr_img=10.0,
        batch_syn=batch_syn,
        module__width=4,
        device="cuda",
        random_state=0,
    )
    eager = TrajectoryMatchingDistiller(cuda_graphs=False, **kwargs).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        graphs = TrajectoryMatchingDistiller(
            cuda_graphs=True, experts=eager.experts_, **kwargs
        ).fit(X, y)
    assert graphs.cuda_graphs_used_
    assert np.allclose(eager.loss_history_, graphs.loss_history_, rtol=1e-4)
    assert np.allclose(eager.X_syn_, graphs.X_syn_, atol=1e-4)
    assert eager.learned_lr_ == pytest.approx(graphs.learned_lr_, rel=1e-5)
