"""Repository-level pytest configuration (doctest collection, cores per worker)."""

import os

import matplotlib

matplotlib.use("Agg")
os.environ.setdefault("MPLBACKEND", "Agg")

# Importing __main__ would run the command line.
collect_ignore = ["sklearn_ltdd/__main__.py"]


def _available_cores():
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _share_the_cores():
    """Give each pytest-xdist worker its share of the cores (``-n``, pyproject.toml).

    PyTorch starts as many threads as there are cores in every process, so two
    workers on two cores would each run two threads and fight over the cores
    (far slower than half speed each). Each worker takes ``cores // workers``
    threads instead, and its subprocesses (the benchmark scripts the tests run)
    inherit the same through ``OMP_NUM_THREADS``. A thread count the caller set
    (``OMP_NUM_THREADS=1 pytest ...``) is kept.
    """
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    if workers <= 1 or "OMP_NUM_THREADS" in os.environ:
        return
    threads = max(1, _available_cores() // workers)
    os.environ["OMP_NUM_THREADS"] = str(threads)
    import torch

    torch.set_num_threads(threads)


def _same_hash_seed_in_every_worker():
    """Fix ``PYTHONHASHSEED`` before pytest-xdist starts its workers.

    The workers must collect the same test ids, and some ids hold the repr of a
    set (skorch's ``_params_to_validate`` inside an estimator's repr in
    scikit-learn's estimator checks), whose order follows the string hash,
    random per process unless this is fixed. The workers inherit it from this
    (the controlling) process; a value the caller set is kept.
    """
    if "PYTEST_XDIST_WORKER" not in os.environ:
        os.environ.setdefault("PYTHONHASHSEED", "0")


_same_hash_seed_in_every_worker()
_share_the_cores()
