"""The parts the benchmark scripts share (not a library: nothing of ``sklearn_ltdd`` imports it).

* :mod:`.common`: the run's record (commit, device, versions), atomic JSON
  writes, time budgets, the profiles' data;
* :mod:`.profiles`: the settings of each ``reproduce_paper.py`` profile;
* :mod:`.chunks`: distillation in checkpointed, warm-started chunks;
* :mod:`.runner`: the declarations a table is made of (rows, sets, shared
  networks, figures) and the runner that fits one seed of them;
* :mod:`.tables`: seed files merged, and the Markdown report;
* :mod:`.windows`: a GPU window's processes and the rules of ``$OUT``;
* :mod:`.payload_io`: the numpy-only CIFAR10-LT payload, read back.

The scripts beside this folder put it on ``sys.path`` (a script's own folder
is there when it runs as ``python benchmarks/<script>.py``).
"""
