#!/usr/bin/env bash
# GPU check of the libtorch engine, for a CUDA machine with PyTorch but no Go
# toolchain and no network (run on an H200 with PyTorch 2.11.0+cu130 on
# 2026-11-27: BENCHMARKS.md has the numbers). Run
# scripts/torch/gpu_pack.sh on a machine with Go first and carry build/gpu;
# then, at the root of the tree on the GPU machine:
#
#   bash scripts/torch/gpu_check.sh
#
# It unpacks the carried Go toolchain, module cache and gotch sources into
# $WORK (default /tmp/prunebench-gpu), takes libtorch from the installed
# PyTorch (its torch/lib and torch/include; LIBTORCH overrides), prepares
# gotch v0.7.0 for it with scripts/torch/prepare.sh (CUDA libraries linked
# because torch/lib has libtorch_cuda.so; wrappers that do not compile
# against this libtorch are stubbed and listed), then
#
#   1. runs the conformance suite and the cross-engine test on the GPU
#      (PRUNEBENCH_TORCH_DEVICE=cuda),
#   2. times ResNet-20 training steps (batch 128, CIFAR-shaped, SGD with
#      momentum) on the engine and in PyTorch (its default foreach SGD) on
#      the same GPU, TF32 at its default on both sides, ROUNDS interleaved
#      rounds, and prints the minimum of each and their ratio (target:
#      ≤ 1.1× PyTorch),
#   3. measures sweep throughput: the 8 short ResNet-20 runs of
#      scripts/torch/sweep_resnet20.yaml (SWEEP_STEPS steps each) with
#      `prunebench sweep --jobs N` for N = 1, 2, 4, 8 on the one GPU, against
#      one PyTorch process per run (scripts/torch/resnet20_run.py) run one
#      after another, in units per hour (target: the best N at least 3× the
#      sequential PyTorch throughput).
#
# Needs g++ (cgo compiles gotch's C++ wrappers) and nvidia's driver.
# Environment: WORK, LIBTORCH, PY (python with torch, default python3),
# STEPS (timed steps, default 30), ROUNDS (default 3), SWEEP_STEPS (steps
# of each sweep run, default 300), JOBS (the sweep's --jobs values, default
# "1 2 4 8"), DEVICE (default cuda; DEVICE=cpu with small STEPS and
# SWEEP_STEPS dry-runs the whole script on a machine without a GPU: make
# gpu-dry-run), LOGS (folder for the full logs: prepare,
# compiler errors, stubbed functions, tests; default $WORK), CXXOPT (the
# wrappers' optimization level, default -O1: they only call into libtorch,
# and the one C++ job compiles sooner than at -O2).
#
# Which gotch: v0.7.0, the version the engine is written against, with the
# wrappers that do not compile stubbed. gotch v0.9.1 (made for libtorch 2.1)
# changed the Go API, and against a libtorch other than its own it crashed
# in log_softmax on 1.13: a wrapper that compiles can still pass arguments a
# different libtorch reads differently. Only the conformance suite (step 1)
# catches that, which is why it runs before the timings. If gotch's
# hand-written torch_api.cpp does not compile against this libtorch,
# prepare.sh stops and prints the errors.
set -euo pipefail
cd "$(dirname "$0")/../.."
WORK=${WORK:-/tmp/prunebench-gpu}
PY=${PY:-python3}
STEPS=${STEPS:-30}
ROUNDS=${ROUNDS:-3}
SWEEP_STEPS=${SWEEP_STEPS:-300}
JOBS=${JOBS:-1 2 4 8}
LOGS=${LOGS:-$WORK}
DEVICE=${DEVICE:-cuda}
export CXXOPT=${CXXOPT:--O1}
t0=$(date +%s)
elapsed() { echo "gpu_check: $* ($(($(date +%s) - t0)) s)"; }
for f in build/gpu/go.tar.xz build/gpu/mod.tar.xz build/gpu/gotch.tar.xz; do
  [[ -f $f ]] || { echo "gpu_check: $f missing: run scripts/torch/gpu_pack.sh where Go is installed and carry build/gpu" >&2; exit 1; }
