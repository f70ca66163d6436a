import matplotlib.pyplot as plt
import numpy as np
import pytest
from sklearn.datasets import make_blobs
from sklearn.linear_model import LinearRegression, LogisticRegression

from sklearn_ltdd.metrics import (
    PerClassAccuracyDisplay,
    class_accuracy_std,
    per_class_accuracy,
    shot_accuracy,
)

# Class 0: 2/4 right, class 1: 3/3, class 2: 1/2, class 3: 0/1.
Y_TRUE = np.array([0, 0, 0, 0, 1, 1, 1, 2, 2, 3])
Y_PRED = np.array([0, 0, 1, 2, 1, 1, 1, 2, 0, 0])
ACC = np.array([50.0, 100.0, 50.0, 0.0])
# Head to tail: class 1 (500 images), 3 (150), 2 (50), 0 (5).
COUNTS = np.array([5, 500, 50, 150])
HEAD_TO_TAIL = [1, 3, 2, 0]


@pytest.fixture(autouse=True)
def _close_new_figures():
    before = set(plt.get_fignums())
    yield
    for number in set(plt.get_fignums()) - before:
        plt.close(number)


def test_from_predictions_heights_and_head_to_tail_order():
    disp = PerClassAccuracyDisplay.from_predictions(
        Y_TRUE, Y_PRED, train_counts=COUNTS, target_names=["a", "b", "c", "d"]
    )
    assert disp.per_class_accuracy.tolist() == ACC.tolist()  # in label order
    assert disp.bars_.datavalues.tolist() == ACC[HEAD_TO_TAIL].tolist()
    assert [bar.get_x() + bar.get_width() / 2 for bar in disp.bars_] == [0, 1, 2, 3]
    ticks = [tick.get_text() for tick in disp.ax_.get_xticklabels()]
    assert ticks == ["b\n(500)", "d\n(150)", "c\n(50)", "a\n(5)"]
    assert disp.total_accuracy == 60.0
    assert disp.acc_std == pytest.approx(np.std(ACC))
    assert disp.acc_std == pytest.approx(100 * class_accuracy_std(Y_TRUE, Y_PRED))
    assert disp.ax_.get_title() == f"Total Acc 60.0%, Acc Std {np.std(ACC):.1f}%"
    assert "head to tail" in disp.ax_.get_xlabel()
    assert disp.figure_ is disp.ax_.figure


def test_bands_follow_shot_accuracy_thresholds():
    disp = PerClassAccuracyDisplay.from_predictions(Y_TRUE, Y_PRED, train_counts=COUNTS)
    assert list(disp.bands_) == ["many", "medium", "few"]
    extents = {
        band: [(span.get_x(), span.get_x() + span.get_width()) for span in spans]
        for band, spans in disp.bands_.items()
    }
    assert extents == {"many": [(-0.5, 1.5)], "medium": [(1.5, 2.5)], "few": [(2.5, 3.5)]}
    texts = [text.get_text() for text in disp.ax_.texts]
    shots = shot_accuracy(Y_TRUE, Y_PRED, COUNTS)
    assert texts == [
        f"many-shot\n{100 * shots['many']:.1f}%",
        f"medium-shot\n{100 * shots['medium']:.1f}%",
        f"few-shot\n{100 * shots['few']:.1f}%",
    ]
    # The edges of shot_accuracy: >100 many, 20..100 medium, <20 few.
    edges = PerClassAccuracyDisplay(
        [1.0, 2.0, 3.0, 4.0], class_names=list("abcd"), train_counts=[101, 100, 20, 19]
    ).plot()
    assert {band: len(spans) for band, spans in edges.bands_.items()} == {
        "many": 1,
        "medium": 1,
        "few": 1,
    }
    assert edges.bands_["medium"][0].get_width() == 2


