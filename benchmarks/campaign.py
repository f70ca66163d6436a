"""The GPU campaign: budgeted windows on a lent GPU machine, and the state that carries them on.

A GPU window is one command of at most 600 s on a machine that starts bare;
only files the command leaves in ``$OUT`` come back (at most 8, at most two
folders deep, 16 MiB each). This driver runs a queue of steps in priority
order under one deadline, gives each step only the time that is left, and
writes every finished step's results into ``$OUT`` as it goes, so a kill at
any moment keeps what finished. The campaign's state is committed in
``benchmarks/campaign/`` (see its README): each window continues where the
last one stopped.

Commands
--------
run         run a window (``benchmarks/gpu_session.sh`` calls this)
preflight   check the machine and print one JSON line (run by ``run``)
ingest DIR  take a window's returned files into the repository
status      say what is done and what comes next

The queue (``ltdd_bench/campaign_queue.py``; each step is skipped when the
committed state has it done):

1. preflight: CUDA and the device's name, the carried packages, the
   scikit-learn version, the payload loads (under a minute; stops the
   window with a clear message on the first failure);
2. the CUDA tests (again whenever the package's code changed);
3. the speed table (``distill_speed.py``; again when the distillers changed);
4. ``reproduce_paper.py`` for the paper profile, seed 0, continuing its
   committed rows and distillation checkpoints: rows without distillation,
   then GM in checkpointed chunks and its rows, then MTT and its rows;
5. seeds 1 and 2 of the paper profile, then the standard profile.

``LTDD_GPU_DRY_RUN=1`` (or ``--dry-run``) runs the same queue on the CPU
with the smoke profile and no carried wheels; the tests run it.

Examples
--------
OUT=/tmp/out LTDD_GPU_DRY_RUN=1 bash benchmarks/gpu_session.sh
python benchmarks/campaign.py ingest /work/.device/<files_at>
python benchmarks/campaign.py status
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import shutil
import sys
import tarfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))  # ltdd_bench, also when this file is imported by path

from ltdd_bench.campaign_queue import (  # noqa: F401  (MIN_STEP, RESERVE: for tests)
    MIN_STEP,
    RESERVE,
    build_queue,
    load_state,
    step_budget,
)
from ltdd_bench.common import load_data, write_json
from ltdd_bench.profiles import PROFILES
from ltdd_bench.tables import merge
from ltdd_bench.windows import check_out_dir, run_command

CAMPAIGN = HERE / "campaign"
RESULTS = HERE / "results"
PAYLOAD = ROOT / ".device" / "data" / "cifar10_lt.npz"

#: Seconds the whole window may take, from the shell's start (the device
#: tool stops a command at 600 s; this leaves room for start-up and transfer).
DEFAULT_DEADLINE = 540.0


# -- running ---------------------------------------------------------------------------
def run_window(args):
    t0 = float(os.environ.get("LTDD_T0") or time.time())
    out, work = Path(args.out), Path(args.work)
    out.mkdir(parents=True, exist_ok=True)
    # The committed distillation checkpoints and sets, copied so that the
    # checkout stays clean; only files written in this window are exported.
    if (work / "artifacts").exists():
        shutil.rmtree(work / "artifacts")
    (work / "artifacts").mkdir(parents=True)
    committed = Path(args.campaign) / "artifacts"
    if committed.exists():
        shutil.copytree(committed, work / "artifacts", dirs_exist_ok=True)
    state = load_state(args.campaign)
    queue, hashes = build_queue(args, state)
    manifest = {
        "started": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "deadline_s": args.deadline,
        "dry_run": args.dry_run,
        "commit": os.environ.get("LTDD_COMMIT", "unknown"),
        "code": hashes,
        "export_since": time.time(),
        "steps": [],
    }
    env = dict(
        os.environ,
        PYTHONUNBUFFERED="1",
        LTDD_EXPORT_SINCE=str(manifest["export_since"]),
        PYTEST_DISABLE_PLUGIN_AUTOLOAD="1",
    )
    write_json(out / "campaign.json", manifest)
    for step in queue:
        remaining = args.deadline - (time.time() - t0)
        entry = {"name": step.name, "kind": step.kind}
        if step.kind.startswith("skip:"):
            entry.update(status="skipped", detail=step.kind[5:])
        elif step.done is not None and step.done():
            entry.update(status="done before", detail="the committed state has it")
        elif (budget := step_budget(step, remaining)) <= 0:
            entry.update(status="no time", detail=f"{remaining:.0f} s left")
        else:
            print(
                f"[campaign] {step.name}: up to {budget:.0f} s ({remaining:.0f} s left)", flush=True
            )
            command = list(step.command)
            margin = {"reproduce": 10.0, "speed": 5.0}.get(step.kind)  # for its own exit
            if margin is not None:
                command += ["--time-limit", f"{max(budget - margin, 1.0):.0f}"]
            start = time.time()
            rc, tail = run_command(command, budget, env)
            if step.kind == "pytest":
                (out / "cuda_tests.txt").write_text("\n".join(tail) + "\n")
            entry.update(
                seconds=round(time.time() - start, 1), budget_s=round(budget, 1), returncode=rc
            )
            if rc is None:
                entry.update(status="timeout", detail="stopped at its time limit")
            elif rc != 0:
                entry.update(status="failed", detail="\n".join(tail[-8:]))
            else:
                entry["status"] = "ok"
                if step.kind == "reproduce" and any(l.startswith("incomplete:") for l in tail):
                    entry.update(
                        status="incomplete",
                        detail=next(l for l in tail if l.startswith("incomplete:")),
                    )
            if step.kind == "preflight":
                info = _last_json(tail)
                manifest["preflight"] = info
                if rc != 0 or not info or not info.get("ok"):
                    entry["status"] = "failed"
                    manifest["steps"].append(entry)
                    manifest["stopped"] = (
                        "preflight failed: " + (info or {}).get("error", "no report")
                        if info
                        else "preflight failed"
                    )
                    write_json(out / "campaign.json", manifest)
                    print(f"[campaign] {manifest['stopped']}; nothing else runs.", flush=True)
                    return 1
                manifest["device"] = info.get("device")
            if step.kind in ("pytest", "speed"):
                entry["code"] = hashes["cuda_tests" if step.kind == "pytest" else "speed"]
        manifest["steps"].append(entry)
        write_json(out / "campaign.json", manifest)
        print(f"[campaign] {step.name}: {entry['status']}", flush=True)
    manifest["finished_s"] = round(time.time() - t0, 1)
    write_json(out / "campaign.json", manifest)
    problems = check_out_dir(out)
    for problem in problems:
        print(f"[campaign] $OUT rule broken: {problem}", flush=True)
    return 0


def _last_json(lines):
    for line in reversed(lines):
        line = line.strip()
        if line.startswith("{") and line.endswith("}"):
            try:
                return json.loads(line)
            except json.JSONDecodeError:
                continue
    return None


# -- preflight --------------------------------------------------------------------------
def preflight(args):
    """Check the machine; print one JSON line (``ok`` and what was found)."""
    info = {"ok": False, "python": sys.version.split()[0]}
    try:
        import numpy
        import torch

        info.update(
            torch=torch.__version__,
            numpy=numpy.__version__,
            cuda=torch.version.cuda,
            cuda_available=torch.cuda.is_available(),
        )
        if not args.dry_run:
            if not torch.cuda.is_available():
                raise RuntimeError("torch sees no CUDA device")
            info["device"] = torch.cuda.get_device_name(0)
            info["gpu_memory_gib"] = round(
                torch.cuda.get_device_properties(0).total_memory / 2**30, 1
            )
        else:
            info["device"] = "CPU (dry run)"
        for name in ("skorch", "imblearn", "sklearn", "pyarrow", "datasets", "pandas"):
            try:
                module = __import__(name)
                info[name] = getattr(module, "__version__", "?")
            except ImportError as exc:
                if name in ("skorch", "imblearn", "sklearn"):
                    raise RuntimeError(
                        f"cannot import {name}: {exc}; carry its wheel "
                        f"(benchmarks/prepare_payload.sh)"
                    ) from exc
                info[name] = None
        major, minor = (int(v) for v in info["sklearn"].split(".")[:2])
        if (major, minor) < (1, 6):
            raise RuntimeError(
                f"scikit-learn {info['sklearn']} is older than 1.6 "
                f"(FrozenEstimator, tags); carry a newer wheel"
            )
        import sklearn_ltdd

        info["sklearn_ltdd"] = sklearn_ltdd.__version__
        profile = PROFILES["smoke" if args.dry_run else "paper"]
        start = time.time()
        data = load_data(profile, None if args.dry_run else args.payload)
        info["data"] = {
            "train": int(len(data.y_train)),
            "test": int(len(data.y_test)),
            "counts": data.class_counts.tolist(),
            "seconds": round(time.time() - start, 1),
        }
        info["ok"] = True
    except Exception as exc:  # reported, and the window stops
        info["error"] = f"{type(exc).__name__}: {exc}"
    print(json.dumps(info), flush=True)
    return 0 if info["ok"] else 1


# -- ingest ---------------------------------------------------------------------------------
def ingest(args):
    """Take a window's ``$OUT`` (``src``) into the campaign folder and the results."""
    src, campaign, results = Path(args.src), Path(args.campaign), Path(args.results)
    manifest_path = src / "campaign.json"
    if not manifest_path.exists():
        raise SystemExit(f"{src} has no campaign.json: not a window's output folder")
    manifest = json.loads(manifest_path.read_text())
    stamp = manifest["started"].replace(":", "").replace("+0000", "Z")[:17]
    windows = campaign / "windows"
    windows.mkdir(parents=True, exist_ok=True)
    (windows / f"{stamp}-campaign.json").write_text(json.dumps(manifest, indent=1))
    for name in ("log.txt", "cuda_tests.txt"):
        if (src / name).exists():
            text = (src / name).read_text(errors="replace")
            (windows / f"{stamp}-{name}").write_text(text[-200_000:])
    # Distilled sets, checkpoints and figures.
    tar_path = src / "artifacts.tar"
    if tar_path.exists():
        with tarfile.open(tar_path) as tar:
            for member in tar.getmembers():
                if (
                    not member.isfile()
                    or member.name.startswith(("/", ".."))
                    or ".." in member.name
                ):
                    continue
                data = tar.extractfile(member).read()
                target = (
                    results if member.name.startswith("figures/") else campaign / "artifacts"
                ) / (Path(member.name).name if member.name.startswith("figures/") else member.name)
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(data)
    # Rows: the window started from the committed seed files, so its files supersede them.
    profiles = set()
    for seed_file in sorted((src / "rows").glob("*/seed*.json")):
        target = results / seed_file.parent.name / seed_file.name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(seed_file, target)
        profiles.add(seed_file.parent.name)
    for profile in sorted(profiles):
        merge(results, profile)
    # The speed table.
    import distill_speed

    for speed_file in sorted((src / "speed").glob("*.json")):
        target = results / speed_file.name
        shutil.copyfile(speed_file, target)
        target.with_suffix(".md").write_text(distill_speed.markdown(json.loads(target.read_text())))
    # State: which steps passed with which code.
    state = load_state(campaign)
    for entry in manifest["steps"]:
        if entry.get("code") and entry["name"] in ("cuda_tests", "speed"):
            state["steps"][entry["name"]] = {
                "code": entry["code"],
                "outcome": "passed" if entry["status"] == "ok" else entry["status"],
                "dry_run": manifest["dry_run"],
                "window": stamp,
                "device": manifest.get("device"),
            }
    state["windows"].append(
        {
            "window": stamp,
            "device": manifest.get("device"),
            "commit": manifest.get("commit"),
            "dry_run": manifest["dry_run"],
            "steps": {e["name"]: e["status"] for e in manifest["steps"]},
        }
    )
    write_json(campaign / "state.json", state)
    print(
        f"ingested window {stamp} ({manifest.get('device')}): "
        + ", ".join(f"{e['name']} {e['status']}" for e in manifest["steps"])
    )
    return 0


