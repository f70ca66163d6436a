"""Long work that survives a stop: distillation in warm-started, checkpointed chunks under a
time budget, and long networks pickled after every epoch."""

from __future__ import annotations

import json
import os
import tarfile
import time
from pathlib import Path

from .common import OutOfTime, changed_params, write_json

#: Seconds a distillation chunk aims at: long enough to amortise its set-up,
#: short enough that a time limit loses little.
CHUNK_SECONDS = 30.0
#: Seconds kept free after a chunk (checkpoint, export, the rows after it).
CHUNK_MARGIN = 10.0


def distil(run, name, attempts, X, y, path, total, budget, export=None):
    """Distil in warm-started chunks, checkpointing after each; returns the fitted distiller.

    ``attempts`` is a list of (label, make) pairs tried in turn: the official
    settings first, then an adaptation if they diverge (the divergence is
    recorded, not hidden). ``path`` is the checkpoint (``save_checkpoint``),
    which is also the distilled set once ``total`` iterations are done;
    ``path.with_suffix(".json")`` records the settings, the outcome of each
    attempt, the iterations and seconds of every chunk and the device.
    An existing checkpoint is continued, so a run stopped by its time limit
    (a GPU window) goes on where it stopped in the next run. Raises
    :class:`OutOfTime` when the budget ends first.
    """
    record_path = path.with_suffix(".json")
    record = (
        json.loads(record_path.read_text())
        if record_path.exists()
        else {"attempts": [], "chunks": [], "seconds": 0.0}
    )

    def note():
        run.notes[name] = {
            "settings": record.get("settings"),
            "attempts": record["attempts"],
            "iterations": f"{record.get('n_iter', 0)}/{total}",
            "seconds": round(record["seconds"], 1),
        }

    def save_record():
        path.parent.mkdir(parents=True, exist_ok=True)
        write_json(record_path, record)
        note()

    for label, make in attempts:
        if any(a["settings"] == label and a["outcome"] != "ok" for a in record["attempts"]):
            continue  # this setting diverged in an earlier run
        distiller = make().set_params(warm_start=True)
        done = 0
        if path.exists() and record.get("settings") == label:
            try:
                distiller.load_checkpoint(path, X=X, y=y)
                done = int(distiller.n_iter_)
            except (ValueError, KeyError, OSError) as exc:  # another version, or not a checkpoint
                print(
                    f"  {name}: starting over; the checkpoint cannot be continued exactly: {exc}",
                    flush=True,
                )
                record.setdefault("restarts", []).append(
                    {"after": record.get("n_iter"), "reason": str(exc)}
                )
                record.update(chunks=[], seconds=0.0, n_iter=0, finished=False)
                distiller = make().set_params(warm_start=True)
                done = 0
            if done >= total:
                note()
                run.reused.append(name)
                run.seconds[f"distill_{name}"] = record["seconds"]
                return distiller
        record["settings"] = label
        path.parent.mkdir(parents=True, exist_ok=True)
        per_it, setup = None, 0.0
        try:
            while done < total:
                if budget.iterations is not None and budget.iterations <= 0:
                    raise OutOfTime(f"{name}: distillation budget spent at {done}/{total}")
                k = total - done
                if per_it is None:
                    k = 1  # the first chunk measures (and trains MTT's experts)
                else:
                    # Long enough to amortise the last fit's set-up.
                    k = min(k, max(1, int(max(CHUNK_SECONDS, setup) / per_it)))
                    if budget.deadline is not None:
                        k = min(k, int((budget.left() - CHUNK_MARGIN - setup) / per_it))
                if budget.iterations is not None:
                    k = min(k, budget.iterations)
                if k < 1 or budget.left() < CHUNK_MARGIN:
                    raise OutOfTime(f"{name}: time limit at iteration {done}/{total}")
                start = time.perf_counter()
                distiller.set_params(n_iterations=k).fit(X, y)
                seconds = time.perf_counter() - start
                if budget.iterations is not None:
                    budget.iterations -= k
                per_it, setup = split_seconds(distiller, seconds, k)
                done = int(distiller.n_iter_)
                record["seconds"] += seconds
                record["chunks"].append(
                    {"iterations": k, "seconds": seconds, "device": run.env["device"], "done": done}
                )
                distiller.save_checkpoint(path)
                record["n_iter"] = done
                record["finished"] = done >= total
                record["final_loss"] = float(distiller.loss_history_[-1])
                if hasattr(distiller, "learned_lr_"):
                    record["learned_lr"] = float(distiller.learned_lr_)
                save_record()
                if export is not None:
                    export()
                print(f"  {name}: {done}/{total} iterations ({seconds:.1f} s for {k})", flush=True)
        except FloatingPointError as exc:
            record["attempts"].append({"settings": label, "outcome": str(exc)})
            print(f"  {name} with {label}: {exc}", flush=True)
            path.unlink(missing_ok=True)
            record.pop("settings", None)
            save_record()
            continue
        record["attempts"].append(
            {"settings": label, "outcome": "ok", "learned_lr": record.get("learned_lr")}
        )
        save_record()
        if export is not None:
            export()
        run.seconds[f"distill_{name}"] = record["seconds"]
        return distiller
    raise RuntimeError(f"every {name} setting diverged: {record['attempts']}")


