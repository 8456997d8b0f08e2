#!/usr/bin/env bash
# `vodfarm run --workers 8` on a small master N times in a row (default 50), each into
# a fresh store: how many published, how many printed an ERROR or WARN line, and the
# wall time. The embedded queue's races showed up here as lost or doubled jobs.
#   scripts/soak-run.sh [N] [WORKERS]
set -euo pipefail
cd "$(dirname "$0")/.."
n="${1:-50}"; workers="${2:-8}"
cargo build -q -p vodfarm
bin="$PWD/target/debug/vodfarm"
dir=$(mktemp -d); trap 'rm -rf "$dir"' EXIT
"$bin" sample "$dir/m.mp4" --seconds 3 --width 320 --height 180 >/dev/null
published=0; noisy=0; failed=0
start=$(date +%s.%N)
for i in $(seq 1 "$n"); do
  if VODFARM_LOG=warn "$bin" run "$dir/m.mp4" --title "t$i" --store "$dir/s$i" \
      --workers "$workers" >"$dir/out" 2>"$dir/err" \
      && [ -f "$dir/s$i/origin/t$i/master.m3u8" ]; then
    published=$((published + 1))
  else
    failed=$((failed + 1)); echo "run $i failed:"; tail -3 "$dir/err"
  fi
  if grep -qE ' (ERROR|WARN) ' "$dir/err"; then
    noisy=$((noisy + 1)); echo "run $i logged:"; grep -E ' (ERROR|WARN) ' "$dir/err" | head -3
  fi
  rm -rf "$dir/s$i"
done
end=$(date +%s.%N)
echo "soak-run: $published of $n published, $failed failed, $noisy with ERROR/WARN lines, --workers $workers, $(echo "$end - $start" | awk '{printf "%.1f", $1 - $3}') s"
[ "$published" = "$n" ] && [ "$noisy" = 0 ]
