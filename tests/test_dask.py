"""Scale-out on Dask: the same results as a local run (skipped without the extra)."""

import numpy as np
import pytest
from joblib import parallel_config
from sklearn.model_selection import GridSearchCV, StratifiedKFold

from sklearn_ltdd import ConvNetClassifier, TrajectoryMatchingDistiller, TwoStageClassifier
from sklearn_ltdd.distillation import train_expert_trajectories
from sklearn_ltdd.nets import ConvNet

distributed = pytest.importorskip("distributed", reason="the 'distributed' extra is not installed")


@pytest.fixture(scope="module")
def client():
    """A two-process cluster (one thread each), started and closed by the fixture."""
    cluster = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None, silence_logs=50
    )
    client = distributed.Client(cluster)
    yield client
    client.close()
    cluster.close()


def experts(X, y, n_jobs=None):
    return train_expert_trajectories(
        X,
        y,
        module=ConvNet,
        module_kwargs={"width": 4, "n_classes": 3},
        n_experts=4,
        epochs=2,
        lr=0.01,
        batch_size=16,
        augmentation=None,
        seed=0,
        device="cpu",
        n_jobs=n_jobs,
    )


def test_expert_trajectories_do_not_depend_on_the_split(tiny_images, client):
    X, y = tiny_images
    local = experts(X, y)
    with parallel_config(backend="dask"):
        on_dask = experts(X, y, n_jobs=2)
    assert on_dask.shape == local.shape
    assert np.allclose(on_dask, local, atol=1e-6, rtol=0)
    assert len(client.scheduler_info()["workers"]) == 2


def test_distiller_with_experts_on_the_cluster(tiny_images, client):
    X, y = tiny_images
    kwargs = dict(
        ipc=1,
        n_iterations=2,
        n_experts=4,
        syn_steps=2,
        max_start_epoch=1,
        zca=False,
        lr_img=1.0,
        module__width=4,
        random_state=0,
    )
    local = TrajectoryMatchingDistiller(**kwargs).fit(X, y)
    with parallel_config(backend="dask"):
        remote = TrajectoryMatchingDistiller(n_jobs=2, **kwargs).fit(X, y)
    assert np.allclose(local.experts_, remote.experts_, atol=1e-6, rtol=0)
    assert np.allclose(local.X_syn_, remote.X_syn_, atol=1e-5, rtol=0)


def test_grid_search_on_the_cluster_equals_a_local_one(digits, client):
    def net(**kwargs):
        return ConvNetClassifier(module__width=4, max_epochs=2, random_state=0, **kwargs)

    model = TwoStageClassifier(
        grouper=[[0, 1, 2, 3, 4], [5, 6, 7, 8, 9]],
        group_estimator=net(),
        class_estimator=net(),
        stage2_data="original",
        random_state=0,
    )
    grid = {
        "class_estimator__criterion": ["cross_entropy", "logit_adjusted"],
        "routing": ["hard", "soft"],
    }
    folds = StratifiedKFold(2, shuffle=True, random_state=0)
    local = GridSearchCV(model, grid, cv=folds, n_jobs=1).fit(digits.X_train, digits.y_train)
    with parallel_config(backend="dask"):
        remote = GridSearchCV(model, grid, cv=folds, n_jobs=2).fit(digits.X_train, digits.y_train)
    assert remote.best_params_ == local.best_params_
    assert np.allclose(
        remote.cv_results_["mean_test_score"], local.cv_results_["mean_test_score"], atol=1e-9
    )
    # The candidates trained on the workers (each estimator pickled there and back);
    # the refit on the best parameters predicts as the local one.
    assert np.array_equal(remote.predict(digits.X_test), local.predict(digits.X_test))
