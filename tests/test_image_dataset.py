"""load_image_dataset on tiny image folders and Parquet folders built in tmp_path."""

import numpy as np
import pytest
from PIL import Image

from sklearn_ltdd.datasets import _image_dataset, load_image_dataset

datasets = pytest.importorskip("datasets")

CLASSES = ["bird", "cat", "dog"]


@pytest.fixture(autouse=True)
def _no_global_hf_cache(tmp_path, monkeypatch):
    """Whatever ``datasets`` caches goes to tmp_path; nothing is downloaded."""
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", tmp_path / "hf")
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True)


def _save(path, mode, size, value):
    """A constant image: each class and mode gets a known pixel value."""
    channels = {"L": (), "RGB": (3,), "RGBA": (4,)}[mode]
    pixels = np.full((size, size, *channels), value, dtype=np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels, mode).save(path)


def make_image_folder(root, *, per_class=(6, 6, 6), modes=("L", "RGB", "RGBA"), sizes=(8, 10)):
    """root/<class>/<i>.png with modes and sizes cycling over the images."""
    for c, (name, n) in enumerate(zip(CLASSES, per_class)):
        for i in range(n):
            _save(
                root / name / f"{i}.png",
                modes[i % len(modes)],
                sizes[i % len(sizes)],
                value=50 * c + i,
            )
    return root


def make_parquet_folder(root, *, n_train=12, n_test=6, labels=True, names=("a", "b", "c")):
    """The hub's layout: data/train-*.parquet and data/test-*.parquet, grey 8x8."""
    features = {"image": datasets.Image()}
    if labels:
        features["label"] = datasets.ClassLabel(names=list(names))
    for split, n in (("train", n_train), ("test", n_test)):
        if n == 0:
            continue
        rows = {
            "image": [Image.fromarray(np.full((8, 8), 10 * i, np.uint8), "L") for i in range(n)]
        }
        if labels:
            rows["label"] = [i % len(names) for i in range(n)]
        table = datasets.Dataset.from_dict(rows, features=datasets.Features(features))
        (root / "data").mkdir(parents=True, exist_ok=True)
        table.to_parquet(str(root / "data" / f"{split}-00000-of-00001.parquet"))
    return root


def test_image_folder_mixed_modes_and_sizes(tmp_path):
    root = make_image_folder(tmp_path / "images")
    sizes = r"different sizes \(height x width: 8x8, 10x10\).*image_size"
    with pytest.raises(ValueError, match=sizes):
        load_image_dataset(source=root, data_home=tmp_path / "cache")
    data = load_image_dataset(
        source=root, image_size=8, test_size=1 / 3, data_home=tmp_path / "cache"
    )
    assert data.X_train.shape == (12, 3, 8, 8) and data.X_train.dtype == np.float32
    assert data.X_test.shape == (6, 3, 8, 8) and data.X_test.dtype == np.float32
    assert data.target_names.tolist() == CLASSES
    assert data.y_train.dtype == np.int64 and data.class_counts.tolist() == [4, 4, 4]
    assert np.bincount(data.y_test).tolist() == [2, 2, 2]  # stratified
    assert data.mean.shape == (3,) and data.std.shape == (3,)
    flat = data.X_train.transpose(1, 0, 2, 3).reshape(3, -1)
    np.testing.assert_allclose(flat.mean(axis=1), 0, atol=1e-5)  # training statistics
    np.testing.assert_allclose(flat.std(axis=1), 1, atol=1e-4)
    assert "stratified split" in data.DESCR


def test_grey_rgb_rgba_pixels(tmp_path):
    """Grey images are repeated over RGB; RGBA drops alpha; pixels are exact."""
    root = make_image_folder(tmp_path / "images", sizes=(8,))
    X, y, X_test, y_test = load_image_dataset(
        source=root,
        test_size=3,
        mean=[0, 0, 0],
        std=[1, 1, 1],
        return_X_y=True,
        data_home=tmp_path / "cache",
    )
    assert X.shape[1:] == (3, 8, 8) and len(y) + len(y_test) == 18
    values = np.round(np.concatenate([X, X_test]) * 255).astype(int)
    assert (values == values[:, :, :1, :1]).all()  # constant images, equal channels
    expected = sorted(50 * c + i for c in range(3) for i in range(6))
    assert sorted(values[:, 0, 0, 0].tolist()) == expected


