#!/usr/bin/env bash
# A whole real title end to end (issue 12): Big Buck Bunny (9 min 56 s, 1280x720 24 fps,
# from scripts/real-footage.sh) through `vodfarm run` with the default per-title ladder
# on this machine. Prints the time to publish, CPU-seconds, peak RSS, the analysis
# share (`vodfarm ladder analyze` on the same master, its CPU over the rest of the
# run's), each rendition's predicted and measured VMAF (from the run's status), and
# with LOOP=1 the same master looped to twice its length (stream copy) and its peak
# RSS against the first: memory must not grow with the title.
#
#   scripts/bench-film.sh
#   LOOP=1 BENCH_DIR=/tmp/film scripts/bench-film.sh
#   POLICY=my-policy.toml scripts/bench-film.sh   # another per-title policy
set -euo pipefail
# A policy file named relative to where the script was started from.
[ -z "${POLICY:-}" ] || [ ! -f "$POLICY" ] || POLICY=$(realpath "$POLICY")
cd "$(dirname "$0")/.."
FOOTAGE=${VODFARM_FOOTAGE:-$HOME/.cache/vodfarm/footage}
W=${BENCH_DIR:-$(mktemp -d)}
mkdir -p "$W"
command -v /usr/bin/time >/dev/null || { echo "error: needs GNU time (apt-get install time)" >&2; exit 1; }
[ -s "$FOOTAGE/bbb.mp4" ] || scripts/real-footage.sh "$FOOTAGE" >/dev/null
cargo build --release -q -p vodfarm
V=$PWD/target/release/vodfarm
export VODFARM_LOG=error

run() { # name master (its length in seconds in $len)
  local name=$1 master=$2
  rm -rf "$W/store-$name"
  /usr/bin/time -f "%e %U %S %M" -o "$W/$name.time" \
    "$V" run "$master" --title "$name" --store "$W/store-$name" --ladder "${POLICY:-per-title}" >/dev/null 2>"$W/$name.log" || {
    tail -5 "$W/$name.log" >&2; exit 1; }
  read -r wall user sys rss <"$W/$name.time"
  printf '%-8s published in %7.1f s (%.2fx real time), %7.1f CPU-s, peak RSS %5.0f MiB\n' "$name" \
    "$wall" "$(echo "$len / $wall" | bc -l)" \
    "$(echo "$user + $sys" | bc)" "$(echo "$rss / 1024" | bc)"
  eval "${name}_cpu=$(echo "$user + $sys" | bc) ${name}_rss=$rss"
}

len=$(ffprobe -v error -show_entries format=duration -of csv=p=0 "$FOOTAGE/bbb.mp4")
run film "$FOOTAGE/bbb.mp4"
/usr/bin/time -f "%U %S" -o "$W/analysis.cpu" \
  "$V" ladder analyze "$FOOTAGE/bbb.mp4" --policy "${POLICY:-per-title}" --json "$W/decision.json" >/dev/null
analysis=$(awk '{print $1 + $2}' "$W/analysis.cpu")
printf 'analysis %.1f CPU-s (ladder analyze alone): %.1f%% of the rest of the run'"'"'s CPU\n' \
  "$analysis" "$(echo "100 * $analysis / ($film_cpu - $analysis)" | bc -l)"
"$V" status film --store "$W/store-film" | sed -n '/video /p'

if [ "${LOOP:-0}" = 1 ]; then
  printf "file '%s'\nfile '%s'\n" "$FOOTAGE/bbb.mp4" "$FOOTAGE/bbb.mp4" >"$W/loop.txt"
  [ -s "$W/film2x.mp4" ] || ffmpeg -v error -nostdin -y -f concat -safe 0 -i "$W/loop.txt" -c copy "$W/film2x.mp4"
  len=$(ffprobe -v error -show_entries format=duration -of csv=p=0 "$W/film2x.mp4")
  run film2x "$W/film2x.mp4"
  printf 'peak RSS, twice the length against once: %.3f\n' "$(echo "$film2x_rss / $film_rss" | bc -l)"
fi
echo "(files in $W)"
