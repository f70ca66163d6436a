import pytest
import torch

from sklearn_ltdd.augmentation import DSA, CropFlip, get_augmentation
from sklearn_ltdd.augmentation._dsa import _translate


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


def test_translate_zero_fills():
    x = torch.arange(16.0).view(1, 1, 4, 4)
    out = _translate(x, torch.tensor([1]), torch.tensor([-1]), 2)
    expected = torch.tensor([[0, 4, 5, 6], [0, 8, 9, 10], [0, 12, 13, 14], [0, 0, 0, 0]]).float()
    assert torch.equal(out[0, 0], expected)


@pytest.mark.parametrize("op", ["color", "crop", "cutout", "flip", "scale", "rotate"])
def test_each_operation_keeps_shape_and_is_differentiable(op):
    x = torch.randn(6, 3, 16, 16, requires_grad=True)
    out = DSA(strategy=op)(x, gen())
    assert out.shape == x.shape
    out.square().sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()


def test_siamese_rows_give_identical_transforms():
    dsa = DSA()
    for seed in range(10):  # whichever operation is drawn
        params = dsa.sample(1, gen(seed))
        image = torch.randn(1, 3, 16, 16)
        a = dsa.apply(image.expand(4, -1, -1, -1), params, torch.zeros(4, dtype=torch.long))
        b = dsa.apply(image, params, torch.zeros(1, dtype=torch.long))
        assert torch.allclose(a, b.expand(4, -1, -1, -1), atol=1e-6)


def test_one_operation_per_group():
    dsa = DSA()
    groups = torch.tensor([0, 0, 0, 1, 1, 1])
    params = dsa.sample(6, gen(1), groups=groups, n_groups=2)
    assert params["op"][:3].unique().numel() == 1 and params["op"][3:].unique().numel() == 1


def test_cutout_zeroes_a_half_side_square():
    x = torch.ones(50, 1, 16, 16)
    out = DSA(strategy="cutout")(x, gen())
    zeros = (out == 0).flatten(1).sum(1)
    assert zeros.max() == 64 and zeros.min() >= 4 * 4  # a corner keeps a quarter of it


def test_flip_and_color_match_reference_formulas():
    x = torch.randn(2, 3, 4, 4)
    flipped = DSA(strategy="flip", prob_flip=1.0)(x, gen())
    assert torch.equal(flipped, x.flip(3))
    dsa = DSA(strategy="color")
    p = dsa.sample(2, gen())
    out = dsa.apply(x, p)
    b, s, c = (p[k].view(-1, 1, 1, 1) for k in ("brightness", "saturation", "contrast"))
    ref = x + (b - 0.5) * 1.0
    ref = (ref - ref.mean(1, keepdim=True)) * (s * 2.0) + ref.mean(1, keepdim=True)
    ref = (ref - ref.mean((1, 2, 3), keepdim=True)) * (c + 0.5) + ref.mean((1, 2, 3), keepdim=True)
    assert torch.allclose(out, ref, atol=1e-5)


def test_rotation_by_the_largest_angle_is_exact():
    x = torch.zeros(1, 1, 9, 9)
    x[0, 0, 4, 8] = 1.0  # middle row, right edge
    dsa = DSA(strategy="rotate", ratio_rotate=90.0)
    params = {**dsa.sample(1, gen()), "rotate": torch.tensor([1.0])}  # the +90 degree end
    out = dsa.apply(x, params)
    assert out[0, 0].argmax().item() == 4  # top row, middle column
    assert out.sum().item() == pytest.approx(1.0, abs=1e-5)


def test_reproducible_from_generator():
    x = torch.randn(8, 3, 16, 16)
    assert torch.equal(DSA()(x, gen(5)), DSA()(x, gen(5)))
    assert torch.equal(CropFlip()(x, gen(5)), CropFlip()(x, gen(5)))


def test_crop_flip_translations_within_padding():
    x = torch.ones(200, 1, 8, 8)
    out = CropFlip(padding=2, prob_flip=0.0)(x, gen())
    zero_rows = (out[:, 0].sum(2) == 0).sum(1)
    assert zero_rows.max() <= 2 and zero_rows.min() == 0


def test_registry_and_errors():
    assert get_augmentation(None) is None and get_augmentation("none") is None
    assert isinstance(get_augmentation("dsa"), DSA) and isinstance(
        get_augmentation("crop_flip"), CropFlip
    )
    with pytest.raises(
        ValueError,
        match=r"augmentation must be None, one of \['crop_flip', 'dsa', 'none', "
        r"'resized_crop_flip'\]",
    ):
        get_augmentation("mixup")
    with pytest.raises(ValueError, match="strategy must join operations"):
        DSA(strategy="color_jitter")
