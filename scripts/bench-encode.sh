#!/usr/bin/env bash
# Speed and memory benchmark (issue 12). Two 30 s 1920x1080 24 fps masters: `short`
# (vodfarm sample: an IDR every 2 s) and `long` (the same pictures re-encoded by x264
# with its default keyint 250, the long GOPs of real deliveries). Each is encoded to
# the 4-rung benchmark ladder (+ AAC audio) by `vodfarm run` and by one `ffmpeg` CLI
# process (one decode, split + scale, libx264 with the same preset and rate control:
# ABR, maxrate/bufsize, 2 s closed GOPs; MP4 outputs), one after the other. Prints wall
# time, CPU time and peak memory of each and the ratios; then `vodfarm run` on the long
# master with --workers 1, 2 and every core, and the speed-up. Figures go in the README.
#
#   scripts/bench-encode.sh
#   MASTERS=long SCALING=0 SECONDS_LEN=60 scripts/bench-encode.sh
set -euo pipefail
# No globbing: the FFmpeg command line below is split on spaces and holds [ ] and *.
set -f
cd "$(dirname "$0")/.."
SECONDS_LEN=${SECONDS_LEN:-30}
cargo build --release --quiet -p vodfarm
bin=$PWD/target/release/vodfarm
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
MASTERS=${MASTERS:-"short long"}
SCALING=${SCALING:-1}
$bin sample "$work/short.mp4" --seconds "$SECONDS_LEN" --width 1920 --height 1080 >/dev/null
ffmpeg -v error -nostdin -y -i "$work/short.mp4" -c:v libx264 -preset veryfast -crf 16 \
  -x264-params keyint=250 -c:a copy "$work/long.mp4"

measure() { # name, command...
  local name=$1; shift
  /usr/bin/time -f "%e %U %S %M" -o "$work/$name.time" "$@" >/dev/null 2>"$work/$name.log" || {
    cat "$work/$name.log" >&2; exit 1; }
  read -r wall user sys rss <"$work/$name.time"
  printf '%-8s wall %7.2f s  cpu %7.2f s  peak rss %6.0f MiB\n' "$name" "$wall" "$(echo "$user + $sys" | bc)" "$(echo "$rss / 1024" | bc)"
  eval "${name}_wall=$wall ${name}_cpu=$(echo "$user + $sys" | bc) ${name}_rss=$rss"
}

command -v /usr/bin/time >/dev/null || { echo "error: needs GNU time (apt-get install time)" >&2; exit 1; }
rung() { # w h kbps -> ffmpeg output options
  local w=$1 h=$2 k=$3
  echo "-map [v$h] -c:v libx264 -preset veryfast -profile:v high -b:v ${k}k -maxrate $((k*3/2))k -bufsize $((k*2))k -g 48 -forced-idr 1 -force_key_frames expr:gte(t,n_forced*2) $work/ff-$h.mp4"
}
ffmpeg_cmd() { # master
  echo ffmpeg -v error -nostdin -y -i "$1" -filter_complex \
    "[0:v]split=4[s1][s2][s3][s4];[s1]scale=640:360:flags=bicubic[v360];[s2]scale=854:480:flags=bicubic[v480];[s3]scale=1280:720:flags=bicubic[v720];[s4]scale=1920:1080:flags=bicubic[v1080]" \
    $(rung 640 360 600) $(rung 854 480 1200) $(rung 1280 720 2500) $(rung 1920 1080 4500) \
    -map 0:a -c:a aac -b:a 128k -ac 2 -ar 48000 "$work/ff-audio.mp4"
}

echo "masters: ${SECONDS_LEN} s 1920x1080 24 fps (short: IDR every 2 s; long: x264 keyint 250); ladder: benchmark (4 rungs, veryfast ABR) + AAC; $(nproc) cores"
for m in $MASTERS; do
  echo "== $m GOP master"
  # shellcheck disable=SC2046 # the command line is split on purpose
  measure ffmpeg $(ffmpeg_cmd "$work/$m.mp4")
  rm -rf "$work/store"
  measure vodfarm "$bin" run "$work/$m.mp4" --title bench --store "$work/store" --ladder benchmark
  printf 'ratio vodfarm/ffmpeg (%s GOP): wall %.2f  cpu %.2f  peak rss %.2f\n' "$m" \
    "$(echo "$vodfarm_wall / $ffmpeg_wall" | bc -l)" "$(echo "$vodfarm_cpu / $ffmpeg_cpu" | bc -l)" "$(echo "$vodfarm_rss / $ffmpeg_rss" | bc -l)"
done
if [ "$SCALING" = 1 ]; then
  echo "== scaling: vodfarm run on the long GOP master"
  cores=$(nproc)
  for n in $(printf '%s\n' 1 2 "$cores" | sort -nu); do
    rm -rf "$work/store"
    measure vodfarm "$bin" run "$work/long.mp4" --title bench --store "$work/store" --ladder benchmark --workers "$n"
    eval "w$n=$vodfarm_wall"
    printf 'workers %2d: speed-up %.2f over 1 worker\n' "$n" "$(echo "$w1 / $vodfarm_wall" | bc -l)"
  done
fi
