#!/usr/bin/env bash
# Per-title ladder against the fixed Apple AVC ladder, on six 1080p clips of clearly
# different coding complexity (vodfarm sample --content ...) and four cuts of real
# footage (scripts/real-clip.sh: `trailer`, `film` and `film2`, Big Buck Bunny,
# animation, 720p24, stream-copied from the keyframe before 0:20 of the trailer and
# 5:00 and 1:00 of the film, 21-26 s; `camera`, a CC0 night time-lapse, 720x405, 7.6 s;
# from scripts/real-footage.sh in $VODFARM_FOOTAGE), x264
# veryfast, maxrate 1.5x, bufsize 2x. Apple: capped ABR; per-title: the policy's rate
# control (capped CRF at the CRF its probes measured for each rung, unless set to abr).
#
# Per clip: the per-title analysis alone (vodfarm ladder analyze, CPU measured), the
# final encode of the chosen ladder (the decision written out as a fixed ladder file,
# so its CPU is the encode's alone; its output is what `run --ladder per-title` makes),
# the Apple ladder's encode, then VMAF of every rendition against the master at 1080p
# and BD-rate of per-title against Apple (vodfarm ladder compare). The farm's own
# sampled VMAF of each per-title rendition (status, quality.json) is compared with
# that independent score of the whole rendition.
#
# Then the same per-title ladder once more with --no-shot-idrs, and the BD-rate of the
# shot-aware encode (the default) against it (SHOTS=0 skips it).
#
# Prints a line per clip and the averages. Targets: average BD-rate <= -20%, no clip
# above 0%, analysis CPU <= 25% of the final encode's CPU.
#
# The analysis share is also projected for a 2-hour title of the same content: the
# policy then probes its maximum of 12 windows (the 20 s clips get its minimum of 4,
# 40% of their length, where the policy asks for 5%), each costing what one of the
# clip's cost, against 360x the clip's encode CPU.
#
#   scripts/bench-per-title.sh            # 20 s clips, VMAF on every frame
#   CLIP_SECONDS=30 VMAF_SUBSAMPLE=2 BENCH_DIR=/tmp/b scripts/bench-per-title.sh
#   SUMMARY_ONLY=1 BENCH_DIR=/tmp/b scripts/bench-per-title.sh   # re-print a finished run
#   CLIPS="trailer film camera" POLICY=abr-policy.toml scripts/bench-per-title.sh
set -euo pipefail
cd "$(dirname "$0")/.."
CLIP_SECONDS=${CLIP_SECONDS:-20}
# Every frame by default: frame types repeat every 2-4 frames, so every 2nd frame
# scores some kinds of frame twice as often as the rest (against every frame: +0.5 VMAF
# on four real clips' windows on average, +1.8 on the MPEG-2 camera clip).
VMAF_SUBSAMPLE=${VMAF_SUBSAMPLE:-1}
CLIPS=${CLIPS:-"slides animation slow-pan dark film-grain high-motion trailer film film2 camera"}
W=${BENCH_DIR:-$(mktemp -d)}
mkdir -p "$W"
cargo build --release -q -p vodfarm
V=$PWD/target/release/vodfarm
export VODFARM_LOG=error

cpu() { # seconds of user+system CPU recorded by /usr/bin/time -f "%U %S"
  awk '{print $1 + $2}' "$1"
}

for clip in $CLIPS; do
  [ "${SUMMARY_ONLY:-0}" = 1 ] && break
  m=$W/$clip.mp4
  case $clip in
    # Real footage, cut by stream copy (see scripts/real-clip.sh).
    trailer|film|film2|camera) m=$W/$clip.ts; scripts/real-clip.sh "$clip" "$m" "$CLIP_SECONDS" ;;
    *) [ -f "$m" ] || "$V" sample "$m" --content "$clip" --width 1920 --height 1080 --seconds "$CLIP_SECONDS" >/dev/null ;;
  esac
  /usr/bin/time -f "%U %S" -o "$W/$clip.analysis.cpu" \
    "$V" ladder analyze "$m" --policy "${POLICY:-per-title}" --json "$W/$clip.decision.json" --svg "$W/$clip.svg" >"$W/$clip.analysis.txt"
  python3 - "$W/$clip.decision.json" "$W/$clip.per-title.toml" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
