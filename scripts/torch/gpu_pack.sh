#!/usr/bin/env bash
# Packs what scripts/torch/gpu_check.sh needs on a GPU machine that has
# PyTorch (with CUDA) but no Go toolchain and no network, into build/gpu
# (ignored), small enough to travel with the tree (64 MiB):
#
#   go.tar.xz     this machine's Go toolchain, trimmed to what building and
#                 testing needs (no src/cmd, tests, testdata, docs)
#   mod.tar.xz    a module cache holding only what `go test -tags torch
#                 ./nn/torch/` and the torch build of the CLI load (filled
#                 from this machine's cache, not the network)
#   gotch.tar.xz  gotch $GOTCH_VERSION without examples and models: the
#                 root package and libtch (nn/torch uses libtch only), for
#                 prepare.sh's GOTCH_SRC
#
# Run it here after `make torch`; then on the GPU machine, from the tree with
# build/gpu carried: bash scripts/torch/gpu_check.sh.
set -euo pipefail
cd "$(dirname "$0")/../.."
GO=${GO:-go}
GOTCH_VERSION=${GOTCH_VERSION:-v0.7.0}
P=build/gpu
[[ -f build/torch/go.mod ]] || { echo "gpu_pack: run make torch first" >&2; exit 1; }
rm -rf "$P"
mkdir -p "$P"
tmp=$(mktemp -d)
trap 'chmod -R u+w "$tmp"; rm -rf "$tmp"' EXIT

# Toolchain.
goroot=$($GO env GOROOT)
tar -C "$(dirname "$goroot")" -cJf "$P/go.tar.xz" \
  --exclude='*/src/cmd' --exclude='*/test' --exclude='*/api' --exclude='*/doc' --exclude='*/misc' \
  --exclude='*/testdata' --exclude='*_test.go' --exclude='*/pkg/tool/*/fix' --exclude='*/pkg/tool/*/cover' \
  --exclude='*/pkg/tool/*/preprofile' --exclude='*/pkg/obj' \
  "$(basename "$goroot")"

# Module cache: whatever the torch tests load, from the local cache.
cache=$($GO env GOMODCACHE)/cache/download
GOMODCACHE=$tmp/mod GOPROXY="file://$cache" GOFLAGS=-mod=mod \
  $GO test -c -o /dev/null -modfile=build/torch/go.mod -tags torch ./nn/torch/
GOMODCACHE=$tmp/mod GOPROXY="file://$cache" GOFLAGS=-mod=mod \
  $GO build -o /dev/null -modfile=build/torch/go.mod -tags torch ./cmd/prunebench
find "$tmp/mod/cache/download" -name '*.zip' -delete
rm -rf "$tmp/mod/cache/vcs"
# Only linux/amd64 builds there, and no tests: files that only other
# platforms compile (by Go's _GOOS/_GOARCH file-name rule; modernc.org's
# generated SQLite and libc are most of the cache), tests and test data go,
# which keeps the pack under the 64 MiB a carried tree may hold.
chmod -R u+w "$tmp/mod"
find "$tmp/mod" -path "$tmp/mod/cache" -prune -o -type d -name testdata -prune -exec rm -rf {} +
find "$tmp/mod" -path "$tmp/mod/cache" -prune -o -type f \( -name '*_test.go' \
  -o -regex '.*_\(windows\|darwin\|freebsd\|netbsd\|openbsd\|dragonfly\|illumos\|solaris\|aix\|plan9\|js\|wasip1\|ios\|android\)\(_[a-z0-9]+\)?\.\(go\|s\)' \
  -o -regex '.*_\(386\|arm\|arm64\|mips\|mipsle\|mips64\|mips64le\|ppc64\|ppc64le\|riscv64\|s390x\|loong64\|wasm\)\.\(go\|s\)' \) -exec rm -f {} +
tar -C "$tmp" -cJf "$P/mod.tar.xz" mod

# gotch: the packages prunebench loads, and the C++ sources.
src=$($GO mod download -json "github.com/sugarme/gotch@$GOTCH_VERSION" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
out=$PWD/$P/gotch.tar.xz
(cd "$src" && tar -cJf "$out" --exclude='*_test.go' go.mod go.sum LICENSE ./*.go libtch)
du -ch "$P"/* | sed 's/^/gpu_pack: /'
