#!/usr/bin/env bash
# One real clip of scripts/real-clip.sh cut into windows of one IDR interval (2 s, the
# farm's grid in whole frames), for the benchmarks that probe windows one by one
# (bench-windows.sh, bench-interpolation.sh). The clip is first re-encoded to an
# intermediate with an I-frame every interval (MPEG-2 at q 1, no B-frames), so that
# windows are cut exactly by stream copy: PREFIX.w0.ts, PREFIX.w1.ts, ... The last,
# shorter one is kept (it is one of the title's intervals). Prints the frames in one
# interval. Does nothing but print when the windows exist.
# usage: clip-windows.sh NAME PREFIX SECONDS
set -euo pipefail
name=${1:?usage: clip-windows.sh NAME PREFIX SECONDS} c=${2:?PREFIX} secs=${3:?SECONDS}
rate() { # the video's frame rate as num/den (avg_frame_rate, else r_frame_rate)
  local r
  for key in avg_frame_rate r_frame_rate; do
    r=$(ffprobe -v error -select_streams v:0 -show_entries stream=$key -of default=nw=1:nk=1 "$1" | head -1)
    case $r in 0/*|*/0|"") ;; *) echo "$r"; return ;; esac
  done
  echo "error: $1 has no frame rate" >&2; exit 1
}
"$(dirname "$0")/real-clip.sh" "$name" "$c.ts" "$secs"
gop=$(rate "$c.ts" | awk -F/ '{printf "%d", 2 * $1 / $2 + 0.5}')
if ! [ -f "$c.w0.ts" ]; then
  ffmpeg -v error -y -i "$c.ts" -an -c:v mpeg2video -q:v 1 -qmin 1 -bf 0 -g "$gop" \
    -sc_threshold 1000000000 -f mpegts "$c.intermediate.ts"
  ffmpeg -v error -y -i "$c.intermediate.ts" -c copy -f segment -segment_time 2 \
    -reset_timestamps 1 -segment_format mpegts "$c.w%d.ts"
fi
echo "$gop"
