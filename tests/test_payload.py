"""benchmarks/payload.py: CIFAR10-LT as one .npz that loads without ``datasets``."""

import importlib.util
import json
import subprocess
from pathlib import Path

import numpy as np
import pytest

from sklearn_ltdd.datasets import load_cifar10_lt

from .conftest import cifar10_source

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
FIELDS = [
    "X_train",
    "y_train",
    "X_test",
    "y_test",
    "target_names",
    "mean",
    "std",
    "class_counts",
    "DESCR",
]


def _load_script():
    spec = importlib.util.spec_from_file_location("payload", BENCHMARKS / "payload.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


payload = _load_script()


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """The "paper" payload of the local CIFAR-10 copy, exported once."""
    source = cifar10_source()
    if source is None:
        pytest.skip("no local CIFAR-10 copy (../shared/data/cifar10)")
    path = tmp_path_factory.mktemp("payload") / "cifar10_lt.npz"
    provenance = payload.export(source, path)
    return source, path, provenance


def _assert_same_bunch(got, expected):
    assert list(got) == FIELDS and list(expected) == FIELDS
    for field in FIELDS[:-1]:
        a, b = got[field], expected[field]
        assert a.dtype == b.dtype and a.shape == b.shape, field
        assert np.array_equal(a, b), field
    assert got.DESCR == expected.DESCR


def _fake_payload(path, profiles=("paper",), balanced=True):
    """A payload of 4 tiny training images and 2 test images, written by hand."""
    images = np.arange(4 * 32 * 32 * 3, dtype=np.uint8).reshape(4, 32, 32, 3)
    members = {
        "train_images": images,
        "train_labels": np.array([0, 0, 1, 1]),
        "train_index": np.arange(4),
        "X_test": images[:2],
        "y_test": np.array([0, 1]),
        "target_names": np.array(["a", "b"]),
        "mean": np.full(3, 0.5, dtype=np.float32),
        "std": np.full(3, 0.25, dtype=np.float32),
    }
    for name in profiles:
        members.update({f"{name}_rows": np.array([0, 1, 2]), f"{name}_descr": np.asarray("lt")})
        if balanced:
            members.update(
                {
                    f"{name}_balanced_rows": np.array([0, 2]),
                    f"{name}_balanced_descr": np.asarray("balanced"),
                }
            )
    members["provenance"] = np.asarray(
        json.dumps(
            {
                "format": payload.FORMAT,
                "format_version": payload.FORMAT_VERSION,
                "profiles": {name: {} for name in profiles},
            }
        )
    )
    np.savez(path, **members)
    return path


def test_export_then_load_equals_the_loader(exported):
    source, path, provenance = exported
    expected = load_cifar10_lt(source=source, max_per_class=1000)
    _assert_same_bunch(payload.load(path), expected)
    assert expected.class_counts.tolist() == [1000, 599, 359, 215, 129, 77, 46, 27, 16, 10]
    assert provenance["profiles"]["paper"]["n_train"] == 2478
    assert provenance["n_test"] == 10000
    assert payload.is_payload(path) and payload.is_payload(str(path))


def test_balanced_equals_the_figure1_loader_call(exported):
    source, path, provenance = exported
    per_class = 2478 // 10  # len(data.y_train) // len(data.target_names), as figure1
    expected = load_cifar10_lt(source=source, imbalance_ratio=1, max_per_class=per_class)
    _assert_same_bunch(payload.load(path, balanced=True), expected)
    assert expected.class_counts.tolist() == [247] * 10
    assert provenance["profiles"]["paper"]["balanced_per_class"] == 247


def test_file_stores_uint8_images_once(exported):
    _, path, provenance = exported
    with np.load(path, allow_pickle=False) as data:
        assert data["train_images"].dtype == np.uint8
        assert data["train_images"].shape == (provenance["n_train_images_stored"], 32, 32, 3)
        assert data["X_test"].dtype == np.uint8 and data["X_test"].shape == (10000, 32, 32, 3)
        assert data["y_test"].dtype == np.int64 and data["train_labels"].dtype == np.int64
        assert np.all(np.diff(data["train_index"]) > 0)
    # the long-tailed and the balanced subsets share images; each is stored once
    assert provenance["n_train_images_stored"] < 2478 + 2470


def test_load_fake_payload_and_missing_profile(tmp_path):
    path = _fake_payload(tmp_path / "fake.npz")
    data = payload.load(path)
    assert data.X_train.shape == (3, 3, 32, 32) and data.X_train.dtype == np.float32
    assert data.class_counts.tolist() == [2, 1] and data.DESCR == "lt"
    assert payload.load(path, balanced=True).y_train.tolist() == [0, 1]
    with pytest.raises(ValueError, match=r"not profile='standard'.*--profiles paper standard"):
        payload.load(path, profile="standard")
    with pytest.raises(ValueError, match="profile must be one of"):
        payload.load(path, profile="cpu")
    unbalanced = _fake_payload(tmp_path / "unbalanced.npz", balanced=False)
    assert payload.load(unbalanced).DESCR == "lt"
    with pytest.raises(ValueError, match="without its balanced subset"):
        payload.load(unbalanced, balanced=True)


def test_not_a_payload(tmp_path):
    other = tmp_path / "other.npz"
    np.savez(other, X=np.zeros(2))
    with pytest.raises(ValueError, match="not a CIFAR10-LT payload"):
        payload.load(other)
    assert payload.is_payload(_fake_payload(tmp_path / "fake.npz"))
    for source in [other, tmp_path, tmp_path / "missing.npz", "uoft-cs/cifar10", None, 3]:
        assert not payload.is_payload(source)
    (tmp_path / "broken.npz").write_bytes(b"not a zip")
    assert not payload.is_payload(tmp_path / "broken.npz")


def test_export_checks_its_arguments(tmp_path):
    with pytest.raises(ValueError, match="profiles must be a non-empty list"):
        payload.export("unused", tmp_path / "x.npz", profiles=["cpu"])
    with pytest.raises(ValueError, match="path must end in .npz"):
        payload.export("unused", tmp_path / "x.zip")


def test_profile_name():
    assert payload.profile_name(1000) == "paper" and payload.profile_name(None) == "standard"
    with pytest.raises(ValueError, match="max_per_class=7"):
        payload.profile_name(7)


def test_check_sizes_on_a_small_folder(tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "a.npz").write_bytes(b"x" * 100)
    (tmp_path / "wheels").mkdir()
    (tmp_path / "wheels" / "b.whl").write_bytes(b"y" * 20)
    (tmp_path / "link").symlink_to(tmp_path / "data" / "a.npz")
    sizes = payload.check_sizes(tmp_path, tree_bytes=30, limit=200)
    assert sizes["folder_bytes"] == 120 and sizes["total"] == 150 and sizes["over"] == 0
    assert sizes["parts"] == {"data/": 100, "wheels/": 20}
    assert payload.check_sizes(tmp_path, tree_bytes=30, limit=140)["over"] == 10
    with pytest.raises(FileNotFoundError, match="No folder"):
        payload.folder_bytes(tmp_path / "missing")
    with pytest.raises(OSError, match="pass tree_bytes"):
        payload.working_tree_bytes(tmp_path)


def _git_repo(path, files):
    """A git working tree at ``path`` with ``files`` (name -> bytes) committed."""
    subprocess.run(["git", "init", "-q", str(path)], check=True)
    for name, data in files.items():
        (path / name).parent.mkdir(parents=True, exist_ok=True)
        (path / name).write_bytes(data)
    subprocess.run(["git", "add", "."], cwd=path, check=True)
    return path


def test_check_command_exit_status(tmp_path, capsys):
    # on a repository of its own: the check must not depend on this one's size
    repo = _git_repo(tmp_path / "repo", {"code.py": b"y" * 500})
    (tmp_path / "device").mkdir()
    (tmp_path / "device" / "a.bin").write_bytes(b"x" * 1000)
    folder = str(tmp_path / "device")
    assert payload.main(["check", folder, "--repo", str(repo)]) == 0
    out = capsys.readouterr().out
    assert "fits:" in out and "(1,500 bytes) of 64.00 MiB" in out
    assert payload.main(["check", folder, "--repo", str(repo), "--limit", "1499"]) == 1
    assert "over the limit" in capsys.readouterr().err


def test_the_tree_a_window_carries_leaves_room_for_the_payload():
    # prepare_payload.sh parks the committed CPU artifacts (the window never reads them);
    # what else travels must leave room for the paper profile's payload (36.9 MiB) and
    # the wheels (9.7 MiB; both measured 2026-12-06, benchmarks/README.md)
    repo = BENCHMARKS.parent
    try:
        tree = payload.working_tree_bytes(repo, exclude=repo / payload.CPU_ARTIFACTS)
    except OSError:
        pytest.skip("not a git checkout")
    room = payload.CARRY_LIMIT - int((36.9 + 9.7) * 2**20)
    assert tree < room, f"the carried tree is {tree:,} bytes; at most {room:,} fit"