crf = all(r["rung"].get("crf") is not None for r in d["rungs"])
out = ['name = "per-title-decision"', 'preset = "veryfast"', 'profile = "high"',
       f'rate_control = "{"capped-crf" if crf else "abr"}"', 'maxrate_ratio = 1.5', 'bufsize_ratio = 2.0', 'audio_kbps = 128']
for r in d["rungs"]:
    g = r["rung"]
    out += ["", "[[rung]]", f'width = {g["width"]}', f'height = {g["height"]}', f'kbps = {g["bitrate"] // 1000}']
    if crf:
        out.append(f'crf = {g["crf"]}')
    if g["height"] < 720:
        out.append("max_fps = 30.0")
open(sys.argv[2], "w").write("\n".join(out) + "\n")
PY
  rm -rf "$W/store-$clip"
  /usr/bin/time -f "%U %S" -o "$W/$clip.pt.cpu" \
    "$V" run "$m" --title pt --store "$W/store-$clip" --ladder "$W/$clip.per-title.toml" >/dev/null 2>"$W/$clip.pt.log"
  /usr/bin/time -f "%U %S" -o "$W/$clip.apple.cpu" \
    "$V" run "$m" --title apple --store "$W/store-$clip" --ladder apple-avc >/dev/null 2>"$W/$clip.apple.log"
  "$V" ladder compare "$m" --store "$W/store-$clip" --anchor apple --test pt \
    --subsample "$VMAF_SUBSAMPLE" --json "$W/$clip.compare.json" >"$W/$clip.compare.txt"
  # Shot-aware (the default: shot changes found at ingest get IDRs of their own in
  # every rendition) against the same ladder without them.
  if [ "${SHOTS:-1}" = 1 ]; then
    "$V" run "$m" --title plain --store "$W/store-$clip" --ladder "$W/$clip.per-title.toml" \
      --no-shot-idrs >/dev/null 2>"$W/$clip.plain.log"
    "$V" ladder compare "$m" --store "$W/store-$clip" --anchor plain --test pt \
      --subsample "$VMAF_SUBSAMPLE" --json "$W/$clip.shots.json" >"$W/$clip.shots.txt"
  fi
  printf '%-12s analysis %6.1f s CPU, per-title encode %6.1f s, apple encode %6.1f s; %s\n' "$clip" \
    "$(cpu "$W/$clip.analysis.cpu")" "$(cpu "$W/$clip.pt.cpu")" "$(cpu "$W/$clip.apple.cpu")" \
    "$(grep BD-rate "$W/$clip.compare.txt")"
done

