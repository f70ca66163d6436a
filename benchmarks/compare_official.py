"""The official DC/DSA/DM and MTT code and this package, side by side on one machine.

Takes local checkouts of the official repositories (nothing of them is in
this repository), runs their scripts (``main.py``, ``main_DM.py``,
``buffer.py``, ``distill.py``) and this package's distillers on the same
data (the paper's CIFAR10-LT, 2,478 images, ConvNet3 of width 128) on the
same machine, one process at a time, with the same number of threads, and
writes seconds per iteration (per expert epoch for the experts) and the
ratios, official time over ours, with device, versions and commit.

How the official scripts run unchanged is in ``ltdd_bench/official.py``
(a fresh interpreter per script; the data loader, Weights & Biases,
kornia's ZCA and one hard-coded ``.cuda()`` are replaced; ``get_network``,
called once per iteration, is timed). Evaluation is off on both sides
(``--num_eval 0``); the first iteration of every run is a warm-up and is
left out of the per-iteration figure; this package's set-up (data to the
device, and with ``--fast`` the compilation) is reported on its own and
counted in the "run of the default length" column.

Get the official code with::

    git clone https://github.com/VICO-UoE/DatasetCondensation /tmp/official/DatasetCondensation
    git clone https://github.com/GeorgeCazenavette/mtt-distillation /tmp/official/mtt-distillation

Examples
--------
python benchmarks/compare_official.py --dc /tmp/official/DatasetCondensation \\
    --mtt /tmp/official/mtt-distillation --source ../shared/data/cifar10 --fast
python benchmarks/compare_official.py --dc ... --methods dm10 dc1 --iterations 3
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from functools import partial
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from ltdd_bench.common import load_data, write_json
from ltdd_bench.profiles import PROFILES
from ltdd_bench.timed import arguments, clocked, finish, new_record, result_path, table

DSA = "color_crop_cutout_flip_scale_rotate"
COMMON = ["--dataset", "CIFAR10", "--model", "ConvNet", "--num_exp", "1", "--num_eval", "0"]
#: DC and DSA (``main.py``; this package's gradient matching): their arguments and ours.
GM = {
    "dc": (["--method", "DC"], {}),
    "dsa": (["--method", "DSA", "--dsa_strategy", DSA, "--init", "real"], {"augmentation": "dsa"}),
}
#: method -> (official repository, script, its arguments, our estimator and parameters,
#: the method's default number of iterations).
METHODS = {
    **{
        f"{name}{ipc}": (
            "dc",
            "main.py",
            [*argv, "--ipc", str(ipc), *COMMON],
            ("gm", {"ipc": ipc, **ours}),
            1000,
        )
        for name, (argv, ours) in GM.items()
        for ipc in (1, 10)
    },
    "dm10": (
        "dc",
        "main_DM.py",
        ["--ipc", "10", "--init", "real", "--lr_img", "1", "--dsa_strategy", DSA, *COMMON],
        ("dm", {"ipc": 10}),
        20000,
    ),
    # MTT on a one-expert buffer of 3 epochs (start epoch 0 or 1): the arithmetic of an
    # iteration does not depend on which epoch it starts from.
    "mtt10": (
        "mtt",
        "distill.py",
        (
            "--dataset CIFAR10 --model ConvNet --ipc 10 --syn_steps 30 --expert_epochs 2"
            " --max_start_epoch 2 --zca --lr_img 1000 --lr_lr 1e-05 --lr_teacher 0.01"
            " --eval_it 100000 --num_eval 0 --max_files 1"
        ).split(),
        (
            "mtt",
            {"ipc": 10, "n_experts": 1, "max_start_epoch": 2, "syn_steps": 30, "expert_epochs": 2},
        ),
        5000,
    ),
    "experts": (
        "mtt",
        "buffer.py",
        "--dataset CIFAR10 --model ConvNet --num_experts 1 --save_interval 1 --zca".split(),
        ("experts", {}),
        50,
    ),
}
#: This package's fast settings.
FAST = {"precision": "bf16", "compile": True}


def timings(argv, tag, what, threads, cwd=None, **env):
    """Run ``argv`` with ``threads`` threads (and ``env``); the JSON of its ``tag`` line."""
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), **env)
    proc = subprocess.run(argv, capture_output=True, text=True, env=env, cwd=cwd)
    line = next((l for l in proc.stdout.splitlines() if l.startswith(tag + " ")), None)
    if proc.returncode != 0 or line is None:
        raise RuntimeError(
            f"{what} failed ({proc.returncode}):\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}"
        )
    return json.loads(line.split(" ", 1)[1])


def official(method, repo, data, iterations, threads, workdir):
    """Seconds per iteration (expert epoch) of an official script, first one left out."""
    kind, script, argv, _, _ = METHODS[method]
    work = Path(workdir) / f"official_{method}"
    work.mkdir(parents=True, exist_ok=True)
    data_path = ["--data_path", str(work / "data")]
    buffers = ["--buffer_path", str(Path(workdir) / "buffers")]
    if script == "buffer.py":
        argv = argv + ["--train_epochs", str(iterations + 1), *buffers, *data_path]
    elif kind == "mtt":
        argv = argv + ["--Iteration", str(iterations), *buffers, *data_path]
    else:
        paths = [*data_path, "--save_path", str(work / "save")]
        argv = argv + ["--Iteration", str(iterations), *paths]
    spec = {
        "repo": repo,
        "script": script,
        "argv": argv,
        "kind": kind,
        "data": str(data),
        "threads": threads,
        "workdir": str(work),
    }
    spec_path = work / "spec.json"
    spec_path.write_text(json.dumps(spec))
    record = timings(
        [sys.executable, str(HERE / "ltdd_bench" / "official.py"), str(spec_path)],
        "OFFICIAL_TIMINGS",
        f"official {method}",
        threads,
        cwd=work,
        PYTHONWARNINGS="ignore",
        TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD="1",
        WANDB_MODE="disabled",
    )
    if script == "buffer.py":
        train = [s for mode, s in record["epochs"] if mode == "train"]
        test = [s for mode, s in record["epochs"] if mode == "test"]
        return {"seconds": train[1:], "test_pass_s": float(np.median(test)) if test else None}
    starts = record["iteration_starts"] + [record["end"]]
    return {"seconds": list(np.diff(starts))[1:]}


def ours(method, data, iterations, threads, settings):
    """Seconds per iteration of this package, in a fresh process, after one warm-up iteration;
    the set-up of the first fit (with compilation) apart."""
    spec = {
        "method": method,
        "data": str(data),
        "iterations": iterations,
        "threads": threads,
        "settings": settings,
    }
    argv = [sys.executable, __file__, "--_ours", json.dumps(spec)]
    return timings(argv, "OURS_TIMINGS", f"ours {method}", threads)


def _ours_child(spec):
    """The child process of :func:`ours`."""
    import torch

    from sklearn_ltdd import (
        DistributionMatchingDistiller,
        GradientMatchingDistiller,
        TrajectoryMatchingDistiller,
    )
    from sklearn_ltdd.augmentation import DSA as DSAugment
    from sklearn_ltdd.distillation import train_expert_trajectories
    from sklearn_ltdd.nets import ConvNet

    torch.set_num_threads(int(spec["threads"]))
    arrays = np.load(spec["data"])
    X, y = arrays["X"], arrays["y"]
    kind, params = METHODS[spec["method"]][3]
    settings, n = spec["settings"], int(spec["iterations"])
    if kind == "experts":  # one epoch a call: the same cost as an epoch of a longer run
        call = partial(
            train_expert_trajectories,
            X,
            y,
            epochs=1,
            module=ConvNet,
            module_kwargs={"width": 128, "n_classes": 10},
            n_experts=1,
            lr=0.01,
            batch_size=256,
            augmentation=DSAugment(),
            seed=0,
            device="cpu",
            **settings,
        )
    else:  # one iteration a call, warm-started
        cls = {
            "gm": GradientMatchingDistiller,
            "dm": DistributionMatchingDistiller,
            "mtt": TrajectoryMatchingDistiller,
        }[kind]
        if kind == "mtt":  # a timing run must not stop on divergence; same arithmetic
            params = {**params, "lr_img": 1e-3, "lr_lr": 1e-9}
        common = {"module__width": 128, "device": "cpu", "random_state": 0, **settings}
        call = partial(cls(**params, **common, n_iterations=1, warm_start=True).fit, X, y)
    # The first call is the warm-up (with MTT's experts and any compilation).
    first, *seconds = [clocked(call)[1] for _ in range(1 + n)]
    setup = first if kind == "experts" else max(first - float(np.median(seconds)), 0.0)
    return {"seconds": seconds, "setup_s": setup}


def main(argv=None):
    if argv is None and len(sys.argv) > 2 and sys.argv[1] == "--_ours":
        print("OURS_TIMINGS " + json.dumps(_ours_child(json.loads(sys.argv[2]))), flush=True)
        return 0
    parser = arguments(__doc__)
    parser.add_argument("--dc", help="local checkout of VICO-UoE/DatasetCondensation")
    parser.add_argument("--mtt", help="local checkout of GeorgeCazenavette/mtt-distillation")
    parser.add_argument("--source", default=os.environ.get("SKLEARN_LTDD_CIFAR10"))
    parser.add_argument("--methods", nargs="+", default=list(METHODS), choices=list(METHODS))
    parser.add_argument(
        "--iterations",
        type=int,
        default=None,
        help="timed iterations per run (default: 1 for DC/DSA ipc 10, "
        "3 for MTT and the experts, 5 otherwise)",
    )
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--fast", action="store_true", help=f"also time this package with {FAST}")
    parser.add_argument(
        "--resume",
        action="store_true",
        help="keep the rows of the existing result file for the methods not "
        "run now (each row records its own commit and command)",
    )
    args = parser.parse_args(argv)
    needed = {METHODS[m][0] for m in args.methods}
    missing = [name for name in sorted(needed) if not getattr(args, name)]
    if missing:
        print(
            __doc__.split("Examples")[0].split("Get the official code with::")[1].strip(),
            file=sys.stderr,
        )
        print(
            f"\nerror: pass --{' --'.join(missing)} (local checkouts; nothing is downloaded)",
            file=sys.stderr,
        )
        return 2
    data = load_data(PROFILES["cpu"], args.source)  # the paper's 2,478 images
    record = new_record(
        "compare_official",
        "cpu",
        threads=args.threads,
        n_images=int(len(data.y_train)),
        official_commits={name: _repo_commit(getattr(args, name)) for name in needed},
        width=128,
        fast_settings=FAST,
    )
    path = result_path(args.out, "compare_official", record)
    if args.resume and path.exists():
        earlier = json.loads(path.read_text())
        record["runs"] = [
            {"commit": earlier["commit"], "command": earlier["command"], **run}
            for run in earlier["runs"]
            if run["method"] not in args.methods
        ]
    sides = {"ours": {}, **({"ours_fast": FAST} if args.fast else {})}  # our settings
    with tempfile.TemporaryDirectory(prefix="ltdd_official_") as work:
        arrays = Path(work) / "data.npz"
        np.savez(
            arrays,
            X=data.X_train,
            y=data.y_train,
            X_test=data.X_test[:256],
            y_test=data.y_test[:256],
        )
        for method in args.methods:
            repo, _, _, _, default_length = METHODS[method]
            n = args.iterations or (
                1 if method in ("dc10", "dsa10") else 3 if method in ("mtt10", "experts") else 5
            )
            row = {
                "method": method,
                "timed": n,
                "default_length": default_length,
                "commit": record["commit"],
                "command": record["command"],
            }
            if method == "mtt10":  # its buffer first (not timed)
                official("experts", args.mtt, arrays, 2, args.threads, work)
            row["official"] = official(method, getattr(args, repo), arrays, n, args.threads, work)
            print(method, "official", row["official"], flush=True)
            for side, settings in sides.items():
                row[side] = ours(method, arrays, n, args.threads, settings)
                print(method, side.replace("_", " "), row[side], flush=True)
            record["runs"].append(row)
            write_json(path, record)
    return finish(path, record, markdown)


def _repo_commit(repo):
    """The official checkout's commit."""
    try:
        git = ["git", "-C", str(repo), "rev-parse", "--short", "HEAD"]
        return subprocess.check_output(git, text=True, stderr=subprocess.DEVNULL).strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown (not a git checkout)"


