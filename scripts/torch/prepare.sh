#!/usr/bin/env bash
# Builds prunebench with the libtorch engine (nn/torch, build tag "torch") as
# bin/prunebench-torch. `make torch` runs it.
#
# gotch's cgo flags (libtch/lib.go) hard-code CUDA libraries and a libtorch
# folder, and its generated wrappers target one libtorch release, so gotch is
# built from a prepared copy in the ignored folder build/torch:
#
#   0. g++ (installed with apt-get when missing: cgo compiles gotch's C++).
#   1. libtorch: Debian's libtorch-dev (installed with apt-get when missing),
#      or the one in $LIBTORCH (a folder with lib/ and include/, e.g. a pip
#      torch's site-packages/torch). The C++ ABI is read from libc10.so; CUDA
#      libraries are linked only when that libtorch has libtorch_cuda.so.
#   2. gotch $GOTCH_VERSION (default v0.7.0) is copied from the Go module
#      cache (`go mod download`; or from $GOTCH_SRC) into build/torch/gotch,
#      made writable and gofmt'ed (so that `gofmt -l .` at the top stays
#      quiet); lib.go gets the cgo flags of the found libtorch.
#   3. gotch's C functions (the generated wrappers in
#      libtch/torch_api_generated.cpp.h and the hand-written ones in
#      libtch/torch_api.cpp) are compiled with -fsyntax-only; every function
#      the compiler rejects gets a body that returns an error naming it
#      (scripts/torch/stub.go), until the files compile. Includes that the
#      libtorch lacks are dropped first. The stubbed functions are listed in
#      build/torch/stubbed.txt.
#   4. build/torch/go.mod is the main go.mod plus gotch, replaced by the
#      copy; the main go.mod is never touched, so the default build stays pure
#      Go. Then: go build -modfile=build/torch/go.mod -tags torch.
#
# Steps 1-3 are skipped when build/torch/gotch was prepared with the same
# inputs (build/torch/stamp), and go's build cache keeps the compiled libtch,
# so a second run takes seconds. The first takes several minutes (one C++
# job: the wrappers are one translation unit).
#
# Environment: LIBTORCH (folder, default Debian's), GOTCH_VERSION, GOTCH_SRC
# (a gotch source folder to copy instead of the module cache's), GO (go
# command), OUT (binary, default bin/prunebench-torch; OUT=none prepares
# without building it), GOFLAGS and GOPROXY as usual (GOPROXY=off works
# offline from a carried module cache: scripts/torch/gpu_check.sh).
# Tests: `make test-torch` (go test -modfile=build/torch/go.mod -tags torch
# ./nn/torch/). At run time the engine reads PRUNEBENCH_TORCH_THREADS
# (intra-op threads, default 1) and PRUNEBENCH_TORCH_DEVICE (cpu, cuda,
# cuda:N); see nn/torch/doc.go.
set -euo pipefail
cd "$(dirname "$0")/../.."
GO=${GO:-go}
GOTCH_VERSION=${GOTCH_VERSION:-v0.7.0}
OUT=${OUT:-bin/prunebench-torch}
B=build/torch
mkdir -p "$B" bin
start=$(date +%s)
say() { echo "torch: $*"; }

# 0. A C++ compiler for cgo (gotch's wrappers are C++).
if ! command -v g++ >/dev/null 2>&1; then
  say "installing g++"
  apt-get update && apt-get install -y g++
fi

# 1. libtorch.
if [[ -n "${LIBTORCH:-}" ]]; then
  inc=$LIBTORCH/include
  lib=$LIBTORCH/lib
else
  if ! dpkg -s libtorch-dev >/dev/null 2>&1; then
    say "installing Debian's libtorch-dev"
    apt-get update && apt-get install -y libtorch-dev
  fi
  inc=/usr/include
  lib=$(dirname "$(dpkg -L libtorch-dev | grep '/libtorch\.so$' | head -n1)")
fi
api=$inc/torch/csrc/api/include
for f in "$lib/libtorch.so" "$lib/libc10.so" "$api/torch/torch.h" "$api/torch/version.h"; do
  [[ -e $f ]] || { echo "torch: $f not found: set LIBTORCH to a libtorch folder (lib/ and include/) or install libtorch-dev" >&2; exit 1; }
