import numpy as np
import pytest
from sklearn.model_selection import cross_val_score
from sklearn.tree import DecisionTreeClassifier

from sklearn_ltdd.metrics import (
    acc_std_scorer,
    class_accuracy_std,
    format_long_tail_table,
    group_accuracy,
    long_tail_report,
    per_class_accuracy,
    shot_accuracy,
    worst_class_accuracy,
    worst_class_scorer,
)

Y_TRUE = np.array([0, 0, 0, 0, 1, 1, 2, 2])
Y_PRED = np.array([0, 0, 0, 1, 1, 0, 0, 2])
# per class: 3/4, 1/2, 1/2


def test_per_class_and_std():
    assert per_class_accuracy(Y_TRUE, Y_PRED).tolist() == [0.75, 0.5, 0.5]
    assert class_accuracy_std(Y_TRUE, Y_PRED) == pytest.approx(np.std([0.75, 0.5, 0.5]))
    assert worst_class_accuracy(Y_TRUE, Y_PRED) == 0.5
    acc = per_class_accuracy(Y_TRUE, Y_PRED, labels=[2, 9])
    assert acc[0] == 0.5 and np.isnan(acc[1])


def test_group_accuracy():
    groups = [[0, 1], [2]]
    # true groups 0,0,0,0,0,0,1,1; predicted 0,0,0,0,0,0,0,1
    assert group_accuracy(Y_TRUE, Y_PRED, groups) == 7 / 8
    with pytest.raises(ValueError, match=r"labels \[2\] are in no group"):
        group_accuracy(Y_TRUE, Y_PRED, [[0, 1]])
    with pytest.raises(ValueError, match="more than one group"):
        group_accuracy(Y_TRUE, Y_PRED, [[0, 1], [1, 2]])


def test_shot_accuracy_thresholds():
    counts = {0: 500, 1: 50, 2: 5}
    assert shot_accuracy(Y_TRUE, Y_PRED, counts) == {"many": 0.75, "medium": 0.5, "few": 0.5}
    out = shot_accuracy(Y_TRUE, Y_PRED, [500, 50, 5], many_threshold=600, few_threshold=10)
    assert np.isnan(out["many"]) and out["medium"] == 0.625 and out["few"] == 0.5
    with pytest.raises(ValueError, match="pass a dict"):
        shot_accuracy(Y_TRUE, Y_PRED, [1, 2])


def test_long_tail_report_values_and_table(capsys):
    report = long_tail_report(
        Y_TRUE,
        Y_PRED,
        train_counts=[500, 50, 5],
        groups=[[0, 1], [2]],
        target_names=["a", "b", "c"],
        name="row",
        n_train_images=555,
    )
    assert report["total_acc"] == 62.5 and report["balanced_acc"] == pytest.approx(175 / 3)
    assert report["acc_std"] == pytest.approx(100 * np.std([0.75, 0.5, 0.5]))
    assert report["per_class_acc"] == {"a": 75.0, "b": 50.0, "c": 50.0}
    assert report["group_acc"] == 87.5 and report["few_shot"] == 50.0
    printed = capsys.readouterr().out
    assert "Group Acc (%)" in printed and "row" in printed and "555" in printed
    assert long_tail_report(Y_TRUE, Y_PRED, verbose=False)["train_images"] is None
    assert capsys.readouterr().out == ""
    table = format_long_tail_table([report, {**report, "name": "other"}])
    assert table.count("row") == 2 and "other" in table and "Cls Acc (%)" in table
    with pytest.raises(ValueError, match="target_names has 2 names for 3 classes"):
        long_tail_report(Y_TRUE, Y_PRED, target_names=["a", "b"], verbose=False)


def test_empty_and_mismatched_inputs():
    with pytest.raises(ValueError, match="empty"):
        per_class_accuracy([], [])
    with pytest.raises(ValueError, match="inconsistent"):
        per_class_accuracy([0, 1], [0])


def test_scorers_in_cross_validation():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(60, 3))
    y = (X[:, 0] > 0).astype(int)
    std = cross_val_score(
        DecisionTreeClassifier(random_state=0), X, y, cv=3, scoring=acc_std_scorer
    )
    worst = cross_val_score(
        DecisionTreeClassifier(random_state=0), X, y, cv=3, scoring=worst_class_scorer
    )
    assert np.all(std <= 0) and np.all((worst >= 0) & (worst <= 1))
