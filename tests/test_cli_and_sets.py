"""The command line's distill/evaluate round trip and distilled sets as files."""

import json

import numpy as np
import pytest

from sklearn_ltdd._cli import build_parser, main
from sklearn_ltdd.distillation import (
    DistributionMatchingDistiller,
    GradientMatchingDistiller,
    load_distilled_set,
    save_distilled_set,
    to_hf_dataset,
)


def test_distill_then_evaluate_round_trip(tmp_path, capsys):
    out = tmp_path / "gm.npz"
    assert (
        main(
            [
                "distill",
                "digits",
                "--method",
                "gm",
                "--ipc",
                "2",
                "--iterations",
                "2",
                "--width",
                "8",
                "--out",
                str(out),
                "--quiet",
            ]
        )
        == 0
    )
    loaded = load_distilled_set(out)
    assert loaded.X.shape == (20, 1, 16, 16) and loaded.method == "GradientMatchingDistiller"
    assert loaded.mean is not None and loaded.n_iterations == 2
    report_path = tmp_path / "report.json"
    plot_path = tmp_path / "per_class.png"
    assert (
        main(
            [
                "evaluate",
                "digits",
                "--train",
                str(out),
                "--two-stage",
                "--width",
                "8",
                "--epochs",
                "2",
                "--json",
                str(report_path),
                "--plot",
                str(plot_path),
                "--quiet",
            ]
        )
        == 0
    )
    report = json.loads(report_path.read_text())["report"]
    assert report["train_images"] == 503 + 20 and report["group_acc"] is not None
    assert plot_path.stat().st_size > 0
    printed = capsys.readouterr().out
    assert "Original + GradientMatching set" in printed and "Acc Std" in printed


def test_evaluate_on_the_original_data_with_a_long_tail_loss(tmp_path):
    report_path = tmp_path / "la.json"
    assert (
        main(
            [
                "evaluate",
                "digits",
                "--criterion",
                "logit_adjusted",
                "--width",
                "8",
                "--epochs",
                "2",
                "--json",
                str(report_path),
                "--quiet",
            ]
        )
        == 0
    )
    assert json.loads(report_path.read_text())["report"]["train_images"] == 503


def test_cli_help_has_examples():
    parser = build_parser()
    for command in ("distill", "evaluate"):
        sub = parser._subparsers._group_actions[0].choices[command]
        assert "examples:" in sub.format_help() and "sklearn-ltdd" in sub.format_help()
    with pytest.raises(SystemExit):
        parser.parse_args(["distill", "digits", "--method", "kip", "--out", "x.npz"])


def test_sets_round_trip_and_export_within_one_level(digits, tmp_path):
    gm = GradientMatchingDistiller(ipc=2, n_iterations=1, module__width=4, random_state=0).fit(
        digits.X_train, digits.y_train
    )
    save_distilled_set(tmp_path / "set.npz", gm, mean=digits.mean, std=digits.std)
    loaded = load_distilled_set(tmp_path / "set.npz")
    assert np.array_equal(loaded.X, gm.X_syn_) and np.array_equal(loaded.y, gm.y_syn_)
    assert loaded.params["ipc"] == 2 and loaded.sklearn_ltdd_version
    dataset = to_hf_dataset(tmp_path / "set.npz")
    assert dataset.features["label"].names == [str(c) for c in gm.classes_]
    pixels = np.stack([np.asarray(img, dtype=np.float32) for img in dataset["image"]]) / 255.0
    expected = np.clip(gm.X_syn_[:, 0] * digits.std[0] + digits.mean[0], 0, 1)
    assert np.abs(pixels - expected).max() <= 1 / 255 + 1e-6
    assert dataset["label"] == [int(c) for c in gm.y_syn_]


def test_sets_errors(digits, tmp_path):
    dm = DistributionMatchingDistiller(
        method="idm", ipc=1, n_iterations=1, module__width=4, random_state=0
    )
    dm.fit(digits.X_train, digits.y_train)
    save_distilled_set(tmp_path / "idm.npz", dm)  # without the normalisation
    assert load_distilled_set(tmp_path / "idm.npz").images_per_class == 4
    with pytest.raises(ValueError, match="saved without its normalisation"):
        to_hf_dataset(tmp_path / "idm.npz")
    with pytest.raises(ValueError, match="give both mean and std"):
        save_distilled_set(tmp_path / "x.npz", dm, mean=[0.5])
    dm.save_checkpoint(tmp_path / "ckpt.npz")
    with pytest.raises(ValueError, match="checkpoints load with load_checkpoint"):
        load_distilled_set(tmp_path / "ckpt.npz")


@pytest.mark.filterwarnings("error::FutureWarning")  # the CLI uses no deprecated name
def test_statistics_matching_and_a_student_of_a_teacher(tmp_path):
    out = tmp_path / "sm.npz"
    assert (
        main(
            [
                "distill",
                "digits",
                "--method",
                "sm",
                "--ipc",
                "2",
                "--iterations",
                "2",
                "--width",
                "8",
                "--teacher-epochs",
                "2",
                "--debias",
                "logit_adjusted",
                "--ce-target",
                "class_mean",
                "--out",
                str(out),
                "--quiet",
            ]
        )
        == 0
    )
    loaded = load_distilled_set(out)
    assert loaded.method == "StatisticsMatchingDistiller" and loaded.soft_labels.shape == (20, 10)
    assert loaded.params["debias"] == "logit_adjusted" and loaded.params["teacher_epochs"] == 2
    assert loaded.params["ce_target"] == "class_mean"  # the option other than the default
    report_path = tmp_path / "report.json"
    assert (
        main(
            [
                "evaluate",
                "digits",
                "--train",
                str(out),
                "--teacher",
                "--teacher-epochs",
                "2",
                "--width",
                "8",
                "--epochs",
                "2",
                "--json",
                str(report_path),
                "--quiet",
            ]
        )
        == 0
    )
    report = json.loads(report_path.read_text())["report"]
    assert report["name"] == "StatisticsMatching set, soft labels"
    assert report["train_images"] == 20


def test_coreset_from_the_command_line(tmp_path):
    out = tmp_path / "coreset.npz"
    assert (
        main(
            [
                "distill",
                "digits",
                "--method",
                "coreset",
                "--strategy",
                "difficulty",
                "--ipc",
                "3",
                "--width",
                "8",
                "--out",
                str(out),
                "--quiet",
            ]
        )
        == 0
    )
    loaded = load_distilled_set(out)
    assert loaded.method == "CoresetSampler" and loaded.X.shape == (30, 1, 16, 16)
    assert loaded.params["strategy"] == "difficulty"
    assert (
        main(
            ["evaluate", "digits", "--train", str(out), "--width", "8", "--epochs", "2", "--quiet"]
        )
        == 0
    )
