"""scikit-learn's and imbalanced-learn's estimator checks on every public estimator.

Each estimator runs in a configuration that suits the checks' small tabular
data sets: the distillers and ConvNetClassifier with the MLP module, the
grouper on precomputed features, the two-stage model with scikit-learn
sub-estimators. Known failures are listed per estimator with their reason
and run as expected failures (xfail), never skipped wholesale.
"""

import numpy as np
from imblearn.over_sampling import RandomOverSampler
from imblearn.utils.estimator_checks import parametrize_with_checks as imblearn_checks
from sklearn.linear_model import LogisticRegression
from sklearn.utils.estimator_checks import parametrize_with_checks

from sklearn_ltdd import (
    ClassGrouper,
    ConvNetClassifier,
    CoresetSampler,
    DecoupledClassifier,
    DistributionMatchingDistiller,
    FeatureExtractor,
    GradientMatchingDistiller,
    StatisticsMatchingDistiller,
    TrajectoryMatchingDistiller,
    TwoStageClassifier,
    ZCAWhitening,
)
from sklearn_ltdd.nets import MLP
from sklearn_ltdd.sampling import ImageSampler, PrecomputedSampler

TINY_MLP = {"module__hidden": (8,)}


def distillers():
    return [
        GradientMatchingDistiller(module=MLP, **TINY_MLP, ipc=1, n_iterations=2, random_state=0),
        TrajectoryMatchingDistiller(
            module=MLP,
            **TINY_MLP,
            ipc=1,
            n_iterations=2,
            n_experts=2,
            syn_steps=2,
            max_start_epoch=1,
            zca=False,
            lr_img=0.1,
            augmentation=None,
            random_state=0,
        ),
        DistributionMatchingDistiller(
            module=MLP,
            **TINY_MLP,
            ipc=1,
            n_iterations=2,
            augmentation=None,
            random_state=0,
        ),
        # IDM's queue and regulariser (its expansion needs images, not the checks' tables).
        DistributionMatchingDistiller(
            method="idm",
            expansion=False,
            n_networks=3,
            network_interval=1,
            module=MLP,
            **TINY_MLP,
            ipc=1,
            n_iterations=2,
            augmentation=None,
            random_state=0,
        ),
        # Statistics matching on a batch-norm MLP (its crops need images: real init here).
        StatisticsMatchingDistiller(
            module=MLP,
            **TINY_MLP,
            ipc=1,
            n_iterations=2,
            teacher_epochs=2,
            init="real",
            augmentation=None,
            random_state=0,
        ),
    ]


def samplers():
    # The coreset sampler: a seeded draw, and the strategies that need a network
    # (an MLP scorer and embedder on the checks' tables).
    scorer = ConvNetClassifier(module=MLP, module__hidden=(8,), max_epochs=2, lr=0.1)
    return [
        ImageSampler(RandomOverSampler(random_state=0)),
        PrecomputedSampler(np.zeros((3, 4), dtype=np.float32), np.array([0, 1, 2])),
        CoresetSampler(ipc=2, strategy="random", random_state=0),
        CoresetSampler(ipc=2, strategy="herding", estimator=scorer, random_state=0),
        CoresetSampler(ipc=2, strategy="difficulty", estimator=scorer, random_state=0),
    ]


ESTIMATORS = [
    TwoStageClassifier(
        grouper=ClassGrouper(features="precomputed", n_clusters=2, random_state=0),
        group_estimator=LogisticRegression(),
        class_estimator=LogisticRegression(),
        stage2_data="original",
        random_state=0,
    ),
    TwoStageClassifier(
        grouper=ClassGrouper(features="precomputed", n_clusters=2, random_state=0),
        group_estimator=LogisticRegression(),
        class_estimator=LogisticRegression(),
        stage2_data="original",
        routing="soft",
        random_state=0,
    ),
    # The shared-backbone model: heads on a frozen MLP's features, and fine-tuned copies.
    TwoStageClassifier(
        grouper=ClassGrouper(features="precomputed", n_clusters=2, random_state=0),
        backbone=ConvNetClassifier(
            module=MLP, module__hidden=(16,), max_epochs=10, lr=0.1, random_state=0
        ),
        stage2_data="original",
        routing="soft",
        random_state=0,
    ),
    TwoStageClassifier(
        grouper=ClassGrouper(features="precomputed", n_clusters=2, random_state=0),
        backbone=ConvNetClassifier(
            module=MLP, module__hidden=(16,), max_epochs=10, lr=0.1, random_state=0
        ),
        fine_tune=True,
        stage2_data="original",
        routing="soft",
        random_state=0,
    ),
    ClassGrouper(features="precomputed", n_clusters=2, random_state=0),
    ConvNetClassifier(module=MLP, module__hidden=(16,), max_epochs=20, lr=0.1, random_state=0),
    DecoupledClassifier(
        ConvNetClassifier(module=MLP, module__hidden=(16,), max_epochs=10, lr=0.1),
        method="crt",
        random_state=0,
    ),
    DecoupledClassifier(
        ConvNetClassifier(module=MLP, module__hidden=(16,), max_epochs=10, lr=0.1),
        method="tau",
        random_state=0,
    ),
    FeatureExtractor(
        ConvNetClassifier(module=MLP, module__hidden=(16,), max_epochs=5, lr=0.1), random_state=0
    ),
    ZCAWhitening(),
    *distillers(),
    *samplers(),
]

