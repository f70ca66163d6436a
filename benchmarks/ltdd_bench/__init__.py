"""The parts the benchmark scripts share (not a library: nothing of ``sklearn_ltdd`` imports it).

* :mod:`.common`: the run's record (commit, device, versions), atomic JSON
  writes, time budgets, the profiles' data;
* :mod:`.profiles`: the settings of each ``reproduce_paper.py`` profile;
* :mod:`.chunks`: distillation in checkpointed, warm-started chunks;
* :mod:`.declarations`: what a table is made of (rows, sets, shared
  networks, figures);
* :mod:`.paper_sets`: the sets, shared networks and row helpers of
  ``reproduce_paper.py``;
* :mod:`.runner`: the runner that fits one seed of the declarations;
* :mod:`.sweeps`: resumable sweep cells and their pivot tables;
* :mod:`.student_grids`: the grids of ``student_sweep.py``;
* :mod:`.official`: the official DC/DM and MTT code run side by side;
* :mod:`.tables`: seed files merged, and the Markdown report;
* :mod:`.windows`: a GPU window's processes and the rules of ``$OUT``;
* :mod:`.campaign_queue`: the GPU campaign's steps, when each is done, its budget;
* :mod:`.payload_io`: the numpy-only CIFAR10-LT payload, read back.

The scripts beside this folder put it on ``sys.path`` (a script's own folder
is there when it runs as ``python benchmarks/<script>.py``).
"""