def status(args):
    state = load_state(args.campaign)
    args.out, args.work, args.payload = "/tmp/out", "/tmp/ltdd", PAYLOAD
    args.distill_iterations = None
    queue, hashes = build_queue(args, state)
    print(f"{len(state['windows'])} window(s) ingested")
    for step in queue:
        if step.kind.startswith("skip:"):
            continue
        done = step.done() if step.done is not None else False
        print(f"  {'done' if done else 'next'}: {step.name}")
    for ckpt in sorted((Path(args.campaign) / "artifacts").rglob("*.json")):
        record = json.loads(ckpt.read_text())
        print(
            f"  {ckpt.relative_to(args.campaign)}: {record.get('n_iter')} iterations, "
            f"finished={record.get('finished')}"
        )
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("run", "preflight", "ingest", "status"):
        p = sub.add_parser(name)
        p.add_argument(
            "--dry-run", action="store_true", default=bool(os.environ.get("LTDD_GPU_DRY_RUN"))
        )
        # A dry run keeps off the committed state unless told otherwise.
        dry = bool(os.environ.get("LTDD_GPU_DRY_RUN"))
        p.add_argument(
            "--campaign",
            default=os.environ.get(
                "LTDD_CAMPAIGN", "/tmp/ltdd_dry_run/campaign" if dry else str(CAMPAIGN)
            ),
        )
        p.add_argument(
            "--results",
            default=os.environ.get(
                "LTDD_RESULTS", "/tmp/ltdd_dry_run/results" if dry else str(RESULTS)
            ),
        )
        p.add_argument("--payload", default=str(PAYLOAD))
        if name == "run":
            p.add_argument("--out", default=os.environ.get("OUT", "/tmp/out"))
            p.add_argument("--work", default="/tmp/ltdd_campaign")
            p.add_argument(
                "--deadline",
                type=float,
                default=float(os.environ.get("LTDD_DEADLINE", DEFAULT_DEADLINE)),
            )
            p.add_argument(
                "--distill-iterations",
                type=int,
                default=(
                    int(os.environ["LTDD_DISTILL_ITERATIONS"])
                    if os.environ.get("LTDD_DISTILL_ITERATIONS")
                    else None
                ),
            )
        if name == "ingest":
            p.add_argument("src")
    args = parser.parse_args(argv)
    return {"run": run_window, "preflight": preflight, "ingest": ingest, "status": status}[
        args.command
    ](args)


if __name__ == "__main__":
    sys.exit(main())
