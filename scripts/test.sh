#!/usr/bin/env bash
# The test suite, as CI runs it (.ci/run) and as the README's second command:
#
#   0. scripts/slurm/install.sh installs Slurm and MUNGE from Debian when
#      missing (apt-get, as root; no daemon is left running or enabled), and
#      PRUNEBENCH_REQUIRE_SLURM=1 is exported, so that the tests that need a
#      Slurm cluster (internal/slurmtest starts a local two-node one per
#      test, by scripts/slurm/cluster.sh) fail instead of skipping when it
#      cannot start;
#   1. go test ./... (python3 is installed first when missing, for export's
#      independent reader; the pure-Go default build: every package, the native
#      engine's conformance suite, the pipelines on tiny data, and the Slurm
#      tests);
#   2. 20 s of fuzzing the spec parser;
#   3. the libtorch engine (what `make test-torch` does, without needing
#      make): scripts/torch/prepare.sh installs Debian's libtorch-dev and g++
#      when missing (apt-get, as root), prepares gotch and builds
#      bin/prunebench-torch; then the conformance suite (nn/nntest) and the
#      cross-engine test run on the torch engine (a second time with the
#      optimizer shim's one-op-per-tensor path forced, tag pbshim_loop), and one
#      quick pipeline (IMP, two levels, LeNet-300-100 on MNIST) with
#      backend: torch through bin/prunebench-torch.
#
# PRUNEBENCH_SKIP_CHROMIUM=1 skips installing chromium (scripts/chromium/install.sh,
# which otherwise runs before step 1 and exports PRUNEBENCH_REQUIRE_CHROMIUM=1)
# and says so. PRUNEBENCH_SKIP_SLURM=1 skips step 0 and says so: the Slurm tests then
# skip themselves where Slurm is not installed. PRUNEBENCH_SKIP_TORCH=1 stops
# after step 2 and says so (for machines where nothing may be installed);
# nothing is skipped silently.
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ "${PRUNEBENCH_SKIP_SLURM:-}" == 1 ]]; then
  echo "test.sh: PRUNEBENCH_SKIP_SLURM=1: Slurm was NOT tested unless already installed (scripts/slurm/install.sh skipped; the Slurm tests skip where it is missing)" >&2
else
  bash scripts/slurm/install.sh
  export PRUNEBENCH_REQUIRE_SLURM=1
fi
# The report site's test renders it in headless Chromium: install Debian's
# chromium when missing (scripts/chromium/install.sh, as root), and make the
# test fail rather than skip without it.
if [[ "${PRUNEBENCH_SKIP_CHROMIUM:-}" == 1 ]]; then
  echo "test.sh: PRUNEBENCH_SKIP_CHROMIUM=1: the report site was NOT tested in a browser unless chromium is already installed" >&2
else
  bash scripts/chromium/install.sh
  export PRUNEBENCH_REQUIRE_CHROMIUM=1
fi
# The export tests check files with an independent reader in Python's
# standard library (scripts/check_safetensors.py): install python3 when
# missing, and make the test fail rather than skip without it.
if ! command -v python3 >/dev/null 2>&1; then
  if [[ $(id -u) == 0 ]]; then
    apt-get update && apt-get install -y python3
  else
    echo "test.sh: python3 is missing and installing it needs root: export's independent-reader test will fail" >&2
  fi
fi
export PRUNEBENCH_REQUIRE_PYTHON=1
go test ./...
go test -run='^$' -fuzz=FuzzParseSpec -fuzztime=20s -fuzzminimizetime=2s ./experiments
if [[ "${PRUNEBENCH_SKIP_TORCH:-}" == 1 ]]; then
  echo "test.sh: PRUNEBENCH_SKIP_TORCH=1: the torch engine was NOT tested" >&2
  exit 0
fi
bash scripts/torch/prepare.sh
go test -mod=mod -modfile=build/torch/go.mod -tags torch -count=1 ./nn/torch/
# The optimizer shim's one-op-per-tensor path (for a libtorch without
# _foreach_* ops), forced on by the pbshim_loop tag, against the same suites.
go test -mod=mod -modfile=build/torch/go.mod -tags torch,pbshim_loop -count=1 -run 'Conformance|CrossEngine|ShimLoop' ./nn/torch/
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
bin/prunebench-torch run experiments/papers/lenet-300-100-mnist.yaml -q \
  --set backend=torch --set pipeline=imp --set prune.imp_rate=0.5 --set prune.imp_rounds=1 \
  --set training.steps=300it --set training.eval_every=100it --set output="$out"