SKORCH_DEEPCOPY_REASON = (
    "a skorch net given as a parameter: the check compares the parameter's joblib hash "
    "with that of its deepcopy, and a skorch net's deepcopy hashes differently even "
    "before any fit; fit does leave it unchanged (tests/test_decoupled.py)"
)
PRECOMPUTED_REASON = (
    "its output is the set given at construction, whose shape and classes "
    "differ from the check's data, which it rightly refuses"
)

EXPECTED_FAILURES = {
    "TwoStageClassifier": {
        "check_classifiers_train": (
            "predict routes hard through the most probable group (the paper's pipeline) while "
            "predict_proba is the soft product P(g|x)P(c|g,x); their argmax differ on a few "
            "samples where the group classifier is unsure"
        ),
    },
    "ConvNetClassifier": {
        "check_no_attributes_set_in_init": (
            "skorch's NeuralNet.__init__ creates history_, initialized_ and virtual_params_ "
            "and stores prefixed kwargs (optimizer__momentum, ...) as attributes"
        ),
        "check_set_params": (
            "skorch reports its private _params_to_validate set as a parameter (it lists every "
            "attribute not ending in '_'), and breaks when the check sets it to a float"
        ),
    },
    "PrecomputedSampler": {
        check: PRECOMPUTED_REASON
        for check in (
            "check_dict_unchanged",
            "check_dont_overwrite_parameters",
            "check_dtype_object",
            "check_estimators_dtypes",
            "check_estimators_fit_returns_self",
            "check_estimators_nan_inf",
            "check_estimators_overwrite_params",
            "check_estimators_pickle",
            "check_f_contiguous_array_estimator",
            "check_fit2d_1feature",
            "check_fit2d_1sample",
            "check_fit2d_predict1d",
            "check_fit_check_is_fitted",
            "check_fit_idempotent",
            "check_fit_score_takes_y",
            "check_methods_sample_order_invariance",
            "check_methods_subset_invariance",
            "check_n_features_in",
            "check_pipeline_consistency",
            "check_readonly_memmap_input",
            "check_samplers_one_label",
            "check_samplers_fit",
            "check_samplers_fit_resample",
            "check_samplers_list",
            "check_samplers_multiclass_ova",
            "check_samplers_preserve_dtype",
            "check_samplers_2d_target",
            "check_samplers_sample_indices",
            "check_sampler_get_feature_names_out",
            "check_sampler_get_feature_names_out_pandas",
        )
    },
}


def expected_failures(estimator):
    params = estimator.get_params(deep=False)
    with_net = {
        name: SKORCH_DEEPCOPY_REASON
        for name in ("check_estimators_overwrite_params",)
        if any(isinstance(params.get(k), ConvNetClassifier) for k in ("backbone", "estimator"))
    }
    if any(k.startswith("module__") for k in vars(estimator)):
        with_net["check_no_attributes_set_in_init"] = (
            "module__<name> arguments are stored as attributes, as skorch's NeuralNet stores "
            "its prefixed kwargs (one name for the network's size across the package)"
        )
    if getattr(estimator, "routing", None) == "soft":
        return with_net  # soft routing predicts the argmax of predict_proba
    return {**EXPECTED_FAILURES.get(type(estimator).__name__, {}), **with_net}


@parametrize_with_checks(ESTIMATORS, expected_failed_checks=expected_failures)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)


@imblearn_checks([*distillers(), *samplers()], expected_failed_checks=expected_failures)
def test_imblearn_compatible_sampler(estimator, check):
    check(estimator)
