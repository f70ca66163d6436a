"""The panels of the paper's Figure 1, made by the runner (``reproduce_paper.py --figure``)."""

from __future__ import annotations

import time
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from sklearn_ltdd import ClassGrouper
from sklearn_ltdd.grouping import plot_class_groups

from .common import load_data


def figure_panel(ctx, figure):
    """Features of test images from a net trained on the panel's data; one PNG per panel,
    skipped when the seed's record has it."""
    run, data, args = ctx.run, ctx.data, ctx.args
    if figure.panel in run.figures:
        return
    rng = np.random.RandomState(ctx.seed)
    keep = rng.choice(len(data.y_test), size=min(2000, len(data.y_test)), replace=False)
    out = Path(args.figure_dir or args.out)
    out.mkdir(parents=True, exist_ok=True)
    if figure.data == "balanced":
        full = load_data(ctx.p, args.source, balanced=True)
        X, y = full.X_train, full.y_train
    else:
        X, y = ctx.data_of(figure.data)
    start = time.perf_counter()
    grouper = ClassGrouper(estimator=ctx.net(figure.epochs), random_state=ctx.seed).fit(X, y)
    named = [[str(data.target_names[c]) for c in g] for g in grouper.groups_]
    fig = plot_class_groups(
        grouper,
        data.X_test[keep],
        data.y_test[keep],
        target_names=data.target_names,
        random_state=ctx.seed,
        title=f"{figure.panel} training data: groups {named}",
    )
    path = out / f"{args.profile}_figure1_{figure.panel}.png"
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    run.figures[figure.panel] = {
        "groups": [g.tolist() for g in grouper.groups_],
        "device": run.env["device"],
        "file": path.name,
        "seconds": time.perf_counter() - start,
    }
    if run.checkpoint is not None:
        run.checkpoint(run)
    if ctx.export is not None:
        ctx.export()
    print(f"  wrote {path}; groups from {figure.panel} data: {run.figures[figure.panel]['groups']}")
