#!/usr/bin/env bash
# One prepared run for a lent GPU machine (see benchmarks/README.md):
# installs the carried wheels, checks CUDA, times the distillers and runs the
# paper profile's tables for one seed. The device tool returns at most 8 files,
# so everything is packed into $OUT/gpu_results.tgz, with the logs' ends in
# $OUT/summary.txt. Unpack the archive into benchmarks/results/ and commit.
# Usage (device tool): command "bash benchmarks/gpu_session.sh", carry [".device"].
set -uo pipefail
OUT=${OUT:-/tmp/out}
WORK=/tmp/gpu_work
mkdir -p "$OUT" "$WORK"
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
  --target /tmp/site .device/wheels/*.whl
export PYTHONPATH=/tmp/site:$PWD:${PYTHONPATH:-}
export SKLEARN_LTDD_DATA=/tmp/ltdd_cache
DATA=.device/data/cifar10
{
python3 -c "import torch, sklearn, skorch; print(torch.__version__, torch.version.cuda, torch.cuda.get_device_name(0), 'sklearn', sklearn.__version__, 'skorch', skorch.__version__)"
# 0. the CUDA tests (if pytest was carried)
python3 -c "import pytest" 2>/dev/null && timeout 120 python3 -m pytest -q -p no:cacheprovider \
  tests/test_cuda.py 2>&1 | tail -n 5
# 1. speed: DC, DSA, MTT experts and distillation at ipc 1 and 10; class batching compared
timeout 200 python3 benchmarks/distill_speed.py --source "$DATA" --ipc 1 10 --iterations 10 \
  --mtt-iterations 50 --experts 25 --compare-batching --out "$WORK" 2>&1 | tail -n 25
# 2. the paper profile, seed 0: Tables 1-3, baselines, extra rows, Figure 1. Rows
# that need no distillation run first and the seed file is rewritten after every
# row, so a timeout keeps what finished; distilled sets come back for the next
# session (carry them in .device/artifacts); expert trajectories are too big to.
mkdir -p "$WORK/artifacts" && cp -r .device/artifacts/. "$WORK/artifacts/" 2>/dev/null
timeout 360 python3 benchmarks/reproduce_paper.py --profile paper --seeds 0 --source "$DATA" \
  --out "$WORK" --artifacts "$WORK/artifacts" --figure 2>&1 | tail -n 45
python3 benchmarks/reproduce_paper.py --profile paper --out "$WORK" --merge-only 2>&1 | tail -n 2
} > "$OUT/summary.txt" 2>&1
tar czf "$OUT/gpu_results.tgz" --exclude=experts -C "$WORK" .
tail -n 40 "$OUT/summary.txt"
