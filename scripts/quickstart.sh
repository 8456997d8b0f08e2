#!/usr/bin/env bash
# Quick start: install what is missing, build vodfarm, generate a sample master and
# turn it into a playable HLS + DASH ladder in ./vodfarm-data.
set -euo pipefail
cd "$(dirname "$0")/.."
VODFARM_PLAYERS=0 scripts/install-deps.sh
cargo build --release --quiet -p vodfarm
bin=target/release/vodfarm
mkdir -p vodfarm-data
$bin sample vodfarm-data/sample-master.mp4 --seconds 20 >/dev/null
$bin run vodfarm-data/sample-master.mp4 --title sample --store vodfarm-data
echo
echo "Play it:  ffplay vodfarm-data/origin/sample/master.m3u8"
echo "   or serve vodfarm-data/origin/sample over HTTP and open master.m3u8 (hls.js) or manifest.mpd (dash.js)."
