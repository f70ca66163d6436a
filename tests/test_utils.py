import numpy as np
import pytest
import torch

from sklearn_ltdd.utils import (
    check_image_array,
    check_images_labels,
    images_from_uint8,
    resolve_device,
    torch_generator,
)
from sklearn_ltdd.utils._random import forked_torch_rng


def test_images_from_uint8_layout_and_scaling():
    images = np.zeros((2, 3, 4, 3), dtype=np.uint8)
    images[0, 0, 1, 2] = 255  # pixel (0, 1) of channel 2 of the first image
    X = images_from_uint8(images)
    assert X.shape == (2, 3, 3, 4) and X.dtype == np.float32
    assert X[0, 2, 0, 1] == 1.0 and X.sum() == 1.0
    Xn = images_from_uint8(images, mean=[0.5, 0.5, 0.5], std=[0.25, 0.25, 0.25])
    assert Xn[0, 2, 0, 1] == pytest.approx(2.0) and Xn[1, 0, 0, 0] == pytest.approx(-2.0)


def test_images_from_uint8_grayscale_and_errors():
    assert images_from_uint8(np.zeros((2, 5, 5), dtype=np.uint8)).shape == (2, 1, 5, 5)
    with pytest.raises(ValueError, match="uint8"):
        images_from_uint8(np.zeros((2, 5, 5, 3)))
    with pytest.raises(ValueError, match=r"\(n, H, W, C\)"):
        images_from_uint8(np.zeros((2, 5), dtype=np.uint8))
    with pytest.raises(ValueError, match="one value per channel"):
        images_from_uint8(np.zeros((1, 2, 2, 3), dtype=np.uint8), mean=[0.5], std=[0.5])
    with pytest.raises(ValueError, match="together"):
        images_from_uint8(np.zeros((1, 2, 2, 3), dtype=np.uint8), mean=[0.5] * 3)


@pytest.mark.parametrize(
    "X, match",
    [
        (
            np.zeros((2, 8, 8)),
            r"4-D array .* got shape \(2, 8, 8\). For single-channel images use X\[:, None\]",
        ),
        (np.zeros((2, 64)), "use module=MLP"),
        (np.zeros((0, 1, 8, 8)), r"Found array with 0 sample\(s\)"),
        (np.zeros((2, 0, 8, 8)), r"0 feature\(s\) .* empty axis"),
        (np.full((2, 1, 2, 2), np.nan), "NaN or infinity in 2 sample"),
        (np.array([[[[np.inf]]]]), "NaN or infinity"),
        (np.array([["a"]], dtype="<U1"), "must hold numbers"),
        (np.array([[1 + 2j]]), "Complex data not supported"),
        (np.zeros(3), "Reshape your data"),
    ],
)
def test_check_image_array_errors(X, match):
    with pytest.raises(ValueError, match=match):
        check_image_array(X)


def test_check_image_array_accepts_tensors_and_casts():
    X = check_image_array(torch.ones(2, 1, 3, 3, dtype=torch.float64))
    assert X.dtype == np.float32 and X.flags["C_CONTIGUOUS"]
    assert check_image_array(np.ones((3, 4)), ndim=(2,)).shape == (3, 4)


def test_check_image_array_rejects_sparse():
    from scipy import sparse

    with pytest.raises(TypeError, match="toarray"):
        check_image_array(sparse.csr_matrix(np.eye(3)), ndim=(2,))


@pytest.mark.parametrize(
    "y, match",
    [
        (["a", "a", "a"], r"only one class \('a'\)"),
        ([0.5, 1.5, 2.5], "Unknown label type: 'continuous'"),
        ([0, 1], "inconsistent numbers of samples"),
        (np.array([1, "a", 2], dtype=object), "mixes label types"),
        ([0.0, np.nan, 1.0], "NaN or infinity"),
        (None, "requires y to be passed"),
        (np.zeros((3, 2)), "1-D class labels"),
    ],
)
def test_check_images_labels_errors(y, match):
    with pytest.raises(ValueError, match=match):
        check_images_labels(np.zeros((3, 1, 2, 2)), y)


def test_resolve_device():
    assert resolve_device("cpu") == torch.device("cpu")
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert resolve_device("auto").type == expected
    assert resolve_device(None).type == expected
    with pytest.raises(ValueError, match="device must be"):
        resolve_device("gpu-please")


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_resolve_device_cuda_without_cuda():
    with pytest.raises(ValueError, match="CUDA is not available .* device='auto'"):
        resolve_device("cuda")


def test_torch_generator_reproducible_and_global_rng_untouched():
    state = torch.random.get_rng_state()
    a = torch.rand(4, generator=torch_generator(3))
    b = torch.rand(4, generator=torch_generator(3))
    c = torch.rand(4, generator=torch_generator(4))
    assert torch.equal(a, b) and not torch.equal(a, c)
    with forked_torch_rng(123):
        inside = torch.rand(2)
    with forked_torch_rng(123):
        assert torch.equal(inside, torch.rand(2))
    assert torch.equal(state, torch.random.get_rng_state())


def test_forked_seeding_leaves_cuda_generators_alone(monkeypatch):
    # torch.manual_seed would reseed every CUDA generator, which fork_rng(devices=[]) neither
    # saves nor restores: the library seeds only what it forked (issue 28).
    from sklearn_ltdd.augmentation import BatchMixing

    calls = []
    monkeypatch.setattr(torch.cuda, "manual_seed_all", lambda seed: calls.append(seed))
    monkeypatch.setattr(torch.cuda, "manual_seed", lambda seed: calls.append(seed))
    with forked_torch_rng(7):
        torch.rand(1)
    mix = BatchMixing("mixup_or_cutmix", n_classes=3)
    x, y = mix(
        torch.randn(4, 1, 8, 8), torch.tensor([0, 1, 2, 0]), torch.Generator().manual_seed(0)
    )
    assert calls == []
    again = mix(
        torch.randn(4, 1, 8, 8), torch.tensor([0, 1, 2, 0]), torch.Generator().manual_seed(0)
    )[1]
    assert torch.equal(y, again)  # still seeded from the caller's generator
