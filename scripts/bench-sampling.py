"""How many probe windows a long title needs (see scripts/bench-sampling.sh).

Reads DIR/wN.json (`vodfarm ladder analyze --json` of the title's interval N alone)
and DIR/activity.txt (per frame: spatial and temporal activity). The title's value at
a probe point is taken as the mean over all the probed intervals; every figure is how
far an estimate from fewer of them lands from it, in VMAF, at the worst of the grid's
points (the rungs are read from those points, so a rung's error is about a point's).
usage: bench-sampling.py DIR FRAMES_PER_INTERVAL INTERVALS
"""
import glob
import json
import math
import random
import statistics as st
import sys

d, gop = sys.argv[1], int(sys.argv[2])
ids = sorted(int(p.rsplit("/w", 1)[1][:-5]) for p in glob.glob(f"{d}/w*.json"))
points, V, K = None, [], []
for i in ids:
    ps = json.load(open(f"{d}/w{i}.json"))["points"]
    key = [(p["width"], p["height"], p["crf"]) for p in ps]
    points = points or key
    assert key == points, f"w{i}: another grid"
    V.append([p["vmaf"] for p in ps])
    K.append([math.log2(p["kbps"]) for p in ps])
n, P = len(ids), len(points)
act = [tuple(map(float, l.split())) for l in open(f"{d}/activity.txt")]
si = [st.mean(a[0] for a in act[gop * i: gop * i + gop]) for i in ids]
ti = [st.mean(a[1] for a in act[gop * i: gop * i + gop]) for i in ids]
col = lambda M, j: [r[j] for r in M]
truth = [st.mean(col(V, j)) for j in range(P)]


def r2(x, y):
    return st.correlation(x, y) ** 2


print(f"{n} windows of {gop} frames, every {ids[1] - ids[0]}th interval of the title")
print("\n1. A point's spread over the windows, and the standard error of its mean")
print(f"  {'point':>16} {'VMAF':>6} {'sd':>5} {'SE 4':>5} {'SE 12':>5}   r2 with: {'log SI':>6} {'log TI':>6} {'kbps*':>6}")
cheap = min(range(P), key=lambda j: points[j][0] * points[j][1] * 100 - points[j][2])
cheap = [j for j in range(P) if points[j][:2] == points[cheap][:2]]
cheap = sorted(cheap, key=lambda j: points[j][2])[len(cheap) // 2]
lsi, lti = [math.log(x) for x in si], [math.log(x + 0.5) for x in ti]
for j, (w, h, c) in enumerate(points):
    v = col(V, j)
    sd = st.pstdev(v)
    print(f"  {w:>5}x{h:<4} crf {c:>2.0f} {truth[j]:6.1f} {sd:5.1f} {sd / 2:5.2f} {sd / 12 ** .5:5.2f}"
          f"            {r2(lsi, v):6.2f} {r2(lti, v):6.2f} {r2(col(K, cheap), v):6.2f}")
w, h, c = points[cheap]
print(f"  (*: log kbit/s of the cheapest size's middle point, {w}x{h} at CRF {c:.0f}: a cheap encode's bits)")


def err(sel, est=None):
    e = est or [st.mean(V[i][j] for i in sel) for j in range(P)]
    return max(abs(a - b) for a, b in zip(e, truth))


anchor = {j: next(a for a in range(P) if points[a][:2] == points[j][:2]
                  and points[a][2] == sorted(q[2] for q in points if q[:2] == points[j][:2])[1])
          for j in range(P)}


def two_phase(sel, full):
    """Every size's middle CRF on every window; the other CRFs on `full` only, read as
    the middle CRF's mean plus their mean difference to it on `full`."""
    return [st.mean(V[i][j] for i in sel) if anchor[j] == j else
            st.mean(V[i][anchor[j]] for i in sel) + st.mean(V[i][j] - V[i][anchor[j]] for i in full)
            for j in range(P)]


rnd = random.Random(1)
print("\n2. The worst point's error (VMAF) from k windows; 'all phases': the policy's even"
      "\n   spread started at every offset (mean, worst); 'stratified': the median window of"
      "\n   each of k equal strata of the windows sorted by activity; 'random': k at random"
      "\n   (mean, 90th percentile of 500 draws); cost in point-encodes of one window")
print(f"  {'k':>3} {'windows':>16} {'spread, all phases':>19} {'strat. SI':>10} {'strat. TI':>10} {'random':>13} {'cost':>5}")
for k in (3, 4, 6, 8, 12):
    step = n / k
    phases = [err([int(s + j * step) % n for j in range(k)]) for s in [x * 0.5 for x in range(int(2 * step))]]
    strat = []
    for f in (si, ti):
        order = sorted(range(n), key=lambda i: f[i])
        strat.append(err([order[(2 * j + 1) * n // (2 * k)] for j in range(k)]))
    rs = sorted(err(rnd.sample(range(n), k)) for _ in range(500))
    print(f"  {k:>3} {'all points':>16} {st.mean(phases):9.2f} {max(phases):9.2f} {strat[0]:10.2f} {strat[1]:10.2f}"
          f" {st.mean(rs):6.2f} {rs[449]:6.2f} {k * P:5d}")
    for m in (k // 2, k // 3):
        if m < 2:
            continue
        tp = []
        for s in [x * 0.5 for x in range(int(2 * step))]:
            sel = [int(s + j * step) % n for j in range(k)]
            full = [sel[int((2 * i + 1) * k / (2 * m))] for i in range(m)]
            tp.append(err(sel, two_phase(sel, full)))
        cost = m * P + (k - m) * len(set(anchor.values()))
        print(f"  {k:>3} {f'all on {m}, mid CRF':>16} {st.mean(tp):9.2f} {max(tp):9.2f} {'':>10} {'':>10} {'':>13} {cost:5d}")