def test_bands_in_label_order_are_split_into_runs():
    disp = PerClassAccuracyDisplay.from_predictions(
        Y_TRUE, Y_PRED, train_counts=COUNTS, order="labels"
    )
    assert disp.bars_.datavalues.tolist() == ACC.tolist()
    assert list(disp.bands_) == ["few", "many", "medium"]
    assert [len(spans) for spans in disp.bands_.values()] == [1, 2, 1]
    assert len(disp.ax_.texts) == 3  # each band labelled once
    assert "head to tail" not in disp.ax_.get_xlabel()


def test_without_train_counts_or_bands():
    disp = PerClassAccuracyDisplay.from_predictions(Y_TRUE, Y_PRED)
    assert disp.bars_.datavalues.tolist() == ACC.tolist()
    assert disp.bands_ is None and len(disp.ax_.texts) == 0
    assert [tick.get_text() for tick in disp.ax_.get_xticklabels()] == ["0", "1", "2", "3"]
    disp = PerClassAccuracyDisplay.from_predictions(
        Y_TRUE, Y_PRED, train_counts=COUNTS, bands=False
    )
    assert disp.bands_ is None and list(disp.ax_.patches) == list(disp.bars_)
    assert disp.bars_.datavalues.tolist() == ACC[HEAD_TO_TAIL].tolist()


def test_dict_counts_labels_and_absent_class():
    counts = {0: 5, 1: 500, 2: 50, 3: 150, 7: 1}
    disp = PerClassAccuracyDisplay.from_predictions(
        Y_TRUE, Y_PRED, train_counts=counts, labels=[3, 1, 7], order="labels"
    )
    assert disp.class_names == ["3", "1", "7"]
    assert disp.train_counts.tolist() == [150, 500, 1]
    heights = disp.bars_.datavalues
    assert heights[:2].tolist() == [0.0, 100.0] and np.isnan(heights[2])
    assert disp.acc_std == 50.0  # the absent class is ignored
    assert disp.total_accuracy == 60.0  # over all samples
    assert list(disp.bands_) == ["many", "few"]
    assert [text.get_text() for text in disp.ax_.texts] == ["many-shot\n50.0%", "few-shot"]


def test_from_estimator_on_blobs():
    X, y = make_blobs(n_samples=90, centers=3, cluster_std=3.0, random_state=0)
    clf = LogisticRegression().fit(X, y)
    disp = PerClassAccuracyDisplay.from_estimator(clf, X, y, train_counts=[40, 30, 10])
    expected = 100 * per_class_accuracy(y, clf.predict(X))
    assert disp.per_class_accuracy == pytest.approx(expected)
    assert disp.bars_.datavalues == pytest.approx(expected)  # counts already decrease
    assert disp.total_accuracy == pytest.approx(100 * clf.score(X, y))
    assert disp.name == "LogisticRegression"
    assert disp.ax_.get_title().startswith("LogisticRegression: Total Acc")
    assert [t.get_text() for t in disp.ax_.get_legend().get_texts()] == ["LogisticRegression"]
    named = PerClassAccuracyDisplay.from_estimator(clf, X, y, name="LR")
    assert named.name == "LR"
    with pytest.raises(ValueError, match="needs a fitted classifier, got LinearRegression"):
        PerClassAccuracyDisplay.from_estimator(LinearRegression().fit(X, y), X, y)


