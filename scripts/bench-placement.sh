#!/usr/bin/env bash
# Placement simulation: a catalogue of 10,000 titles (1-8 GB, Zipf 0.9 popularity,
# a 15%/day random-walk drift, per-site tastes, 4 new releases a day planned with the
# hot tier's stand-in), 100 sites each with 2 flash (0.5 TB, 300 Mbit/s) and 4
# storage (3 TB, 1.2 Gbit/s) appliances, a week of daily demand. Each night the real
# planner (placement::plan_from) re-plans from the day's statistics (smoothed 50/50
# with the day before); each day is served from what last night's plan put at the
# site. Compared with a reactive LRU cache of the same capacity per site, fed the same
# requests (warmed by a day of demand first).
#
# Run at three demand levels, because a reactive cache learns only from its own
# site's requests while the planner uses the whole fleet's: 2,000, 5,000 and 20,000
# views a site a day. Targets: offload >= LRU's + 10 points, every night's fill
# within the fill windows, churn < 5% a day, planning < 2 s.
#
#   scripts/bench-placement.sh                  # the three levels
#   VIEWS="20000" scripts/bench-placement.sh    # one level
#   scripts/bench-placement.sh --zipf 0.8       # extra options go to the simulation
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q -p placement --example simulate
for v in ${VIEWS:-2000 5000 20000}; do
  echo "== $v views a site a day"
  target/release/examples/simulate --views "$v" "$@"
done
