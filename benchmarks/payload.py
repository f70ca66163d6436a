r"""CIFAR10-LT as one ``.npz`` file, for a GPU machine without ``datasets``.

The lent GPU machines have numpy, torch and scikit-learn but not the Hugging
Face ``datasets`` library, and they reach no network. This script exports,
here, exactly the images that :func:`sklearn_ltdd.datasets.load_cifar10_lt`
selects, as uint8 arrays in one ``.npz`` file, and :func:`load` turns that file
back into the Bunch the loader returns (same fields, dtypes and values), with
numpy only.

What the file holds, per exported profile (``"paper"``: at most 1,000 images
per class, 2,478 images; ``"standard"``: all 5,000, 12,406 images; both at
imbalance ratio 100 and ``random_state=0``):

* the long-tailed training subset;
* the balanced subset of Figure 1 in ``reproduce_paper.py``: imbalance ratio 1,
  ``len(y_train) // 10`` images per class (247 for ``"paper"``), unless
  ``--no-balanced``;

and once: the 10,000 test images, ``target_names``, ``mean``, ``std`` and a
JSON provenance record. The training images of all subsets are stored once
(``train_images``, their union, in the order of the training split) and each
subset is a list of rows into it: the subsets overlap (each class draws from
one permutation), which saves about 1,260 images (3.9 MB) for ``"paper"``.

Sizes (compressed): ``paper`` 36.9 MiB; ``standard --no-balanced`` (or
``paper standard --no-balanced``) 59.8 MiB, which fits the device tool's
64 MiB with the wheels and the working tree but with little to spare;
``paper standard`` 76.5 MiB, which does not fit.

Members of the file (format version 1): ``train_images`` uint8
(m, 32, 32, 3), ``train_labels`` int64 (m,), ``train_index`` int64 (m,) (row
in the 50,000-image training split), ``<profile>_rows`` and
``<profile>_balanced_rows`` int64, ``<profile>_descr`` and
``<profile>_balanced_descr`` (the loader's DESCR), ``X_test`` uint8
(10000, 32, 32, 3), ``y_test`` int64, ``target_names`` str, ``mean`` and
``std`` float32 (3,), ``provenance`` (JSON str).

Examples
--------
python benchmarks/payload.py export --source ../shared/data/cifar10 \
    --out .device/data/cifar10_lt.npz
python benchmarks/payload.py export --source ../shared/data/cifar10 \
    --out .device/data/cifar10_lt.npz --profiles paper standard --no-balanced
python benchmarks/payload.py check .device

On the GPU machine::

    from payload import load          # benchmarks/ on sys.path
    data = load(".device/data/cifar10_lt.npz", profile="paper")
    full = load(".device/data/cifar10_lt.npz", profile="paper", balanced=True)
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

import sklearn_ltdd
from sklearn_ltdd.datasets import load_cifar10_lt, make_long_tailed
from sklearn_ltdd.datasets._cifar import _load_cached  # the uint8 arrays, decoded once
from sklearn_ltdd.utils import images_from_uint8

sys.path.insert(0, str(Path(__file__).resolve().parent))  # ltdd_bench, when imported by path
from ltdd_bench.payload_io import (  # noqa: F401  (reading lives there; re-exported)
    FORMAT,
    FORMAT_VERSION,
    PROFILES,
    is_payload,
    load,
    read_provenance,
)

REPO = Path(__file__).resolve().parents[1]
IMBALANCE_RATIO = 100
RANDOM_STATE = 0
# What the device tool carries with the working tree, in all.
CARRY_LIMIT = 64 * 2**20
# The CPU runs' committed networks and sets (about 70 MiB): a window never reads them, and
# prepare_payload.sh takes them out of the working tree before it (git restores them).
CPU_ARTIFACTS = "benchmarks/campaign/cpu_artifacts"
# np.savez_compressed (zlib) against np.savez, measured on the "paper" export
# (3,687 distinct training + 10,000 test uint8 images of the JPEG-q75 copy):
# 38.7 MB against 42.2 MB, 8% smaller, for 0.9 s more to write and 0.13 s more
# to read. Modest, but the 64 MiB carry budget is the scarce resource and the
# cost is nil, so the file is compressed. (A zip with LZMA members, which
# np.load also reads, gave 32.0 MB but takes 24 s to write and 1.8 s to read.)
COMPRESS = True


def profile_name(max_per_class) -> str:
    """The payload profile whose head class keeps ``max_per_class`` images.

    Parameters
    ----------
    max_per_class : int or None
        As passed to :func:`~sklearn_ltdd.datasets.load_cifar10_lt`.

    Returns
    -------
    name : str

    Examples
    --------
    >>> profile_name(1000), profile_name(None)
    ('paper', 'standard')
    """
    for name, value in PROFILES.items():
        if value == max_per_class:
            return name
    raise ValueError(
        f"No payload profile has max_per_class={max_per_class!r}; the profiles are {PROFILES!r}."
    )


def _check_profiles(profiles):
    profiles = [profiles] if isinstance(profiles, str) else list(profiles)
    unknown = [p for p in profiles if p not in PROFILES]
    if unknown or not profiles:
        raise ValueError(
            f"profiles must be a non-empty list of {sorted(PROFILES)}, got {profiles!r}."
        )
    return list(dict.fromkeys(profiles))


def _subset(arrays, bunch, *, imbalance_ratio, max_per_class):
    """Indices of one loader call into the training split, checked against it."""
    _, y, idx = make_long_tailed(
        arrays["y_train"],
        arrays["y_train"],
        imbalance_ratio=imbalance_ratio,
        max_per_class=max_per_class,
        random_state=RANDOM_STATE,
        return_indices=True,
    )
    X = images_from_uint8(arrays["X_train"][idx], mean=bunch.mean, std=bunch.std)
    if not (np.array_equal(y, bunch.y_train) and np.array_equal(X, bunch.X_train)):
        raise RuntimeError(
            f"The subset rebuilt from the uint8 cache (imbalance_ratio="
            f"{imbalance_ratio}, max_per_class={max_per_class}) differs from what "
            f"load_cifar10_lt returns; the loader has changed and this script "
            f"needs updating."
        )
    return idx


def export(source, path, profiles=("paper",), *, balanced: bool = True, data_home=None) -> dict:
    """Write the CIFAR10-LT subsets of ``profiles`` to one ``.npz`` file.

    Needs ``datasets`` (through the package's loader), unless the decoded
    arrays are already cached under ``data_home``.

    Parameters
    ----------
    source : str or path
        Hub id or local folder, as for
        :func:`~sklearn_ltdd.datasets.load_cifar10_lt`.
    path : str or path
        The ``.npz`` file to write (its folder is created).
    profiles : sequence of {"paper", "standard"}, default=("paper",)
        Training subsets to include; the test set is stored once.
    balanced : bool, default=True
        Also store each profile's balanced Figure-1 subset (for ``"paper"``
        it adds 1,209 images, 3.4 MB; for ``"standard"`` 6,067 images,
        about 17 MB, which takes it past the 64 MiB carry limit).
    data_home : str or path, default=None
        Cache folder of the loader.

    Returns
    -------
    provenance : dict
        What was written: source, profiles, counts, versions.
    """
    profiles = _check_profiles(profiles)
    path = Path(path)
    if path.suffix != ".npz":
        raise ValueError(f"path must end in .npz, got {str(path)!r}.")
    arrays = _load_cached("cifar10", source, data_home)
    n_classes = len(arrays["target_names"])
    subsets, record = {}, {}
    for name in profiles:
        max_per_class = PROFILES[name]
        data = load_cifar10_lt(
            source=source,
            imbalance_ratio=IMBALANCE_RATIO,
            max_per_class=max_per_class,
            random_state=RANDOM_STATE,
            data_home=data_home,
        )
        subsets[name] = (
            _subset(arrays, data, imbalance_ratio=IMBALANCE_RATIO, max_per_class=max_per_class),
            data.DESCR,
        )
        record[name] = {
            "max_per_class": max_per_class,
            "imbalance_ratio": IMBALANCE_RATIO,
            "random_state": RANDOM_STATE,
            "n_train": len(data.y_train),
            "class_counts": data.class_counts.tolist(),
            "balanced_per_class": None,
            "n_balanced": None,
        }
        if balanced:
            per_class = len(data.y_train) // n_classes  # as figure1 in reproduce_paper.py
            full = load_cifar10_lt(
                source=source,
                imbalance_ratio=1,
                max_per_class=per_class,
                random_state=RANDOM_STATE,
                data_home=data_home,
            )
            subsets[f"{name}_balanced"] = (
                _subset(arrays, full, imbalance_ratio=1, max_per_class=per_class),
                full.DESCR,
            )
            record[name].update(balanced_per_class=per_class, n_balanced=len(full.y_train))
            del full
        mean, std = data.mean, data.std
        del data
    index = np.unique(np.concatenate([idx for idx, _ in subsets.values()]))
    members = {
        "train_images": arrays["X_train"][index],
        "train_labels": arrays["y_train"][index].astype(np.int64),
        "train_index": index.astype(np.int64),
        "X_test": arrays["X_test"],
        "y_test": arrays["y_test"].astype(np.int64),
        "target_names": arrays["target_names"],
        "mean": mean,
        "std": std,
    }
    for key, (idx, descr) in subsets.items():
        members[f"{key}_rows"] = np.searchsorted(index, idx).astype(np.int64)
        members[f"{key}_descr"] = np.asarray(descr)
    local = Path(str(source)).expanduser()
    provenance = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "source": str(source),
        "source_resolved": str(local.resolve()) if local.exists() else None,
        "profiles": record,
        "n_train_images_stored": len(index),
        "n_test": len(arrays["y_test"]),
        "sklearn_ltdd_version": sklearn_ltdd.__version__,
        "numpy_version": np.__version__,
        "compressed": COMPRESS,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }
    members["provenance"] = np.asarray(json.dumps(provenance))
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.stem + ".tmp.npz")
    (np.savez_compressed if COMPRESS else np.savez)(tmp, **members)
    os.replace(tmp, path)
    return provenance


# -- sizes ----------------------------------------------------------------------------
def folder_bytes(folder) -> int:
    """Bytes of all regular files under ``folder``, recursively (links not followed)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"No folder {str(folder)!r} to measure.")
    total = 0
    for root, _, files in os.walk(folder):
        for name in files:
            stat = os.lstat(os.path.join(root, name))
            if not os.path.islink(os.path.join(root, name)):
                total += stat.st_size
    return total


