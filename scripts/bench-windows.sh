#!/usr/bin/env bash
# Issue 12's per-shot question, measured on real footage: each clip of
# scripts/bench-per-title.sh cut into windows of one IDR interval (2 s), every window
# probed at the per-title policy's whole (size, CRF) grid with `vodfarm ladder analyze`,
# then scripts/bench-windows.py prints (1) how well one window stands for its clip
# (the per-title policy probed one window of a 20 s title until 2026-12-07; four
# since) and (2) the most that
# choosing quality per window (per shot) could gain over one CRF per rung, each
# window's curves being known exactly: upper bounds, since they pay for no probing.
#
# The windows are cut by scripts/clip-windows.sh (exact cuts of an all-I intermediate);
# every figure compares encodes of those same pictures.
#
#   scripts/bench-windows.sh
#   CLIPS="trailer film" BENCH_DIR=/tmp/w POLICY=my-policy.toml scripts/bench-windows.sh
#   SUMMARY_ONLY=1 BENCH_DIR=/tmp/w scripts/bench-windows.sh   # re-print a finished run
set -euo pipefail
cd "$(dirname "$0")/.."
CLIP_SECONDS=${CLIP_SECONDS:-20}
CLIPS=${CLIPS:-"trailer film film2 camera"}
W=${BENCH_DIR:-$(mktemp -d)}
mkdir -p "$W"
cargo build --release -q -p vodfarm
V=$PWD/target/release/vodfarm
export VODFARM_LOG=error

frames() { ffprobe -v error -count_frames -select_streams v:0 -show_entries stream=nb_read_frames -of default=nw=1:nk=1 "$1" | head -1; }

# Analyses are kept per policy and clip length, so that runs with another policy or
# length never read these.
tag=$(basename "${POLICY:-per-title}" .toml)-${CLIP_SECONDS}s
A=$W/$tag
mkdir -p "$A"
for clip in $CLIPS; do
  [ "${SUMMARY_ONLY:-0}" = 1 ] && break
  c=$W/$clip-${CLIP_SECONDS}s
  # Frames in one IDR interval: the farm's 2 s grid in whole frames.
  gop=$(scripts/clip-windows.sh "$clip" "$c" "$CLIP_SECONDS")
  n=0 all=0
  for f in "$c".w*.ts; do
    all=$((all + 1))
    i=${f##*.w}; i=${i%.ts}
    [ "$(frames "$f")" = "$gop" ] || continue # the clip's short tail
    j=$A/$clip.w$i.json
    [ -f "$j" ] || "$V" ladder analyze "$f" --policy "${POLICY:-per-title}" --json "$j" >/dev/null
    n=$((n + 1))
  done
  # The title's IDR intervals, the short tail included: what the policy spreads its
  # windows over.
  echo "$all" >"$A/$clip.intervals"
  echo "$clip: $n of $all windows of $gop frames probed"
done
python3 scripts/bench-windows.py "$A" $CLIPS
echo "(files in $W; analyses in $A)"