done
command -v g++ >/dev/null || { echo "gpu_check: no g++: cgo needs a C++ compiler" >&2; exit 1; }
mkdir -p "$WORK/gotch" "$LOGS"
[[ -x $WORK/go/bin/go ]] || tar -C "$WORK" -xJf build/gpu/go.tar.xz
[[ -d $WORK/mod ]] || tar -C "$WORK" -xJf build/gpu/mod.tar.xz
[[ -f $WORK/gotch/go.mod ]] || tar -C "$WORK/gotch" -xJf build/gpu/gotch.tar.xz
export GOROOT=$WORK/go PATH=$WORK/go/bin:$PATH GOMODCACHE=$WORK/mod GOCACHE=$WORK/gocache
export GOPROXY=off GOFLAGS=-mod=mod GOTOOLCHAIN=local GOTELEMETRY=off
export GOTCH_SRC=$WORK/gotch
if [[ -z ${LIBTORCH:-} ]]; then
  LIBTORCH=$("$PY" -c 'import os, torch; print(os.path.dirname(torch.__file__))')
fi
export LIBTORCH
"$PY" -c 'import torch; print("gpu_check: PyTorch", torch.__version__, "CUDA", torch.version.cuda, torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU")'
go version

# The engine: prepare gotch for this libtorch and build the CLI with it
# (its modules are in the carried cache).
elapsed "toolchain unpacked"
status=0
PB=$WORK/prunebench-torch
OUT=$PB bash scripts/torch/prepare.sh 2>&1 | tee "$LOGS/prepare.log" || status=$?
cp build/torch/stubbed.txt build/torch/errors.txt "$LOGS/" 2>/dev/null || true
[[ $status == 0 ]] || { echo "gpu_check: prepare.sh failed (status $status); see $LOGS/prepare.log and errors.txt" >&2; exit 1; }
elapsed "gotch prepared, $(wc -l <build/torch/stubbed.txt) functions stubbed"
T=(-modfile=build/torch/go.mod -tags torch)

# 1. Conformance and cross-engine tests on the GPU.
# NVIDIA_TF32_OVERRIDE=0: cuDNN convolutions use TF32 by default on Ampere
# and later GPUs (inputs rounded to a 10-bit mantissa), in PyTorch and in
# libtorch alike; the suite compares with the native engine at float32
# precision, so it turns TF32 off. The timings below keep the default.
NVIDIA_TF32_OVERRIDE=0 PRUNEBENCH_TORCH_DEVICE=$DEVICE go test "${T[@]}" -count=1 -v -run 'TestConformance|TestCrossEngine|TestRegistered|TestShimNative' ./nn/torch/ >"$LOGS/test.log" 2>&1 || true
grep -E '^(\s*--- (FAIL|SKIP)|\s+\S+\.go:[0-9]+:|PASS|FAIL|ok|panic|fatal error|SIG)' "$LOGS/test.log" | awk 'NR <= 60' || true
echo "gpu_check: $(grep -c -- '--- PASS' "$LOGS/test.log") tests and subtests passed, $(grep -c -- '--- FAIL' "$LOGS/test.log") failed"
elapsed "tests done"

