#!/usr/bin/env bash
# One GPU window of the campaign (benchmarks/README.md, "On a lent GPU machine").
#
# Device tool: command "bash benchmarks/gpu_session.sh", carry [".device"]
# (built by benchmarks/prepare_payload.sh). Everything runs under one deadline
# (LTDD_DEADLINE, default 540 s from this script's start; the tool stops a
# command at 600 s) and every finished step is already in $OUT when the next
# starts. Afterwards, here: python benchmarks/campaign.py ingest <files_at>.
#
# Dry run on any machine (CPU, smoke profile, no wheels; the tests run it):
#   OUT=/tmp/out LTDD_GPU_DRY_RUN=1 bash benchmarks/gpu_session.sh
set -uo pipefail
export LTDD_T0=${LTDD_T0:-$(date +%s.%N)}
cd "$(dirname "$0")/.."
OUT=${OUT:-/tmp/out}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1
exec > >(tee -a "$OUT/log.txt") 2>&1
echo "[gpu_session] $(date -u +%FT%TZ) start, deadline ${LTDD_DEADLINE:-540} s"
if [ -z "${LTDD_GPU_DRY_RUN:-}" ]; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/site .device/wheels/*.whl || { echo "[gpu_session] wheel install failed"; exit 1; }
  export PYTHONPATH=/tmp/site:$PWD${PYTHONPATH:+:$PYTHONPATH}
  export LTDD_COMMIT=${LTDD_COMMIT:-$(cat .device/commit 2>/dev/null || echo unknown)}
  python=python3
else
  export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH}
  python=${PYTHON:-python3}
fi
"$python" -u benchmarks/campaign.py run --out "$OUT"
rc=$?
echo "[gpu_session] $(date -u +%FT%TZ) end (rc $rc)"
exit $rc
