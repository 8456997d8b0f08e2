"""What one probe window says about a whole clip, and what per-shot quality could gain.

Reads DIR/CLIP.wN.json: `vodfarm ladder analyze --json` of each window N (one IDR
interval) of each clip, every window probed at the policy's whole (size, CRF) grid,
and DIR/CLIP.intervals: the clip's IDR intervals, its short tail included.
A clip's own value at a point is the mean over its windows (each window is coded from
its own IDR, as the final encode's chunks are), so every figure compares measurements
of the same encoder on the same pictures.

1. One window standing for the clip (what the per-title policy did on a 20 s title
   until 2026-12-07; it probes four since):
   per point, the window's VMAF minus the clip's; the same after a level correction
   from one cheap point (the middle size at the middle CRF) probed on every window;
   and k windows spread as the policy spreads them (`min_windows = k`), whose
   analysis costs k times one window's.
2. Per-window quality choices, each window's curves known exactly (an oracle: the
   windows' own measurements, interpolated between probe CRFs), against one CRF per
   rung for the whole clip (the per-title rung), BD-rate in VMAF:
   - equal VMAF: each window gets the CRF that gives the rung's VMAF (each shot
     "meets its target VMAF");
   - equal slope: each window gets the CRF where VMAF gained per kbit/s is the same
     (Netflix's dynamic optimizer at a fixed size);
   - size and CRF per window at equal slope, against the per-title envelope (the
     upper envelope of every size's curve, what the per-title rungs choose from).
   These are upper bounds on what per-shot CRF could gain: they pay no probing.
3. What each probe size adds: the clip's envelope without that size against the
   envelope of all (run with a policy of more boxes to see what sizes between the default's add).
usage: bench-windows.py DIR CLIP...
"""
import glob
import json
import math
import statistics as st
import sys

FLOOR, CEIL = 30.0, 97.0  # points scored outside this range say nothing about rungs


def interp(x, xs, ys):
    """Piecewise-linear y(x) through (xs, ys), xs rising; clamped at the ends."""
    if x <= xs[0]:
        return ys[0]
    for (x0, y0), (x1, y1) in zip(zip(xs, ys), zip(xs[1:], ys[1:])):
        if x <= x1:
            return y0 + (y1 - y0) * (x - x0) / (x1 - x0)
    return ys[-1]


def bd_rate(anchor, test):
    """Mean log-rate difference of test against anchor over the VMAF range both cover
    (each a list of (kbps, vmaf); the upper envelope of each is used)."""
    a, b = envelope(anchor), envelope(test)
    lo, hi = max(a[0][1], b[0][1]), min(a[-1][1], b[-1][1])
    if hi <= lo:
        return float("nan")
    vs = [lo + (hi - lo) * i / 199 for i in range(200)]
    la = [interp(v, [p[1] for p in a], [math.log(p[0]) for p in a]) for v in vs]
    lb = [interp(v, [p[1] for p in b], [math.log(p[0]) for p in b]) for v in vs]
    return math.exp(sum(y - x for x, y in zip(la, lb)) / len(vs)) - 1


def envelope(points):
    """Points not beaten by a cheaper one, by rising rate (rising VMAF)."""
    out = []
    for k, v in sorted(points):
        if not out or v > out[-1][1]:
            out.append((k, v))
    return out


def load(d, clip):
    """{interval index: {(height, crf): (kbps, vmaf)}} of every probed window, only
    the points every window has; and the clip's interval count."""
    windows = {}
    for path in glob.glob(f"{glob.escape(d)}/{glob.escape(clip)}.w*.json"):
        n = path[len(f"{d}/{clip}.w"):-len(".json")]
        if n.isdigit():
            dec = json.load(open(path))
            windows[int(n)] = {(p["height"], p["crf"]): (p["kbps"], p["vmaf"]) for p in dec["points"]}
    if windows:
        common = set.intersection(*(set(w) for w in windows.values()))
        windows = {n: {k: w[k] for k in common} for n, w in windows.items()}
    try:
        intervals = int(open(f"{d}/{clip}.intervals").read())
    except (FileNotFoundError, ValueError):
        intervals = max(windows, default=-1) + 1
    return windows, intervals


