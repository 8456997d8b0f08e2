#!/usr/bin/env bash
# One named cut of real footage for the benchmarks, stream-copied into MPEG-TS (the
# film's credits are not what a title is made of). A stream copy starts at the keyframe
# at or before the start time, so a cut begins up to a GOP early and runs longer than
# SECONDS: with SECONDS=20 the cuts are 26.0 s (the trailer, from its keyframe at 0:14),
# 24.9 s (film, from 4:55) and 21.4 s (film2, from 0:59). Fetches the footage first when it is missing.
#   trailer  Big Buck Bunny's trailer from 0:20   (animation, 1280x720 24 fps)
#   film     Big Buck Bunny's film from 5:00      (animation, 1280x720 24 fps)
#   film2    Big Buck Bunny's film from 1:00
#   camera   the CC0 night time-lapse, all of it   (camera, 720x405 MPEG-2, 7.6 s)
# usage: real-clip.sh NAME OUT.ts SECONDS     (does nothing when OUT.ts exists)
set -euo pipefail
name=${1:?usage: real-clip.sh NAME OUT.ts SECONDS} out=${2:?OUT.ts} secs=${3:?SECONDS}
[ -f "$out" ] && exit 0
footage=${VODFARM_FOOTAGE:-$HOME/.cache/vodfarm/footage}
case $name in
  trailer) src=$footage/trailer_bbb.mp4 at=20 ;;
  film) src=$footage/bbb.mp4 at=300 ;;
  film2) src=$footage/bbb.mp4 at=60 ;;
  camera) src=$footage/camera-city-night.mpg at=0 ;;
  *) echo "error: no real clip named '$name' (trailer, film, film2, camera)" >&2; exit 2 ;;
esac
[ -f "$src" ] || "$(dirname "$0")/real-footage.sh" "$footage" >/dev/null
# Written beside OUT and renamed, so that an interrupted cut is never taken for a clip.
ffmpeg -v error -y -ss "$at" -i "$src" -t "$secs" -map 0:v:0 -map 0:a:0? -c copy -f mpegts "$out.part"
mv "$out.part" "$out"
