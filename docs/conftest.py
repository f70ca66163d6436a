"""pytest configuration of the documentation: what the doctest run collects.

``pytest docs`` runs the ``>>>`` examples of every ``.rst`` page
(``--doctest-glob=*.rst`` in pyproject.toml) and the doctests of the helper
modules. ``conf.py`` imports Sphinx, which the test environment need not
have, and the build output holds copies of the sources.
"""

import pytest
import torch

collect_ignore = ["conf.py"]
collect_ignore_glob = ["_build/*", "generated/*", "_templates/*"]


@pytest.fixture(autouse=True)
def _one_torch_thread():
    """Run the documentation's tiny examples on one thread.

    Their networks are so small that PyTorch's thread pool only adds
    overhead, and on a busy machine its threads compete with other
    processes' for the cores; one thread keeps the examples fast either way.
    The previous setting is restored after each page.
    """
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)
