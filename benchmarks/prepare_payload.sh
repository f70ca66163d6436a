#!/usr/bin/env bash
# Build .device/ (git-ignored), everything a lent GPU machine needs beside the
# working tree, then check that both together fit the device tool's 64 MiB:
#   .device/wheels/             skorch, imbalanced-learn, sklearn-compat (pure-Python
#                               wheels; the machine has torch, numpy, scikit-learn,
#                               scipy, joblib, threadpoolctl, tqdm, tabulate but no
#                               network)
#   .device/data/cifar10_lt.npz CIFAR10-LT as uint8 arrays (benchmarks/payload.py),
#                               read there with numpy only: no `datasets` needed
# Usage (from anywhere; SOURCE relative to the repository root), with the
# virtualenv active and PyPI reachable:
#   bash benchmarks/prepare_payload.sh [SOURCE [EXPORT OPTIONS...]]
# SOURCE defaults to ../shared/data/cifar10 and the options to --profiles paper
# (36.9 MiB; with the wheels' 9.7 MiB it leaves 17 MiB for the working tree);
# "--profiles paper standard --no-balanced" (59.8 MiB) does not fit beside the
# wheels (see benchmarks/payload.py).
# It takes the committed CPU artifacts (benchmarks/campaign/cpu_artifacts, about
# 70 MiB of networks and sets that a window never reads) out of the working tree,
# since all of it travels; after the window, git restores them:
#   git checkout HEAD -- benchmarks/campaign/cpu_artifacts
# Then carry it: device tool, carry [".device"].
set -euo pipefail
cd "$(dirname "$0")/.."
source=${1:-../shared/data/cifar10}
shift || true
cpu_artifacts=benchmarks/campaign/cpu_artifacts

# 0. The CPU artifacts leave the working tree (committed ones only: git restores them;
#    the git-ignored row pickles beside them do not travel anyway).
if ! git diff --quiet HEAD -- "$cpu_artifacts"; then
  echo "error: $cpu_artifacts has uncommitted changes; commit them before a window" >&2
  exit 1
fi
git ls-files -z -- "$cpu_artifacts" | xargs -0 rm -f --
options=("$@")
[ ${#options[@]} -gt 0 ] || options=(--profiles paper)

# 1. Nothing on the device path may import `datasets` at module level (the
#    loader imports it inside the function that decodes Parquet, which
#    payload.load never calls).
if grep -rnE --include='*.py' '^(import datasets|from datasets)' sklearn_ltdd benchmarks; then
  echo "error: the lines above import datasets at module level; the device has no datasets" >&2
  exit 1
fi

# 2. Wheels. Not pytest/pluggy/iniconfig (the device has them) nor datasets/dill/
#    multiprocess (replaced by the payload).
rm -rf .device/wheels
# scikit-learn too, pinned to the version tested here: the device's is not
# known in advance, and sklearn-compat and imbalanced-learn pin ranges of it
# (narwhals: scikit-learn 1.9 needs >= 2.0.1; the device's version is unknown).
sklearn_version=$(python -c "import sklearn; print(sklearn.__version__)")
DEVICE_WHEELS="skorch imbalanced-learn sklearn-compat narwhals scikit-learn==$sklearn_version" \
  bash ../shared/tools/device-wheels.sh .device/wheels >/dev/null
# The commit the window runs (the device receives no .git): recorded in every result.
# (the CPU artifacts taken out above are not a change to the code that runs)
dirty=$(git status --porcelain --untracked-files=no -- . ":(exclude)$cpu_artifacts")
echo "$(git rev-parse --short HEAD)$([ -n "$dirty" ] && echo +dirty)" > .device/commit
# Every non-extra requirement of the wheels must be on the device already or
# among the wheels (device list: "Python packages already there" in the device
# tool's notes; update ON_DEVICE when it changes).
python - <<'EOF'
import re, sys, zipfile
from email.parser import Parser
from pathlib import Path

ON_DEVICE = {"numpy", "scipy", "scikit-learn", "joblib", "threadpoolctl", "tqdm",
             "tabulate", "torch", "pandas", "matplotlib", "pillow", "packaging"}
norm = lambda name: re.sub(r"[-_.]+", "-", name).lower()
wheels = sorted(Path(".device/wheels").glob("*.whl"))
carried = {norm(w.name.split("-")[0]) for w in wheels}
missing = []
for wheel in wheels:
    with zipfile.ZipFile(wheel) as archive:
        meta = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        headers = Parser().parsestr(archive.read(meta).decode())
    for req in headers.get_all("Requires-Dist") or []:
        if "extra ==" in req:
            continue
        name = norm(re.match(r"[A-Za-z0-9._-]+", req).group())
        where = "carried" if name in carried else "on device" if name in ON_DEVICE else "MISSING"
        print(f"  {wheel.name}: {req} [{where}]")
        if where == "MISSING":
            missing.append(name)
if missing:
    sys.exit(f"error: add {sorted(set(missing))} to DEVICE_WHEELS in benchmarks/prepare_payload.sh")
EOF
ls -l .device/wheels

# 3. The data, then the size check (exits non-zero above 64 MiB).
python benchmarks/payload.py export --source "$source" --out .device/data/cifar10_lt.npz \
  "${options[@]}"
python benchmarks/payload.py check .device