def resumed_entry(stage, epochs):
    """A ``reused_artifacts`` entry of a fit resumed after ``epochs`` (its stage, and how
    much of it an earlier run made); :func:`entry_stage` reads the stage back."""
    return f"{stage} (epochs 1-{epochs})"


def entry_stage(entry):
    """The wall-time stage of a ``reused_artifacts`` entry (see :func:`resumed_entry`)."""
    return entry.split(" (epochs ")[0]


def fit_resumably(run, name, model, X, y, cache, stage=None, every=0.0):
    """Fit ``model`` on ``(X, y)`` and save ``(model, seconds)`` to ``cache`` (joblib): a long
    shared network (hours on a CPU), pickled after every epoch (at most every ``every``
    seconds) beside ``cache`` (skorch's ``Checkpoint``), so that a run stopped part-way (the
    end of a session) is finished by the next one (``resume_fit``: the same network as one
    fit). Its seconds (``run.seconds[stage]``, default ``network:<name>``): the earlier
    epochs' durations plus this run's; the epochs resumed are listed in ``run.reused``
    (``"<stage> (epochs 1-k)"``). The partial pickle is removed once ``cache`` is
    written (a row's caller removes ``cache`` once the row is recorded)."""
    import joblib

    from sklearn_ltdd.nets import epoch_checkpoint

    stage = stage or f"network:{name}"
    partial = cache.with_name(cache.stem + ".partial.pkl")
    original = model.callbacks
    checkpoint = epoch_checkpoint(partial, every=every)
    model.set_params(verbose=1, callbacks=[*(original or []), ("partial", checkpoint)])
    earlier, start = 0.0, time.perf_counter()
    cache.parent.mkdir(parents=True, exist_ok=True)
    resumed = _load_partial(partial, model)
    if resumed is not None:
        earlier = float(sum(resumed.history[:, "dur"]))
        run.reused.append(resumed_entry(stage, len(resumed.history)))
        print(
            f"  {stage}: resuming after epoch {len(resumed.history)} of {resumed.max_epochs}",
            flush=True,
        )
        # Its own checkpoint saves here too (in place: set_params would rebuild the
        # callbacks, and with them the schedule's state).
        own = dict(resumed.callbacks_).get("partial")
        if own is not None:
            own.f_pickle = str(partial)
        model = resumed.resume_fit(X, y)
    else:
        model.fit(X, y)
    if len(model.history) < model.max_epochs:  # skorch ends a fit early on Ctrl-C
        raise KeyboardInterrupt(
            f"{stage} stopped after epoch {len(model.history)}; run again to resume"
        )
    seconds = earlier + time.perf_counter() - start
    run.seconds[stage] = run.seconds.get(stage, 0) + seconds
    model.set_params(callbacks=original)
    joblib.dump((model, seconds), cache)
    partial.unlink(missing_ok=True)
    return model, seconds


def _load_partial(path, fresh):
    """The network pickled part-way through its fit at ``path``, where it was made with the
    settings of ``fresh``; None otherwise (none, unreadable, or of other settings)."""
    import pickle

    if not path.exists():
        return None
    try:
        with open(path, "rb") as f:
            partial = pickle.load(f)
    except Exception as exc:  # a pickle cut short by a kill, or of another version
        print(f"  {path.name} cannot be read ({exc!r}); fitting from the start", flush=True)
        return None
    changed = changed_params(partial, fresh)
    if changed:
        print(f"  {path.name} had {changed}; fitting from the start", flush=True)
        return None
    return partial


def split_seconds(distiller, seconds, k):
    """``(seconds per iteration, seconds of set-up)`` of a fit of ``k`` iterations that took
    ``seconds``: split where the distiller times its iterations apart (statistics matching's
    ``timings_["recovery"]``; its set-up, the networks' recalibration over all the data and
    the initial views, takes minutes on the standard CIFAR10-LT: the first chunk's, which a
    later chunk repeats only in a new process, the targets being kept in memory across
    warm-started fits), else all of it per iteration (the first chunk's includes MTT's
    experts)."""
    own = getattr(distiller, "timings_", {}).get("recovery")
    if own is None or not 0 < own <= seconds:
        return seconds / k, 0.0
    return own / k, seconds - own


def export_artifacts(artifacts, tar_path, since=None):
    """Pack ``artifacts`` (less the expert cache) into ``tar_path``, atomically.

    Written beside the target and renamed over it, so a kill at any moment
    leaves the previous archive or the new one, never half of one. With
    ``since`` (a ``time.time()``; default ``$LTDD_EXPORT_SINCE``), only files
    modified since then: a GPU window returns what it made, not what it was
    given.
    """
    if since is None and os.environ.get("LTDD_EXPORT_SINCE"):
        since = float(os.environ["LTDD_EXPORT_SINCE"])
    tar_path = Path(tar_path)
    part = tar_path.with_name(tar_path.name + ".part")
    with tarfile.open(part, "w") as tar:
        for file in sorted(Path(artifacts).rglob("*")):
            rel = file.relative_to(artifacts)
            if not file.is_file() or "experts" in rel.parts:
                continue
            if since is not None and file.stat().st_mtime < since:
                continue
            tar.add(file, arcname=str(rel))
    os.replace(part, tar_path)