done
# The version macros are in torch/version.h up to libtorch 2.x and in
# torch/headeronly/version.h in newer releases (2.11 has them there).
vh=$(grep -rl --include=version.h 'define TORCH_VERSION_MAJOR' "$api/torch" "$inc/torch" 2>/dev/null | head -n1 || true)
version=unknown
[[ -n $vh ]] && version=$(awk '/define TORCH_VERSION_(MAJOR|MINOR|PATCH) / {v = v (v == "" ? "" : ".") $3} END {print v}' "$vh")
# grep -c reads all of nm's output (grep -q would end the pipe early and
# pipefail would then report nm's SIGPIPE).
abi=0
[[ $(nm -D --defined-only "$lib/libc10.so" | grep -c __cxx11) -gt 0 ]] && abi=1
cuda=no
[[ -e $lib/libtorch_cuda.so ]] && cuda=yes
say "libtorch $version in $lib (C++11 ABI $abi, CUDA $cuda), gotch $GOTCH_VERSION"

# Standard folders need no -I/-L/rpath; others do. The C++ standard is the
# first of C++17 and C++20 that compiles torch.h (newer libtorch releases
# may need C++20). CXXOPT is the optimization level of gotch's wrappers
# (default -O2; gpu_check.sh uses -O1 to compile sooner: the wrappers only
# call into libtorch).
incs="-D_GLIBCXX_USE_CXX11_ABI=$abi -I$api"
[[ $inc == /usr/include ]] || incs="$incs -I$inc"
std=
for s in c++17 c++20; do
  # shellcheck disable=SC2086
  if echo '#include <torch/torch.h>' | g++ -x c++ -fsyntax-only -w -std=$s $incs - 2>"$B/std-$s.txt"; then
    std=$s
    break
  fi
done
[[ -n $std ]] || { echo "torch: torch/torch.h does not compile with g++ $(g++ -dumpversion) as C++17 or C++20; see $B/std-c++20.txt" >&2; exit 1; }
cxx="-std=$std ${CXXOPT:--O2} $incs"
ld="-lstdc++ -ltorch -ltorch_cpu -lc10"
case $lib in
  /usr/lib|/usr/lib/*-linux-gnu) ;;
  *) ld="-L$lib -Wl,-rpath,$lib $ld" ;;
esac
# --no-as-needed: nothing references libtorch_cuda's symbols directly, but
# loading it is what registers the CUDA kernels.
# --allow-shlib-undefined: a pip libtorch finds its CUDA runtime libraries
# (nvidia/*/lib) through its own RUNPATH when it loads, which the link step
# need not follow.
[[ $cuda == yes ]] && ld="$ld -Wl,--no-as-needed -ltorch_cuda -lc10_cuda -Wl,--as-needed -Wl,--allow-shlib-undefined"

# 2-3. The prepared gotch copy.
stamp=$(printf '%s\n' "$GOTCH_VERSION" "${GOTCH_SRC:-}" "$lib" "$inc" "$version" "$abi" "$cuda" "$cxx" "$ld" |
  cat - scripts/torch/prepare.sh scripts/torch/stub.go | sha256sum | cut -c1-16)
g=$B/gotch
if [[ -f $B/stamp && $(cat "$B/stamp") == "$stamp" && -d $g ]]; then
  say "build/torch/gotch is up to date ($(wc -l <"$B/stubbed.txt") wrappers stubbed)"