def working_tree_bytes(repo=REPO, exclude=None) -> int:
    """Bytes of the files the device tool carries as the working tree.

    Tracked plus untracked-but-not-ignored files
    (``git ls-files -co --exclude-standard``); files under ``exclude`` are
    left out (they are counted with that folder).

    Parameters
    ----------
    repo : str or path, default=this repository
    exclude : str or path, default=None

    Returns
    -------
    n_bytes : int
    """
    repo = Path(repo).resolve()
    try:
        listing = subprocess.run(
            ["git", "ls-files", "-co", "--exclude-standard", "-z"],
            cwd=repo,
            capture_output=True,
            check=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError) as exc:
        raise OSError(
            f"Could not list the git working tree of {str(repo)!r} ({exc}); pass "
            f"tree_bytes to check_sizes to measure a folder outside git."
        ) from exc
    exclude = Path(exclude).resolve() if exclude is not None else None
    total = 0
    for name in listing.decode().split("\0"):
        if not name:
            continue
        file = repo / name
        if exclude is not None and file.resolve().is_relative_to(exclude):
            continue
        if file.is_file() and not file.is_symlink():  # tracked files may be deleted
            total += file.stat().st_size
    return total


def check_sizes(folder, tree_bytes: int, limit: int = CARRY_LIMIT) -> dict:
    """Bytes of ``folder`` plus the working tree, against the carry limit.

    Parameters
    ----------
    folder : str or path
        The carried folder, such as ``.device``.
    tree_bytes : int
        Bytes of the working tree (:func:`working_tree_bytes`).
    limit : int, default=64 MiB

    Returns
    -------
    sizes : dict
        ``folder_bytes``, ``tree_bytes``, ``total``, ``limit``, ``over``
        (bytes above the limit, 0 when within) and ``parts``: bytes of each
        entry at the top of ``folder``.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     _ = Path(tmp, "a.bin").write_bytes(b"x" * 10)
    ...     check_sizes(tmp, tree_bytes=5, limit=12)["over"]
    3
    """
    folder = Path(folder)
    parts = {}
    for entry in sorted(folder.iterdir()) if folder.is_dir() else []:
        if entry.is_dir() and not entry.is_symlink():
            parts[entry.name + "/"] = folder_bytes(entry)
        elif entry.is_file() and not entry.is_symlink():
            parts[entry.name] = entry.stat().st_size
    n_folder = folder_bytes(folder)
    total = n_folder + int(tree_bytes)
    return {
        "folder_bytes": n_folder,
        "tree_bytes": int(tree_bytes),
        "total": total,
        "limit": int(limit),
        "over": max(0, total - int(limit)),
        "parts": parts,
    }