NAMES = {
    "dc1": "DC, ipc 1",
    "dc10": "DC, ipc 10",
    "dsa1": "DSA, ipc 1",
    "dsa10": "DSA, ipc 10",
    "dm10": "DM, ipc 10",
    "mtt10": "MTT, ipc 10",
    "experts": "MTT experts (per epoch)",
}


HEADER = (
    "method | official s/it | ours s/it | ratio | fast s/it | ratio | fast set-up s "
    "| ratio, run of the default length (default / fast)"
).split(" | ")


def markdown(record):
    lines = [
        f"# The official code and sklearn-ltdd on {record['device']}",
        "",
        f"- {record['n_images']} images (CIFAR10-LT, the paper's), ConvNet3 width "
        f"{record['width']}, {record['threads']} threads; torch {record['torch']}; commit "
        f"{record['commit']}; official commits {record['official_commits']}",
        f"- command: `{record['command']}`",
        "- seconds per iteration (per epoch for the experts): median of the timed "
        "iterations after one warm-up, each side in a fresh process; ratio = official / "
        "ours (above 1: this package is faster)",
        "- a run of the default length: the method's default iterations (1000 DC/DSA, "
        "20000 DM, 5000 MTT, 50 expert epochs) at that speed, plus this package's set-up "
        "(and compilation, with the fast settings)",
        "",
    ]
    earlier = [
        f"{NAMES[r['method']]} at {r['commit']} (`{r['command']}`)"
        for r in record["runs"]
        if r.get("commit", record["commit"]) != record["commit"]
        or r.get("command", record["command"]) != record["command"]
    ]
    if earlier:
        lines[4:4] = ["- rows kept from an earlier run (`--resume`): " + "; ".join(earlier)]
    rows = []
    for r in record["runs"]:
        off = float(np.median(r["official"]["seconds"]))
        our = float(np.median(r["ours"]["seconds"]))
        cells = [NAMES[r["method"]], f"{off:.3f}", f"{our:.3f}", f"{off / our:.2f}x"]
        length = r["default_length"]
        whole = [off * length / (our * length + r["ours"].get("setup_s", 0.0))]
        if "ours_fast" in r:
            fast = float(np.median(r["ours_fast"]["seconds"]))
            setup = r["ours_fast"].get("setup_s", 0.0)
            cells += [f"{fast:.3f}", f"{off / fast:.2f}x", f"{setup:.1f}"]
            whole.append(off * length / (fast * length + setup))
        else:
            cells += ["-", "-", "-"]
        rows.append(cells + [" / ".join(f"{w:.2f}x" for w in whole)])
    return "\n".join(lines + table(HEADER, rows, "lrrrrrrl")) + "\n"


if __name__ == "__main__":
    sys.exit(main())
