"""Estimator tags for the package's samplers."""

from __future__ import annotations


def sampler_tags(tags):
    """Tags of a sampler: imbalanced-learn's when it is installed.

    imbalanced-learn's pipelines and estimator checks read tags of their own
    (``estimator_type="sampler"``, ``input_tags.dataframe``,
    ``sampler_tags``); imbalanced-learn is optional here, so without it the
    scikit-learn tags are returned unchanged, with a required target.
    """
    tags.target_tags.required = True
    try:
        from imblearn.utils._tags import InputTags, SamplerTags, Tags
    except ImportError:  # pragma: no cover - imbalanced-learn absent
        return tags
    imb = Tags(
        estimator_type="sampler",
        target_tags=tags.target_tags,
        transformer_tags=None,
        regressor_tags=None,
        classifier_tags=None,
        sampler_tags=SamplerTags(),
    )
    imb.input_tags = InputTags(two_d_array=True, three_d_array=True, sparse=False, dataframe=False)
    imb.non_deterministic = tags.non_deterministic
    return imb
