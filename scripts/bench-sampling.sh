#!/usr/bin/env bash
# How many probe windows a long title needs, and whether cheaper signals could choose
# or replace them (issue 12: analysis <= 3% of a 10-minute title's final encode, every
# rung predicted within 3 VMAF). Every 5th 2 s interval of the whole Big Buck Bunny film
# (60 of its 298, spread over all of it) is cut exactly (MPEG-2 q 1) and probed alone at
# the per-title policy's whole grid with `vodfarm ladder analyze`; each interval's mean
# spatial and temporal activity (luma Sobel magnitude and frame difference, FFmpeg's
# sobel and signalstats on a 320x180 luma) is measured over the whole film. Then
# scripts/bench-sampling.py prints how far k windows land from the 60 windows' mean,
# chosen as the policy spreads them, stratified by activity, or probed in part.
#
# With SHORT="12 24" (the default) each window's middle 12 and 24 frames are cut and
# probed alone too: how closely a shorter window follows its interval.
#
#   scripts/bench-sampling.sh
#   BENCH_DIR=/tmp/s EVERY=3 SHORT= scripts/bench-sampling.sh   # every 3rd interval, no short cuts
set -euo pipefail
cd "$(dirname "$0")/.."
FOOTAGE=${VODFARM_FOOTAGE:-$HOME/.cache/vodfarm/footage}
W=${BENCH_DIR:-$(mktemp -d)}
EVERY=${EVERY:-5}
mkdir -p "$W"
[ -s "$FOOTAGE/bbb.mp4" ] || scripts/real-footage.sh "$FOOTAGE" >/dev/null
cargo build --release -q -p vodfarm
V=$PWD/target/release/vodfarm
export VODFARM_LOG=error
F=$FOOTAGE/bbb.mp4
rate=$(ffprobe -v error -select_streams v:0 -show_entries stream=r_frame_rate -of csv=p=0 "$F")
gop=$(echo "$rate" | awk -F/ '{printf "%d", 2 * $1 / $2 + 0.5}')
frames=$(ffprobe -v error -select_streams v:0 -show_entries stream=nb_frames -of csv=p=0 "$F")
intervals=$((frames / gop))
n=0
for i in $(seq $((EVERY / 2)) "$EVERY" $((intervals - 1))); do
  w=$W/w$i
  [ -f "$w.ts" ] || ffmpeg -v error -y -ss "$(echo "$i * $gop * ${rate#*/} / ${rate%/*}" | bc -l)" -i "$F" \
    -frames:v "$gop" -an -c:v mpeg2video -q:v 1 -qmin 1 -bf 0 -g "$gop" -f mpegts "$w.ts"
  [ -f "$w.json" ] || { "$V" ladder analyze "$w.ts" --json "$w.json.tmp" >/dev/null && mv "$w.json.tmp" "$w.json"; }
  for len in ${SHORT-12 24}; do
    s=$w.s$len
    [ -f "$s.ts" ] || ffmpeg -v error -y -i "$w.ts" -vf "trim=start_frame=$(((gop - len) / 2)),setpts=PTS-STARTPTS" \
      -frames:v "$len" -c:v mpeg2video -q:v 1 -qmin 1 -bf 0 -g "$gop" -f mpegts "$s.ts"
    [ -f "$s.json" ] || { "$V" ladder analyze "$s.ts" --json "$s.json.tmp" >/dev/null && mv "$s.json.tmp" "$s.json"; }
  done
  n=$((n + 1))
done
echo "film: $n of $intervals intervals of $gop frames probed" >&2
if ! [ -s "$W/activity.txt" ]; then
  # One line per frame: spatial activity (mean Sobel magnitude), temporal (mean
  # absolute difference from the frame before), both on 8-bit luma at 320x180.
  ffmpeg -v error -i "$F" -an -filter_complex \
    "[0:v]scale=320:180:flags=neighbor,format=gray,split[a][b];[a]sobel,signalstats,metadata=print:key=lavfi.signalstats.YAVG:file=$W/si.log[x];[b]signalstats,metadata=print:key=lavfi.signalstats.YDIF:file=$W/ti.log[y]" \
    -map '[x]' -f null - -map '[y]' -f null -
  paste <(grep -o 'YAVG=[0-9.]*' "$W/si.log" | cut -d= -f2) <(grep -o 'YDIF=[0-9.]*' "$W/ti.log" | cut -d= -f2) >"$W/activity.txt.tmp"
  mv "$W/activity.txt.tmp" "$W/activity.txt"
fi
python3 scripts/bench-sampling.py "$W" "$gop" ${SHORT-12 24}
echo "(files in $W)"