def test_grey_only_keeps_one_channel(tmp_path):
    root = make_image_folder(tmp_path / "images", modes=("L",), sizes=(8,))
    data = load_image_dataset(source=root, data_home=tmp_path / "cache")
    assert data.X_train.shape[1:] == (1, 8, 8) and data.mean.shape == (1,)


def test_train_and_test_folders(tmp_path):
    root = tmp_path / "images"
    make_image_folder(root / "train", sizes=(8,))
    make_image_folder(root / "test", per_class=(2, 2, 2), sizes=(8,))
    data = load_image_dataset(source=root, data_home=tmp_path / "cache")
    assert data.class_counts.tolist() == [6, 6, 6]
    assert np.bincount(data.y_test).tolist() == [2, 2, 2]
    assert "the source's test split" in data.DESCR


def test_parquet_folder(tmp_path):
    root = make_parquet_folder(tmp_path / "parquet")
    data = load_image_dataset(source=root, data_home=tmp_path / "cache")
    assert data.X_train.shape == (12, 1, 8, 8) and data.X_test.shape == (6, 1, 8, 8)
    assert data.target_names.tolist() == ["a", "b", "c"]
    assert data.y_train.tolist() == [0, 1, 2] * 4 and data.y_test.tolist() == [0, 1, 2] * 2
    expected_mean = np.arange(12).mean() * 10 / 255
    np.testing.assert_allclose(data.mean, [expected_mean], rtol=1e-6)


def test_parquet_string_labels_and_named_columns(tmp_path):
    """Labels without a ClassLabel feature become codes of the sorted values."""
    root = tmp_path / "parquet"
    rows = {
        "pixels": [Image.fromarray(np.full((8, 8, 3), i, np.uint8)) for i in range(8)],
        "species": ["owl", "cat"] * 4,
    }
    root.mkdir()
    datasets.Dataset.from_dict(rows).to_parquet(str(root / "train.parquet"))
    data = load_image_dataset(
        source=root,
        image_column="pixels",
        label_column="species",
        test_size=0.5,
        data_home=tmp_path / "cache",
    )
    assert data.target_names.tolist() == ["cat", "owl"]
    assert np.bincount(data.y_train).tolist() == [2, 2] and len(data.y_test) == 4
    with pytest.raises(ValueError, match=r"label_column='kind' is not a column.*'species'"):
        load_image_dataset(source=root, label_column="kind", data_home=tmp_path / "cache")


def test_long_tailed_profile(tmp_path):
    root = make_image_folder(tmp_path / "images", per_class=(10, 10, 10), sizes=(8,))
    data = load_image_dataset(
        source=root, test_size=0.2, imbalance_ratio=4, data_home=tmp_path / "cache"
    )
    assert data.class_counts.tolist() == [8, 4, 2]  # 8 * 4 ** (-c / 2)
    assert np.bincount(data.y_test).tolist() == [2, 2, 2]  # the test set stays balanced
    again = load_image_dataset(
        source=root, test_size=0.2, imbalance_ratio=4, data_home=tmp_path / "cache"
    )
    assert np.array_equal(data.X_train, again.X_train)  # seeded
    capped = load_image_dataset(
        source=root, test_size=0.2, max_per_class=3, data_home=tmp_path / "cache"
    )
    assert capped.class_counts.tolist() == [3, 3, 3]
    flat = data.X_train.transpose(1, 0, 2, 3).reshape(3, -1)  # statistics after selection
    np.testing.assert_allclose(flat.mean(axis=1), 0, atol=1e-5)


def test_cache_is_read_on_the_second_call(tmp_path, monkeypatch):
    root = make_image_folder(tmp_path / "images", sizes=(8,))
    first = load_image_dataset(source=root, data_home=tmp_path / "cache")
    assert len(list((tmp_path / "cache").glob("images-*.npz"))) == 1

    def fail(*args, **kwargs):
        raise AssertionError("decoded again instead of reading the cache")

    monkeypatch.setattr(_image_dataset, "_decode_source", fail)
    second = load_image_dataset(source=root, data_home=tmp_path / "cache")
    assert np.array_equal(first.X_train, second.X_train)
    assert np.array_equal(first.target_names, second.target_names)
    with pytest.raises(AssertionError, match="decoded again"):  # other options: other file
        load_image_dataset(source=root, image_size=4, data_home=tmp_path / "cache")
    with pytest.raises(AssertionError, match="decoded again"):
        load_image_dataset(source=root, cache=False, data_home=tmp_path / "cache")