def policy_windows(intervals, k):
    """The intervals the policy probes with k windows (`PerTitlePolicy::windows`)."""
    k = min(k, intervals)
    return [(2 * i + 1) * intervals // (2 * k) for i in range(k)]


def mean(xs):
    """Mean of the values that are numbers (a clip with too little range gives NaN)."""
    xs = [x for x in xs if not math.isnan(x)]
    return st.mean(xs) if xs else float("nan")


def main():
    d, clips = sys.argv[1], sys.argv[2:]
    summary = {"raw": [], "corrected": [], "eq": [], "slope": [], "do": []}
    print("1. one window standing for the clip (points with clip VMAF 30-97)")
    print(f"{'clip':<10} {'windows':>7} {'sd of window level':>18} {'within 3 (one window)':>22} "
          f"{'within 3 (+ level point)':>25} {'bits error one window':>22} {'+ level point':>14}")
    print("(bits error: mean |ln(window kbit/s / clip kbit/s)| over the points, x100)")
    bounds = []
    for clip in clips:
        probed, intervals = load(d, clip)
        ws = [probed[n] for n in sorted(probed)]
        keys = sorted(ws[0]) if ws else []
        if len(ws) < 2 or not keys:
            print(f"{clip:<10} fewer than two windows probed at the same points")
            continue
        heights = sorted({k[0] for k in keys})
        crfs = sorted({k[1] for k in keys})
        ref = (heights[len(heights) // 2], crfs[len(crfs) // 2])
        clip_v = {k: st.mean(w[k][1] for w in ws) for k in keys}
        clip_k = {k: st.mean(w[k][0] for w in ws) for k in keys}
        used = [k for k in keys if FLOOR <= clip_v[k] <= CEIL]
        if not used:
            print(f"{clip:<10} no point between VMAF {FLOOR:.0f} and {CEIL:.0f}")
            continue
        raw, cor, braw, bcor, levels = [], [], [], [], []
        for w in ws:
            dv = clip_v[ref] - w[ref][1]
            dk = math.log(clip_k[ref] / w[ref][0])
            levels.append(st.mean(w[k][1] - clip_v[k] for k in used))
            for k in used:
                raw.append(w[k][1] - clip_v[k])
                cor.append(w[k][1] + dv - clip_v[k])
                braw.append(abs(math.log(w[k][0] / clip_k[k])))
                bcor.append(abs(math.log(w[k][0] / clip_k[k]) + dk))
        within = lambda e: sum(abs(x) <= 3 for x in e) / len(e) * 100
        summary["raw"].append(within(raw))
        summary["corrected"].append(within(cor))
        spread = []
        for k in range(1, 5):
            # The policy's picks; one that fell on the unprobed short tail is stood for
            # by the nearest probed window.
            picked = [probed[min(probed, key=lambda n: (abs(n - i), n))] for i in policy_windows(intervals, k)]
            e = [st.mean(w[p][1] for w in picked) - clip_v[p] for p in used]
            spread.append(f"{k}: {within(e):.0f}%")
            summary.setdefault(k, []).append(within(e))
        print(f"{clip:<10} {len(ws):>7} {st.pstdev(levels):>16.1f} V {within(raw):>21.0f}% "
              f"{within(cor):>24.0f}% {st.mean(braw)*100:>22.0f} {st.mean(bcor)*100:>14.0f}")
        print(f"{'':<10} points within 3 with k windows spread as the policy spreads them: {', '.join(spread)}")

        # 2. Oracle per-window allocations on a fine CRF grid inside the probed range.
        grid = [crfs[0] + (crfs[-1] - crfs[0]) * i / 56 for i in range(57)]
        curve = {}  # (window, height) -> [(kbps, vmaf)] along the grid
        for i, w in enumerate(ws):
            for h in heights:
                lk = [math.log(w[(h, c)][0]) for c in crfs]
                vm = [w[(h, c)][1] for c in crfs]
                curve[i, h] = [(math.exp(interp(c, crfs, lk)), interp(c, crfs, vm)) for c in grid]
        mean_of = lambda picks: (st.mean(p[0] for p in picks), st.mean(p[1] for p in picks))
        lambdas = [math.exp(-10 + 11 * i / 79) for i in range(80)]
        row = []
        for h in heights:
            const = [mean_of([curve[i, h][g] for i in range(len(ws))]) for g in range(len(grid))]
            vs = [v for _, v in const]
            eq = [mean_of([min(curve[i, h], key=lambda p: abs(p[1] - t)) for i in range(len(ws))])
                  for t in [min(vs) + (max(vs) - min(vs)) * j / 29 for j in range(30)]]
            slope = [mean_of([max(curve[i, h], key=lambda p: p[1] - lam * p[0]) for i in range(len(ws))])
                     for lam in lambdas]
            row.append((h, bd_rate(const, eq), bd_rate(const, slope)))
        hull = [mean_of([curve[i, h][g] for i in range(len(ws))]) for h in heights for g in range(len(grid))]
        do = [mean_of([max((p for h in heights for p in curve[i, h]), key=lambda p: p[1] - lam * p[0])
                       for i in range(len(ws))]) for lam in lambdas]
        without = [(h, bd_rate(hull, [mean_of([curve[i, g][j] for i in range(len(ws))])
                                      for g in heights if g != h for j in range(len(grid))]))
                   for h in heights]
        bounds.append((clip, row, bd_rate(hull, do), without))
    print("\n2. per-window choices with every window's curves known, BD-rate against one CRF per rung")
    for clip, row, do, _ in bounds:
        per = "; ".join(f"{h}p equal VMAF {e*100:+.1f}%, equal slope {s*100:+.1f}%" for h, e, s in row)
        print(f"{clip:<10} {per}")
        print(f"{'':<10} size and CRF per window against the per-title envelope: {do*100:+.1f}%")
        summary["eq"].append(mean(e for _, e, _ in row) * 100)
        summary["slope"].append(mean(s for _, _, s in row) * 100)
        summary["do"].append(do * 100)
    print("\n3. the clip's envelope without one probe size, against the envelope of all its sizes")
    for clip, _, _, without in bounds:
        print(f"{clip:<10} " + "; ".join(f"without {h}p {b*100:+.1f}%" for h, b in without))
    if bounds:
        ks = ", ".join(f"{k}: {mean(summary[k]):.0f}%" for k in range(1, 5))
        print(f"\naverage over {len(bounds)} clips: points within 3 VMAF with k windows spread ({ks}); one window (each in turn) {mean(summary['raw']):.0f}% of points within 3 VMAF, "
              f"{mean(summary['corrected']):.0f}% with a level point on every window; per-window CRF at equal VMAF "
              f"{mean(summary['eq']):+.1f}%, at equal slope {mean(summary['slope']):+.1f}%; "
              f"size and CRF per window {mean(summary['do']):+.1f}% (upper bounds: no probing paid)")


if __name__ == "__main__":
    main()