# 2. ResNet-20 steps: the engine, then PyTorch, on the same GPU, ROUNDS
# interleaved rounds; the minimum of each (the machine is shared). Without
# PyTorch (a dry run with PY=true) only the engine is timed.
havept=no
[[ $("$PY" -c 'import torch; print("torch")' 2>/dev/null || true) == torch ]] && havept=yes
[[ $havept == yes ]] || echo "gpu_check: $PY has no PyTorch: the PyTorch timings are skipped (a dry run)"
ours=() theirs=()
for r in $(seq "$ROUNDS"); do
  ours+=("$(PRUNEBENCH_TORCH_DEVICE=$DEVICE go test "${T[@]}" -run '^$' -bench ResNet20Step -benchtime "${STEPS}x" ./nn/torch/ |
    awk '/^BenchmarkResNet20Step/ {printf "%.3f", $3 / 1e6}')")
  lastp=—
  [[ $havept == yes ]] && lastp=$("$PY" - "$STEPS" "$DEVICE" <<'PY'
import sys, time
import torch
import torch.nn.functional as F
sys.path.insert(0, "scripts")
from bench_torch import ResNet20
steps = int(sys.argv[1])
dev = torch.device(sys.argv[2])
m = ResNet20().to(dev)
opt = torch.optim.SGD(m.parameters(), lr=0.01, momentum=0.9, weight_decay=1e-4)  # foreach on CUDA by default
x = torch.randn(128, 3, 32, 32, device=dev)
y = torch.randint(0, 10, (128,), device=dev)
def step():
    opt.zero_grad()
    loss = F.cross_entropy(m(x), y)
    loss.backward()
    opt.step()
    return loss.item()  # waits for the device, as the Go side's loss does
step()
t = time.perf_counter()
for _ in range(steps):
    step()
print("%.3f" % ((time.perf_counter() - t) / steps * 1e3))
PY
)
  [[ $havept == yes ]] && theirs+=("$lastp")
  echo "gpu_check: round $r: prunebench ${ours[-1]} ms, PyTorch $lastp ms per resnet20 step"
done
min() { printf '%s\n' "$@" | sort -g | head -n1; }
o=$(min "${ours[@]}")
if [[ $havept == yes ]]; then
  p=$(min "${theirs[@]}")
  echo "gpu_check: resnet20 step, min of $ROUNDS rounds: prunebench $o ms, PyTorch $p ms, ratio $(awk -v a="$o" -v b="$p" 'BEGIN {printf "%.2f", a / b}')x (target <= 1.1x)"
else
  echo "gpu_check: resnet20 step, min of $ROUNDS rounds: prunebench $o ms"
fi
elapsed "step times done"

# 3. Sweep throughput: 8 runs at --jobs N on the one GPU against one PyTorch
# process per run, one after another.
sweep=(sweep scripts/torch/sweep_resnet20.yaml -q --set "training.steps=${SWEEP_STEPS}it" --set "device=$DEVICE")
best=0
for j in $JOBS; do
  out=$WORK/sweep-jobs-$j
  rm -rf "$out"
  s0=$(date +%s.%N)
  "$PB" "${sweep[@]}" --set "output=$out" --jobs "$j" >"$LOGS/sweep-jobs-$j.log" 2>&1 || { echo "gpu_check: sweep --jobs $j failed; see $LOGS/sweep-jobs-$j.log" >&2; tail -n 5 "$LOGS/sweep-jobs-$j.log" >&2; continue; }
  s1=$(date +%s.%N)
  uph=$(awk -v a="$s0" -v b="$s1" 'BEGIN {printf "%.0f", 8 * 3600 / (b - a)}')
  echo "gpu_check: sweep --jobs $j: 8 runs in $(awk -v a="$s0" -v b="$s1" 'BEGIN {printf "%.1f", b - a}') s, $uph units per hour"
  ((uph > best)) && best=$uph
done
if [[ $havept == no ]]; then
  elapsed "done (no PyTorch: no sequential baseline)"
  exit 0
fi
s0=$(date +%s.%N)
for seed in 0 1 2 3 4 5 6 7; do
  "$PY" scripts/torch/resnet20_run.py "$DEVICE" "$SWEEP_STEPS" "$seed" >>"$LOGS/pytorch-runs.log" 2>&1
done
s1=$(date +%s.%N)
puph=$(awk -v a="$s0" -v b="$s1" 'BEGIN {printf "%.0f", 8 * 3600 / (b - a)}')
echo "gpu_check: PyTorch, 8 processes one after another: $(awk -v a="$s0" -v b="$s1" 'BEGIN {printf "%.1f", b - a}') s, $puph units per hour"
echo "gpu_check: best sweep over sequential PyTorch: $(awk -v a="$best" -v b="$puph" 'BEGIN {printf "%.2f", a / b}')x (target >= 3x)"
elapsed "done"