def test_no_cache_writes_no_file(tmp_path):
    root = make_image_folder(tmp_path / "images", sizes=(8,))
    load_image_dataset(source=root, cache=False, data_home=tmp_path / "cache")
    assert list((tmp_path / "cache").iterdir()) == []  # the scratch folder is removed


def test_missing_folder(tmp_path):
    for source in (tmp_path / "missing", str(tmp_path / "missing"), "./missing/folder"):
        with pytest.raises(OSError, match=r"source=.*missing.*is not an existing folder"):
            load_image_dataset(source=source, data_home=tmp_path / "cache")


def test_folder_without_data(tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("nothing here")
    with pytest.raises(OSError, match=r"source=.*holds no Parquet.*no images"):
        load_image_dataset(source=tmp_path / "empty", data_home=tmp_path / "cache")


def test_one_class(tmp_path):
    root = make_image_folder(tmp_path / "images", per_class=(6,), sizes=(8,))
    with pytest.raises(ValueError, match=r"source=.*only one class \('bird'\).*root/<class>/"):
        load_image_dataset(source=root, data_home=tmp_path / "cache")
    flat = tmp_path / "flat"
    for i in range(4):  # images without class folders: one class, the folder's name
        _save(flat / f"{i}.png", "L", 8, i)
    with pytest.raises(ValueError, match="only one class"):
        load_image_dataset(source=flat, data_home=tmp_path / "cache")


def test_no_label_column(tmp_path):
    root = make_parquet_folder(tmp_path / "parquet", labels=False)
    with pytest.raises(
        ValueError,
        match=r"label column of source=.*columns are \['image'\]"
        r".*label_column=",
    ):
        load_image_dataset(source=root, data_home=tmp_path / "cache")


def test_test_split_too_small(tmp_path):
    root = make_image_folder(tmp_path / "images", per_class=(2, 2, 1), sizes=(8,))
    with pytest.raises(ValueError, match=r"source=.*no test split.*test_size=0.2"):
        load_image_dataset(source=root, data_home=tmp_path / "cache")


@pytest.mark.parametrize("image_size", [0, (8,), (8, 0), "8", 2.5, True])
def test_bad_image_size(image_size, tmp_path):
    with pytest.raises(ValueError, match="image_size must be a positive int"):
        load_image_dataset(source=tmp_path, image_size=image_size)


def test_mean_and_std_together(tmp_path):
    root = make_image_folder(tmp_path / "images", sizes=(8,))
    with pytest.raises(ValueError, match="mean and std must be given together"):
        load_image_dataset(source=root, mean=[0.5] * 3, data_home=tmp_path / "cache")


def test_source_is_the_first_positional_argument(tmp_path):
    # As datasets.load_dataset(path) and torchvision's ImageFolder(root).
    root = make_parquet_folder(tmp_path / "parquet")
    by_position = load_image_dataset(root, data_home=tmp_path / "cache")
    by_keyword = load_image_dataset(source=root, data_home=tmp_path / "cache")
    np.testing.assert_array_equal(by_position.X_train, by_keyword.X_train)
    np.testing.assert_array_equal(by_position.y_test, by_keyword.y_test)


@pytest.mark.parametrize("verbose", [0, 1])
def test_reading_a_local_copy_is_quiet_unless_verbose(verbose, tmp_path, capfd):
    # A README without a metadata block makes the hub log "Repo card metadata
    # block was not found"; datasets draws "Generating train split" bars.
    root = make_parquet_folder(tmp_path / "parquet")
    (root / "README.md").write_text("# a local copy\n")
    capfd.readouterr()  # what writing the Parquet files printed
    before = datasets.is_progress_bar_enabled()
    load_image_dataset(root, data_home=tmp_path / "cache", cache=False, verbose=verbose)
    printed = "".join(capfd.readouterr())
    if verbose:
        assert "Generating train split" in printed
    else:
        assert printed == ""
    assert datasets.is_progress_bar_enabled() == before  # the user's setting is restored
