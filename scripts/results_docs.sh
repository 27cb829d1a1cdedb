#!/usr/bin/env bash
# Writes the leaderboard (Markdown and CSV) and the accuracy plot of a
# finished run or sweep into docs/results/NAME:
#
#   scripts/results_docs.sh NAME OUTPUT_FOLDER "PLOT TITLE" [prunebench board/plot flags...]
#
# e.g. scripts/results_docs.sh snip-lenet-quick runs/snip-lenet-quick "SNIP quick" --where model=lenet5
# PRUNEBENCH names the binary (default: go run ./cmd/prunebench).
set -euo pipefail
cd "$(dirname "$0")/.."
name=$1 out=$2 title=$3
shift 3
pb=${PRUNEBENCH:-"go run ./cmd/prunebench"}
dir=docs/results/$name
mkdir -p "$dir"
$pb board --output "$out" --format markdown "$@" > "$dir/board.md"
$pb board --output "$out" --format csv "$@" > "$dir/board.csv"
$pb plot --output "$out" -o "$dir/accuracy.png" --title "$title" "$@"
