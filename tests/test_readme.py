"""The README's Python snippets run as written (all but the CIFAR ones, which need data)."""

import numpy as np

from . import readme_snippets


def test_readme_python_snippets_run():
    assert len(readme_snippets.snippets()) == 4
    namespace = readme_snippets.run()  # the second snippet reuses the first one's data
    assert 0 <= namespace["report"]["total_acc"] <= 100
    assert namespace["search"].best_params_["gradientmatchingdistiller__ipc"] in (1, 2)
    assert namespace["sm"].soft_labels_.shape == (100, 10)
    assert namespace["student"].predict(namespace["data"].X_test[:5]).shape == (5,)
    n_per_class = np.bincount(namespace["data"].y_train)
    assert len(namespace["coreset"].X_stored_) == np.minimum(10, n_per_class).sum()
    assert np.bincount(namespace["y_sel"]).max() == 40  # four real images per stored one