python3 - "$W" "$CLIP_SECONDS" $CLIPS <<'PY'
import json, re, sys
w, secs, clips = sys.argv[1], float(sys.argv[2]), sys.argv[3:]
cpu = lambda f: sum(float(x) for x in open(f).read().split())
rows = []
errors = {}
spread = {}
farm_err = {}
print()
shots = {}
print(f"{'clip':<12} {'BD-rate':>8} {'apple top':>13} {'per-title top':>14} {'rungs':>6} {'analysis/encode CPU':>20} {'2 h title':>10} {'measured - predicted VMAF per rung':>36} {'shot IDRs':>9}")
for c in clips:
    cmp = json.load(open(f"{w}/{c}.compare.json"))
    a, p = cmp["apple"], cmp["pt"]
    an, enc = cpu(f"{w}/{c}.analysis.cpu"), cpu(f"{w}/{c}.pt.cpu")
    # The rung checks' part (printed by ladder analyze): a long title is probed in
    # enough windows not to be checked, so the projection counts the probing alone.
    m = re.search(r"rungs checked on \d+ window\(s\) \(([\d.]+) s CPU", open(f"{w}/{c}.analysis.txt").read())
    checks = float(m.group(1)) if m else 0.0
    probed = int(re.search(r"analysis: (\d+) window", open(f"{w}/{c}.analysis.txt").read()).group(1))
    share = an / enc
    # Probing costs about the same per window (fewer frames scored in each of a long
    # title's windows make this an upper bound).
    long_share = 12 * (an - checks) / probed / (enc * 7200 / secs)
    bd = cmp["bd_rate"]
    rows.append((bd, share, long_share, checks / enc))
    top = lambda r: f'{r[-1]["kbps"]:.0f}k/{r[-1]["vmaf"]:.1f}'
    # Rungs in bitrate order on both sides (the decision's and the measured renditions').
    dec = json.load(open(f"{w}/{c}.decision.json"))["rungs"]
    pred = [r["predicted_vmaf"] for r in sorted(dec, key=lambda r: r["rung"]["bitrate"])]
    meas = [r["vmaf"] for r in sorted(p, key=lambda r: int(r["id"].rsplit("-", 1)[1].rstrip("k")))]
    errors[c] = [m - q for m, q in zip(meas, pred)]
    ses = [r.get("predicted_se") for r in sorted(dec, key=lambda r: r["rung"]["bitrate"])]
    spread[c] = [(m - q, se) for m, q, se in zip(meas, pred, ses) if se is not None]
    # The farm's own sampled measurement against the independent whole-file score.
    farm = {q["id"]: q.get("vmaf") for q in json.load(open(f"{w}/store-{c}/work/pt/quality.json"))}
    farm_err[c] = [farm[r["id"]] - r["vmaf"] for r in p if farm.get(r["id"]) is not None]
    err = " ".join(f"{e:+.1f}" for e in errors[c])
    try:
        sh = json.load(open(f"{w}/{c}.shots.json"))["bd_rate"]
        shots[c] = sh
        sh = "n/a" if sh is None else f"{sh:+.1f}%"
    except FileNotFoundError:
        sh = "-"
    print(f"{c:<12} {'n/a' if bd is None else f'{bd:+.1f}%':>8} {top(a):>13} {top(p):>14} {len(a):>3}/{len(p):<2} {share*100:>19.1f}% {long_share*100:>9.1f}% {err:>36} {sh:>9}")
bds = [r[0] for r in rows if r[0] is not None]
print(f"average BD-rate {sum(bds)/len(bds):+.1f}% over {len(bds)} clips; worst {max(bds):+.1f}%")
real = [bd for c, (bd, *_) in zip(clips, rows) if c in ("trailer", "film", "film2", "camera") and bd is not None]
if real:
    print(f"real footage: average BD-rate {sum(real)/len(real):+.1f}% over {len(real)} clips; worst {max(real):+.1f}%")
known = [v for v in shots.values() if v is not None]
if known:
    print(f"shot-aware (shot IDRs) against the same ladder without them: average BD-rate {sum(known)/len(known):+.1f}% over {len(known)} clips")
errs = [e for es in errors.values() for e in es]
print(f"measured - predicted VMAF over {len(errs)} rungs: mean {sum(errs)/len(errs):+.1f}, worst {max(errs, key=abs):+.1f}, "
      f"{sum(abs(e) <= 3 for e in errs)} of {len(errs)} within 3")
sp = [x for xs in spread.values() for x in xs]
if sp:
    print(f"predictions' standard error (the probed windows' spread) over {len(sp)} rungs: mean {sum(se for _, se in sp)/len(sp):.1f}, "
          f"largest {max(se for _, se in sp):.1f}; {sum(abs(e) <= 2 * se for e, se in sp)} of {len(sp)} measured within 2 SE of their prediction")
ferrs = [e for es in farm_err.values() for e in es]
if ferrs:
    print(f"farm's sampled VMAF - whole-rendition VMAF over {len(ferrs)} renditions: mean {sum(ferrs)/len(ferrs):+.2f}, "
          f"worst {max(ferrs, key=abs):+.2f}, {sum(abs(e) <= 1 for e in ferrs)} of {len(ferrs)} within 1")
print(f"analysis CPU / final encode CPU: {sum(r[1] for r in rows)/len(rows)*100:.1f}% on average (max {max(r[1] for r in rows)*100:.1f}%) on {secs:.0f} s clips, "
      f"of which rung checks {sum(r[3] for r in rows)/len(rows)*100:.1f}%; "
      f"projected for 2 h titles: {sum(r[2] for r in rows)/len(rows)*100:.1f}% (max {max(r[2] for r in rows)*100:.1f}%)")
print(f"(top = measured kbit/s / VMAF of the top rendition; rungs = apple/per-title; files in {w})")
PY