def _mib(n_bytes):
    return f"{n_bytes / 2**20:.2f} MiB ({n_bytes:,} bytes)"


# -- command line -----------------------------------------------------------------------
def _export_command(args):
    provenance = export(
        args.source, args.out, args.profiles, balanced=args.balanced, data_home=args.data_home
    )
    for name, info in provenance["profiles"].items():
        extra = (
            f", balanced subset {info['n_balanced']} ({info['balanced_per_class']} per class)"
            if info["n_balanced"]
            else ", no balanced subset"
        )
        print(
            f"{name}: {info['n_train']} long-tailed training images {info['class_counts']}{extra}"
        )
    print(
        f"stored {provenance['n_train_images_stored']} distinct training images and "
        f"{provenance['n_test']} test images"
    )
    print(f"wrote {args.out}: {_mib(Path(args.out).stat().st_size)}")
    return 0


def _check_command(args):
    tree = working_tree_bytes(args.repo, exclude=args.folder)
    sizes = check_sizes(args.folder, tree, limit=args.limit)
    for name, n_bytes in sizes["parts"].items():
        print(f"  {args.folder}/{name}: {_mib(n_bytes)}")
    print(f"{args.folder}: {_mib(sizes['folder_bytes'])}")
    print(f"working tree (git ls-files -co --exclude-standard): {_mib(sizes['tree_bytes'])}")
    print(f"total carried: {_mib(sizes['total'])} of {_mib(sizes['limit'])}")
    if sizes["over"]:
        print(
            f"too big: {_mib(sizes['over'])} over the limit; leave out a profile or a wheel, "
            f"or take committed files the window does not read out of the working tree "
            f"(prepare_payload.sh does so for {CPU_ARTIFACTS})",
            file=sys.stderr,
        )
        return 1
    print(f"fits: {_mib(sizes['limit'] - sizes['total'])} to spare")
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    ex = commands.add_parser("export", help="write the .npz payload (needs datasets)")
    ex.add_argument(
        "--source",
        default=os.environ.get("SKLEARN_LTDD_CIFAR10"),
        help="hub id or local CIFAR-10 folder (default $SKLEARN_LTDD_CIFAR10)",
    )
    ex.add_argument("--out", required=True, help="the .npz file to write")
    ex.add_argument("--profiles", nargs="+", choices=sorted(PROFILES), default=["paper"])
    ex.add_argument(
        "--no-balanced",
        dest="balanced",
        action="store_false",
        help="leave out the balanced Figure-1 subsets",
    )
    ex.add_argument("--data-home", default=None, help="the loader's cache folder")
    ex.set_defaults(run=_export_command)
    ch = commands.add_parser("check", help="size of a carried folder plus the working tree")
    ch.add_argument("folder", help="the folder to carry, such as .device")
    ch.add_argument("--repo", default=str(REPO), help="the git working tree (default: this one)")
    ch.add_argument("--limit", type=int, default=CARRY_LIMIT, help="bytes (default 64 MiB)")
    ch.set_defaults(run=_check_command)
    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except (OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
