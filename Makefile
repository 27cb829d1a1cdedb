# prunebench make targets. The default test suite is `go test ./...` (what
# .ci/run runs); the targets below add the slower or optional checks.
GO ?= go

.PHONY: build test test-long test-openblas bench bench-torch openblas-deps vet

build:
	$(GO) build -o bin/prunebench ./cmd/prunebench

test:
	$(GO) test ./... && $(GO) test -run='^$$' -fuzz=FuzzParseSpec -fuzztime=20s -fuzzminimizetime=2s ./experiments

vet:
	gofmt -l . | (! grep .) && $(GO) vet ./...

# Longer checks that the default suite skips.
test-long:
	$(GO) test -short=false -timeout 60m ./...

openblas-deps:
	@dpkg -s libopenblas-dev >/dev/null 2>&1 || (apt-get update && apt-get install -y libopenblas-dev)

test-openblas: openblas-deps
	$(GO) test -tags openblas ./...

# Micro-benchmarks of the engine (GEMM, layers, training steps, optimizers).
bench:
	$(GO) test -run '^$$' -bench . -benchtime 1s ./nn/... ./datasets/...

# Trains the same models in PyTorch (1 thread) and prunebench, in one run,
# and prints the ratios. Installs python3-torch and libopenblas-dev if missing.
bench-torch: openblas-deps
	bash scripts/bench_torch.sh
