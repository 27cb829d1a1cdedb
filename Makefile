# prunebench make targets. The test suite is scripts/test.sh (what .ci/run
# runs: go test ./..., a fuzzing run, the torch engine's conformance suite
# and a quick pipeline on it); the targets below add the slower or optional
# checks.
GO ?= go

.PHONY: gpu-dry-run build test test-long test-openblas bench bench-torch bench-sparse openblas-deps vet

build:
	$(GO) build -o bin/prunebench ./cmd/prunebench

test:
	scripts/test.sh

vet:
	gofmt -l . | (! grep .) && $(GO) vet ./...

# Longer checks that the default suite skips.
test-long:
	PRUNEBENCH_LONG=1 $(GO) test -short=false -timeout 60m ./...

openblas-deps:
	@dpkg -s libopenblas-dev >/dev/null 2>&1 || (apt-get update && apt-get install -y libopenblas-dev)

test-openblas: openblas-deps
	$(GO) test -tags openblas ./...

# Micro-benchmarks of the engine (GEMM, layers, training steps, optimizers).
bench:
	$(GO) test -run '^$$' -bench . -benchtime 1s ./nn/... ./datasets/...

# The sparse path of masked layers against the dense-masked one, one
# thread, in one run (min of 5 interleaved rounds): training epochs and
# steps, inference latency, and each layer shape's crossover density.
bench-sparse:
	PRUNEBENCH_BENCH_SPARSE=1 PRUNEBENCH_CROSSOVERS=1 GOMAXPROCS=1 $(GO) test -count=1 -timeout 30m -run 'TestSparseBenchmarks|TestSparseCrossovers' -v ./nn/native/ | grep -v '^=== RUN'

# Trains the same models in PyTorch (1 thread) and prunebench, in one run,
# and prints the ratios. Installs python3-torch and libopenblas-dev if missing.
bench-torch: openblas-deps
	bash scripts/bench_torch.sh

# The libtorch engine (nn/torch, build tag "torch"): scripts/torch/prepare.sh
# installs Debian's libtorch-dev when missing (LIBTORCH=/path for another
# libtorch), prepares gotch in build/torch and builds bin/prunebench-torch.
# The default build above never needs libtorch.
.PHONY: torch test-torch
TORCH_GO = $(GO) $(1) -mod=mod -modfile=build/torch/go.mod -tags torch

torch:
	bash scripts/torch/prepare.sh

# The conformance suite and the cross-engine test on the torch engine.
test-torch: torch
	$(call TORCH_GO,test) -count=1 ./nn/torch/

# The GPU check run on the CPU with tiny sizes and no PyTorch (PY=true): what a
# session without a GPU runs to keep scripts/torch/gpu_check.sh working.
gpu-dry-run:
	OUT=none bash scripts/torch/prepare.sh
	bash scripts/torch/gpu_pack.sh
	DEVICE=cpu PY=true STEPS=2 ROUNDS=1 SWEEP_STEPS=2 JOBS="1 2" WORK=/tmp/prunebench-gpu-dry bash scripts/torch/gpu_check.sh
