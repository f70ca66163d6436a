#!/usr/bin/env bash
# The standard CIFAR10-LT table (r=100, 12,406 images, ConvNet3 width 128) on two CPU cores
# (issue 29), in the order its rows are wanted. Every step resumes: rows already in a seed
# file are kept, shared networks (the teacher) load from --artifacts, a distillation
# continues from its checkpoint. Run it again after a stop; commit each seed file as it
# completes (benchmarks/results/standard_cpu*/seed*.json and the merged reports) and what
# campaign/cpu_artifacts/ holds (the teacher, the checkpoints). A row's student is pickled
# every ten minutes (row_*.partial.pkl) and kept once fitted until it is scored (row_*.joblib):
# both git-ignored, keep them for the next run.
#
#   SKLEARN_LTDD_CIFAR10=../shared/data/cifar10 nohup benchmarks/standard_cpu.sh > standard.log &
set -euo pipefail
cd "$(dirname "$0")/.."
source="${SKLEARN_LTDD_CIFAR10:-../shared/data/cifar10}"
# Its networks and checkpoints are committed (campaign/cpu_artifacts/), so that a session
# on a fresh checkout goes on where the last one stopped.
run() {
    python benchmarks/reproduce_paper.py --source "$source" \
        --artifacts benchmarks/campaign/cpu_artifacts "$@"
}

# Every network is compiled in float32 (the profile's "speed"): native on every CPU, where
# bfloat16 is emulated without AVX512-BF16/AMX. The first fit of each network compiles it.

# 1. seed 0, ipc 10: the soft table (teacher; random and SM images, hard and soft labels)
run --profile standard_cpu --seeds 0 --tables soft
# 2. seed 0, ipc 10: the paper's two-stage model (two 60-epoch networks first) and DM, the
#    other students (on the sets above: no other network), then the best coreset
run --profile standard_cpu --seeds 0 --tables soft_two_stage soft_dm
run --profile standard_cpu --seeds 0 --tables cross_arch
run --profile standard_cpu --seeds 0 --tables coreset_best
# 3. ipc 1 and 50, seed 0 (the same teacher, loaded)
run --profile standard_cpu_ipc1 --seeds 0 --tables soft
run --profile standard_cpu_ipc50 --seeds 0 --tables soft
# 4. seed 1, ipc 10, one table a command: the runner does the work that needs no distilled
#    set (phase 0) of every table asked for first, so several tables in one command spend
#    hours on the cross-architecture students of random images before the first SM row.
for table in soft soft_two_stage soft_dm coreset_best; do
    run --profile standard_cpu --seeds 1 --tables "$table"
done
# 5. seed 1 at ipc 1 (about 15 minutes), then the other networks' students at ipc 10 (20 to
#    58 minutes each) and ipc 50 (about three hours)
run --profile standard_cpu_ipc1 --seeds 1 --tables soft
run --profile standard_cpu --seeds 1 --tables cross_arch
run --profile standard_cpu_ipc50 --seeds 1 --tables soft