else
  src=${GOTCH_SRC:-}
  if [[ -z $src ]]; then
    src=$($GO mod download -json "github.com/sugarme/gotch@$GOTCH_VERSION" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
  fi
  [[ -d $src ]] || { echo "torch: go mod download of gotch $GOTCH_VERSION gave no folder" >&2; exit 1; }
  rm -rf "$g" "$B/stamp"
  cp -r "$src" "$g"
  chmod -R u+w "$g"
  gofmt -w "$g"
  cat >"$g/libtch/lib.go" <<EOF
package libtch

// Written by scripts/torch/prepare.sh for libtorch $version in $lib.

// #cgo CFLAGS: -I\${SRCDIR} -O2 -w
// #cgo CXXFLAGS: -I\${SRCDIR} $cxx -w
// #cgo LDFLAGS: $ld
import "C"
EOF
  : >"$B/stubbed.txt"
  # Headers that this libtorch no longer has (gotch's hand-written code
  # includes a few JIT internals) are dropped; the functions that needed
  # them fail to compile and are stubbed below.
  while read -r h; do
    if [[ ! -e $api/$h && ! -e $inc/$h ]]; then
      sed -i "s|^#include *<$h>|// prunebench: dropped, not in libtorch $version: &|" "$g/libtch/torch_api.cpp"
      echo "#include <$h>" >>"$B/stubbed.txt"
    fi
  done < <(sed -nE 's,^#include *<((torch|ATen)/[^>]*)>.*,\1,p' "$g/libtch/torch_api.cpp")
  for round in 1 2 3 4 5 6 7 8; do
    say "compiling the generated wrappers (round $round, about a minute)"
    # shellcheck disable=SC2086
    if g++ -fsyntax-only -fmax-errors=0 -w $cxx -I"$g/libtch" "$g/libtch/torch_api.cpp" 2>"$B/errors.txt"; then
      break
    fi
    if [[ $round == 8 ]]; then
      echo "torch: the wrappers still do not compile after 8 rounds; see $B/errors.txt" >&2
      exit 1
    fi
    if ! $GO run scripts/torch/stub.go -log "$B/errors.txt" -version "$version" \
      "$g/libtch/torch_api_generated.cpp.h" "$g/libtch/torch_api.cpp" >>"$B/stubbed.txt"; then
      echo "torch: errors outside gotch's C functions:" >&2
      grep -m 20 'error' "$B/errors.txt" >&2
      exit 1
    fi
    say "$(wc -l <"$B/stubbed.txt") wrappers stubbed so far"
  done
  echo "$stamp" >"$B/stamp"
  say "$(wc -l <"$B/stubbed.txt") wrappers stubbed (list: $B/stubbed.txt)"
fi

# 3b. prunebench's C++ shim (scripts/torch/_shim: the optimizer steps as one
# call from Go each, over libtorch's _foreach_* ops), as package pbshim of
# the prepared module, compiled with gotch's flags. Copied on every run (only
# what changed), so an edit to the shim needs no new gotch copy.
mkdir -p "$g/pbshim"
for f in scripts/torch/_shim/*.h scripts/torch/_shim/*.cpp scripts/torch/_shim/*.go; do
  cmp -s "$f" "$g/pbshim/${f##*/}" || cp "$f" "$g/pbshim/"
done
printf 'package pbshim\n\n// Written by scripts/torch/prepare.sh for libtorch %s in %s.\n\n// #cgo CFLAGS: -I${SRCDIR}\n// #cgo CXXFLAGS: -I${SRCDIR} %s -w\n// #cgo LDFLAGS: %s\nimport "C"\n' \
  "$version" "$lib" "$cxx" "$ld" >"$g/pbshim/flags.go.new"
if cmp -s "$g/pbshim/flags.go.new" "$g/pbshim/flags.go"; then rm "$g/pbshim/flags.go.new"; else mv "$g/pbshim/flags.go.new" "$g/pbshim/flags.go"; fi

# 4. The alternate module file. Relative replace paths resolve against the
# main module's root, not the folder of -modfile.
{
  cat go.mod
  printf '\nrequire github.com/sugarme/gotch %s\n\nreplace github.com/sugarme/gotch => ./%s\n' "$GOTCH_VERSION" "$g"
} >"$B/go.mod.new"
cmp -s "$B/go.mod.new" "$B/go.mod" || { mv "$B/go.mod.new" "$B/go.mod"; cp go.sum "$B/go.sum"; }
rm -f "$B/go.mod.new"

# The CLI registers the engine by importing nn/torch in a torch-tagged file;
# until cmd/prunebench has one, an overlay adds it without touching the tree.
overlay=()
if ! grep -qs 'prunebench/nn/torch"' cmd/prunebench/*.go; then
  printf '//go:build torch\n\npackage main\n\nimport _ "github.com/prunebench/prunebench/nn/torch"\n' >"$B/register.go"
  printf '{"Replace": {"%s": "%s"}}\n' "$PWD/cmd/prunebench/zz_torch_engine.go" "$PWD/$B/register.go" >"$B/overlay.json"
  overlay=(-overlay "$B/overlay.json")
fi
if [[ $OUT == none ]]; then
  say "prepared in $(($(date +%s) - start)) s (no binary: OUT=none)"
  exit 0
fi
say "go build -tags torch -o $OUT"
$GO build -mod=mod -modfile="$B/go.mod" -tags torch "${overlay[@]}" -o "$OUT" ./cmd/prunebench
say "done in $(($(date +%s) - start)) s: $OUT"
