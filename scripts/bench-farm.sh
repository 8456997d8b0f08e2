#!/usr/bin/env bash
# The farm's scaling on this machine: time from `vodfarm submit` to published for a
# 60 s 1920x1080 master (vodfarm sample: testsrc2 + sine), with 1 and then 2
# `vodfarm worker` processes, on S3 + SQS served by moto on 127.0.0.1. Each worker runs
# one job per core (the default). Prints both times and their ratio, the chunk count,
# and the measured CPU-bound cost per chunk (from the workers' "encoded" log lines),
# which the README's throughput and cost estimate is built from.
#
#   scripts/bench-farm.sh                  # 60 s master, per-title ladder
#   SECONDS_OF_MASTER=30 LADDER=apple-avc scripts/bench-farm.sh
set -euo pipefail
cd "$(dirname "$0")/.."
LEN=${SECONDS_OF_MASTER:-60}
LADDER=${LADDER:-per-title}
W=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$W"' EXIT
cargo build --release -q -p vodfarm
V=$PWD/target/release/vodfarm
export AWS_ACCESS_KEY_ID=bench AWS_SECRET_ACCESS_KEY=bench AWS_REGION=us-east-1
"$V" sample "$W/master.mp4" --seconds "$LEN" --width 1920 --height 1080 >/dev/null
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
python3 -m moto.server -H 127.0.0.1 -p "$PORT" >/dev/null 2>&1 &
for _ in $(seq 100); do (echo >/dev/tcp/127.0.0.1/$PORT) 2>/dev/null && break; sleep 0.1; done

declare -A T
for N in 1 2; do
  cat > "$W/farm$N.toml" <<TOML
[store]
backend = "s3"
bucket = "bench$N-work"
endpoint = "http://127.0.0.1:$PORT"
[store.buckets]
ingest = "bench$N-ingest"
origin = "bench$N-origin"
control = "bench$N-control"
[queue]
backend = "sqs"
prefix = "bench$N-"
endpoint = "http://127.0.0.1:$PORT"
[worker]
visibility_seconds = 60
wait_seconds = 1
TOML
  C="$W/farm$N.toml"
  "$V" --config "$C" init >/dev/null
  pids=()
  for i in $(seq "$N"); do
    VODFARM_LOG=info "$V" --config "$C" --log-json worker --scratch "$W/scratch$N-$i" 2>"$W/w$N-$i.log" &
    pids+=($!)
  done
  start=$(date +%s.%N)
  "$V" --config "$C" submit "$W/master.mp4" --title bench --ladder "$LADDER" >/dev/null
  until "$V" --config "$C" status bench | grep -q Published; do
    if "$V" --config "$C" status bench | grep -q Failed; then
      "$V" --config "$C" status bench; exit 1
    fi
    sleep 0.5
  done
  end=$(date +%s.%N)
  kill -TERM "${pids[@]}"; wait "${pids[@]}" 2>/dev/null || true
  T[$N]=$(python3 -c "print($end - $start)")
  python3 - "$W" "$N" "${T[$N]}" <<'PY'
import json, sys, glob
w, n, t = sys.argv[1], sys.argv[2], float(sys.argv[3])
enc = []
for f in glob.glob(f"{w}/w{n}-*.log"):
    for line in open(f):
        try:
            e = json.loads(line)
        except ValueError:
            continue
        if e.get("fields", {}).get("message") == "encoded":
            enc.append((e["fields"]["chunk"], e["fields"]["rungs"], e["fields"]["secs"]))
chunks = len({c for c, _, _ in enc})
secs = [s for _, _, s in enc]
print(f"{n} worker process(es): published in {t:.1f} s; {chunks} chunks, "
      f"{len(enc)} chunk encodes of {enc[0][1] if enc else 0} rungs, "
      f"mean {sum(secs)/max(len(secs),1):.2f} s wall per chunk encode (max {max(secs, default=0):.2f})")
PY
done
echo "ratio (1 worker / 2 workers): $(python3 -c "print(f'{${T[1]} / ${T[2]}:.2f}')")"
echo "cores: $(nproc)"