def test_plot_into_given_ax_and_two_models_on_one_ax():
    fig, ax = plt.subplots()
    first = PerClassAccuracyDisplay.from_predictions(
        Y_TRUE, Y_PRED, train_counts=COUNTS, name="model A", ax=ax, width=-0.4, align="edge"
    )
    assert first.ax_ is ax and first.figure_ is fig
    second = PerClassAccuracyDisplay.from_predictions(
        Y_TRUE,
        Y_TRUE,
        train_counts=COUNTS,
        name="model B",
        ax=ax,
        width=0.4,
        align="edge",
        bands=False,
        color="tab:orange",
    )
    assert second.ax_ is ax and len(ax.containers) == 2
    assert second.bars_.datavalues.tolist() == [100.0] * 4
    # Side by side: model A left of each tick, model B right of it.
    assert [(bar.get_x(), bar.get_width()) for bar in first.bars_] == [(x, -0.4) for x in range(4)]
    assert [(bar.get_x(), bar.get_width()) for bar in second.bars_] == [(x, 0.4) for x in range(4)]
    assert ax.get_title().splitlines() == [
        f"model A: Total Acc 60.0%, Acc Std {np.std(ACC):.1f}%",
        "model B: Total Acc 100.0%, Acc Std 0.0%",
    ]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["model A", "model B"]
    assert ax.get_ylim()[1] >= 120  # still room for the band labels of the first
    second.plot(ax=ax, bands=False)  # replotting adds bars but not the same title line
    assert len(ax.get_title().splitlines()) == 2


def test_constructor_and_plot():
    disp = PerClassAccuracyDisplay([40.0, 90.0], class_names=["cat", "dog"], train_counts=[10, 300])
    assert disp.plot(order="labels") is disp
    assert disp.bars_.datavalues.tolist() == [40.0, 90.0]
    assert disp.ax_.get_title() == ""  # no figures to summarise
    disp = PerClassAccuracyDisplay(
        [40.0, 90.0], class_names=["cat", "dog"], total_accuracy=65.0, name="m"
    ).plot()
    assert disp.ax_.get_title() == "m: Total Acc 65.0%"
    assert disp.bars_.datavalues.tolist() == [40.0, 90.0]  # no counts: label order


def test_many_classes_rotate_tick_labels():
    disp = PerClassAccuracyDisplay(
        np.full(30, 50.0), class_names=[f"c{i}" for i in range(30)], train_counts=np.arange(30) + 1
    ).plot()
    ticks = disp.ax_.get_xticklabels()
    assert ticks[0].get_text() == "c29 (30)" and ticks[0].get_rotation() == 90


def test_errors():
    figures = plt.get_fignums()
    with pytest.raises(
        ValueError,
        match=r"train_counts has 3 entries but there are 4 "
        r"classes \(labels \[0, 1, 2, 3\]\)",
    ):
        PerClassAccuracyDisplay.from_predictions(Y_TRUE, Y_PRED, train_counts=[1, 2, 3])
    with pytest.raises(ValueError, match=r"train_counts has no count for labels \[3\]"):
        PerClassAccuracyDisplay.from_predictions(Y_TRUE, Y_PRED, train_counts={0: 1, 1: 2, 2: 3})
    with pytest.raises(ValueError, match="target_names has 2 names but there are 4 classes"):
        PerClassAccuracyDisplay.from_predictions(Y_TRUE, Y_PRED, target_names=["a", "b"])
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        PerClassAccuracyDisplay.from_predictions(Y_TRUE, Y_PRED[:-1])
    with pytest.raises(ValueError, match=r"order must be one of \['labels', 'train_counts'\]"):
        PerClassAccuracyDisplay.from_predictions(Y_TRUE, Y_PRED, order="accuracy")
    with pytest.raises(
        ValueError, match="train_counts has 1 entries but per_class_accuracy has 2 classes"
    ):
        PerClassAccuracyDisplay([1.0, 2.0], class_names=["a", "b"], train_counts=[3]).plot()
    with pytest.raises(ValueError, match="class_names has 3 names but per_class_accuracy has 2"):
        PerClassAccuracyDisplay([1.0, 2.0], class_names=["a", "b", "c"]).plot()
    with pytest.raises(ValueError, match="non-empty 1-D array"):
        PerClassAccuracyDisplay([[1.0, 2.0]], class_names=["a", "b"]).plot()
    with pytest.raises(TypeError, match=r"got a dict \(from_predictions and from_estimator"):
        PerClassAccuracyDisplay([1.0], class_names=["a"], train_counts={"a": 3}).plot()
    assert plt.get_fignums() == figures  # no figure is opened before the inputs are checked
