#!/usr/bin/env bash
# How well a probe size's VMAF is read between its probes (issue 12's honest rungs):
# windows of the real clips (scripts/clip-windows.sh; every third 2 s window) are
# probed with `vodfarm ladder analyze` at the policy's sizes and at five CRFs, the
# policy's three and the two halfway between. From the policy's three alone,
# scripts/bench-interpolation.py predicts the halfway points' VMAF at their measured
# bitrates, along the straight line in (log2 kbit/s, VMAF) and along the monotone
# cubic the per-title choice uses, and prints both errors against the measurements.
#
#   scripts/bench-interpolation.sh
#   CLIPS="trailer film" BENCH_DIR=/tmp/i scripts/bench-interpolation.sh
set -euo pipefail
cd "$(dirname "$0")/.."
CLIP_SECONDS=${CLIP_SECONDS:-20}
CLIPS=${CLIPS:-"trailer film film2 camera"}
W=${BENCH_DIR:-$(mktemp -d)}
mkdir -p "$W/interpolation"
cargo build --release -q -p vodfarm
V=$PWD/target/release/vodfarm
export VODFARM_LOG=error
# The built-in policy with the halfway CRFs added (22 29 36 -> 22 25.5 29 32.5 36).
policy=$W/interpolation/policy.toml
sed -e 's/^crfs = .*/crfs = [22.0, 25.5, 29.0, 32.5, 36.0]/' -e 's/^name = .*/name = "halfway"/' \
  ladders/presets/per-title.toml >"$policy"
grep -q '^crfs = \[22.0, 25.5' "$policy" || { echo "error: no crfs line in the policy" >&2; exit 1; }
for clip in $CLIPS; do
  c=$W/$clip-${CLIP_SECONDS}s
  scripts/clip-windows.sh "$clip" "$c" "$CLIP_SECONDS" >/dev/null
  for f in "$c".w*.ts; do
    i=${f##*.w}; i=${i%.ts}
    [ $((i % 3)) = 1 ] || continue
    j=$W/interpolation/$clip.w$i.json
    [ -f "$j" ] || "$V" ladder analyze "$f" --policy "$policy" --json "$j" >/dev/null
  done
done
python3 scripts/bench-interpolation.py "$W"/interpolation/*.json
echo "(files in $W)"
