import json

import numpy as np
import pytest
from imblearn.over_sampling import RandomOverSampler

from sklearn_ltdd._cli import build_parser, main
from sklearn_ltdd.sampling import ImageSampler, PrecomputedSampler


def test_precomputed_sampler_checks_its_data():
    X_syn, y_syn = np.zeros((4, 1, 4, 4)), np.array(["a", "a", "b", "b"])
    sampler = PrecomputedSampler(X_syn, y_syn)
    X, y = sampler.fit_resample(np.ones((3, 1, 4, 4)), ["a", "b", "a"])
    assert X.shape == (4, 1, 4, 4) and y == ["a", "a", "b", "b"]  # a list in, a list out
    with pytest.raises(ValueError, match=r"no images of classes \['c'\]"):
        sampler.fit_resample(np.ones((2, 1, 4, 4)), ["a", "c"])
    with pytest.raises(ValueError, match="samples of shape"):
        sampler.fit_resample(np.ones((2, 1, 5, 5)), ["a", "b"])


def test_image_sampler_keeps_image_shape():
    X = np.arange(5 * 2 * 3 * 3, dtype=np.float32).reshape(5, 2, 3, 3)
    y = np.array([0, 0, 0, 0, 1])
    X_res, y_res = ImageSampler(RandomOverSampler(random_state=0)).fit_resample(X, y)
    assert X_res.shape == (8, 2, 3, 3) and np.bincount(y_res).tolist() == [4, 4]
    assert all(any(np.array_equal(r, x) for x in X) for r in X_res)
    with pytest.raises(TypeError, match="fit_resample"):
        ImageSampler("not a sampler").fit_resample(X, y)


def test_cli_parser():
    args = build_parser().parse_args(["demo", "--ipc", "2"])
    assert args.ipc == 2 and args.width == 32 and args.iterations == 10
    with pytest.raises(SystemExit):
        build_parser().parse_args([])


def test_demo_runs_end_to_end(tmp_path, capsys):
    out = tmp_path / "demo.json"
    code = main(
        [
            "demo",
            "--width",
            "4",
            "--epochs",
            "2",
            "--distilled-epochs",
            "2",
            "--ipc",
            "1",
            "--iterations",
            "1",
            "--json",
            str(out),
        ]
    )
    assert code == 0
    printed = capsys.readouterr().out
    for row in (
        "Original",
        "GM Distilled",
        "Original + GM Distilled",
        "Group Acc (%)",
        "Cls Acc (%)",
    ):
        assert row in printed
    saved = json.loads(out.read_text())
    names = [r["name"] for r in saved["reports"]]
    assert names == ["Original", "GM Distilled", "Original + GM Distilled"]
    assert saved["reports"][1]["train_images"] == 10
    assert saved["reports"][2]["train_images"] == 503 + 10
    assert 0 <= saved["reports"][2]["group_acc"] <= 100
