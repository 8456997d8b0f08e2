"""How many probe windows a long title needs (see scripts/bench-sampling.sh).

Reads DIR/wN.json (`vodfarm ladder analyze --json` of the title's interval N alone),
DIR/activity.txt (per frame: spatial and temporal activity) and, for each LEN given,
DIR/wN.sLEN.json (the same interval's middle LEN frames alone). The title's value at
a probe point is taken as the mean over all the probed intervals; every figure is how
far an estimate from fewer of them lands from it, in VMAF, at the worst of the grid's
points (the rungs are read from those points, so a rung's error is about a point's).
usage: bench-sampling.py DIR FRAMES_PER_INTERVAL [LEN...]
"""
import glob
import json
import math
import random
import re
import statistics as st
import sys

d, gop, shorts = sys.argv[1], int(sys.argv[2]), [int(x) for x in sys.argv[3:]]
ids = sorted(int(m.group(1)) for p in glob.glob(f"{d}/w*.json") if (m := re.search(r"/w(\d+)\.json$", p)))


def load(path, grid=None):
    ps = json.load(open(path))["points"]
    key = [(p["width"], p["height"], p["crf"]) for p in ps]
    assert grid is None or key == grid, f"{path}: another grid"
    return key, [p["vmaf"] for p in ps], [math.log2(p["kbps"]) for p in ps]


points, V, K = None, [], []
for i in ids:
    points, v, k = load(f"{d}/w{i}.json", points)
    V.append(v)
    K.append(k)
n, P = len(ids), len(points)
act = [tuple(map(float, l.split())) for l in open(f"{d}/activity.txt")]
si = [st.mean(a[0] for a in act[gop * i: gop * i + gop]) for i in ids]
ti = [st.mean(a[1] for a in act[gop * i: gop * i + gop]) for i in ids]
col = lambda M, j: [r[j] for r in M]
truth = [st.mean(col(V, j)) for j in range(P)]


def corr(x, y):
    """Pearson correlation; 0 when either side does not vary (a black interval)."""
    try:
        return st.correlation(x, y)
    except st.StatisticsError:
        return 0.0


def r2(x, y):
    return corr(x, y) ** 2


# Each size's middle CRF (of its probed CRFs), and the smallest size's: a cheap encode.
mid = {}
for j, (w, h, c) in enumerate(points):
    mid.setdefault((w, h), []).append((c, j))
mid = {s: sorted(v)[len(v) // 2][1] for s, v in mid.items()}
anchor = {j: mid[points[j][:2]] for j in range(P)}
cheap = mid[min(mid, key=lambda s: s[0] * s[1])]

print(f"{n} windows of {gop} frames, every {ids[1] - ids[0]}th interval of the title")
print("\n1. A point's spread over the windows (sample sd), and the standard error of a mean of 4 or 12")
print(f"  {'point':>16} {'VMAF':>6} {'sd':>5} {'SE 4':>5} {'SE 12':>5}   r2 with: {'log SI':>6} {'log TI':>6} {'kbps*':>6}")
lsi, lti = [math.log(x + 0.5) for x in si], [math.log(x + 0.5) for x in ti]
for j, (w, h, c) in enumerate(points):
    v = col(V, j)
    sd = st.stdev(v)
    print(f"  {w:>5}x{h:<4} crf {c:>2.0f} {truth[j]:6.1f} {sd:5.1f} {sd / 2:5.2f} {sd / 12 ** .5:5.2f}"
          f"            {r2(lsi, v):6.2f} {r2(lti, v):6.2f} {r2(col(K, cheap), v):6.2f}")
w, h, c = points[cheap]
print(f"  (*: log kbit/s of the smallest size at its middle CRF, {w}x{h} at {c:.0f}: a cheap encode's bits)")


def err(sel, est=None):
    e = est or [st.mean(V[i][j] for i in sel) for j in range(P)]
    return max(abs(a - b) for a, b in zip(e, truth))


def two_phase(sel, full):
    """Every size's middle CRF on every window; the other CRFs on `full` only, read as
    the middle CRF's mean plus their mean difference to it on `full`."""
    return [st.mean(V[i][j] for i in sel) if anchor[j] == j else
            st.mean(V[i][anchor[j]] for i in sel) + st.mean(V[i][j] - V[i][anchor[j]] for i in full)
            for j in range(P)]


rnd = random.Random(1)
print("\n2. The worst point's error (VMAF) from k windows. 'spread': the policy's even spread"
      "\n   started at every offset (mean, worst). 'strat.': the median window of each of k"
      "\n   equal strata of the windows sorted by activity, one pick each, with the share of"
      "\n   500 random picks of k that did better. 'random': k at random (mean, 90th"
      "\n   percentile). cost: point-encodes")
print(f"  {'k':>3} {'windows':>18} {'spread':>13} {'strat. SI':>15} {'strat. TI':>15} {'random':>13} {'cost':>5}")
for k in (3, 4, 6, 8, 12):
    step = n / k
    offsets = [x * 0.5 for x in range(int(2 * step))]
    phases = [err([int(s + j * step) % n for j in range(k)]) for s in offsets]
    rs = sorted(err(rnd.sample(range(n), k)) for _ in range(500))
    strat = []
    for f in (si, ti):
        order = sorted(range(n), key=lambda i: f[i])
        e = err([order[(2 * j + 1) * n // (2 * k)] for j in range(k)])
        strat.append(f"{e:6.2f} ({sum(r < e for r in rs) / len(rs):4.0%})")
    print(f"  {k:>3} {'all points':>18} {st.mean(phases):6.2f} {max(phases):6.2f} {strat[0]:>15} {strat[1]:>15}"
          f" {st.mean(rs):6.2f} {rs[449]:6.2f} {k * P:5d}")
    for m in (k // 2, k // 3):
        if m < 2:
            continue
        tp = []
        for s in offsets:
            sel = [int(s + j * step) % n for j in range(k)]
            full = [sel[int((2 * i + 1) * k / (2 * m))] for i in range(m)]
            tp.append(err(sel, two_phase(sel, full)))
        cost = m * P + (k - m) * len(set(anchor.values()))
        print(f"  {k:>3} {f'all on {m}, mid CRF':>18} {st.mean(tp):6.2f} {max(tp):6.2f} {'':>15} {'':>15} {'':>13} {cost:5d}")

if shorts:
    print("\n3. Each window's middle LEN frames probed alone, against the whole window:"
          "\n   correlation of their VMAF over the windows (range over points), their mean"
          "\n   VMAF minus the window's, bitrate ratio and spread ratio (sd short / sd whole)")
for L in shorts:
    have = [x for x, i in enumerate(ids) if glob.glob(f"{d}/w{i}.s{L}.json")]
    SV, SK = [], []
    for x in have:
        _, v, k = load(f"{d}/w{ids[x]}.s{L}.json", points)
        SV.append(v)
        SK.append(k)
    if len(have) < 3:
        continue
    cs = [corr([V[x][j] for x in have], col(SV, j)) for j in range(P)]
    bias = [st.mean(SV[y][j] - V[x][j] for y, x in enumerate(have)) for j in range(P)]
    rate = [st.mean(SK[y][j] - K[x][j] for y, x in enumerate(have)) for j in range(P)]
    sdr = [st.stdev(col(SV, j)) / max(st.stdev([V[x][j] for x in have]), 1e-9) for j in range(P)]
    print(f"  {L:>3} frames ({len(have)} windows): correlation {min(cs):.2f}-{max(cs):.2f}, "
          f"VMAF {st.mean(bias):+.2f} ({min(bias):+.1f} to {max(bias):+.1f}), "
          f"bitrate x{2 ** st.mean(rate):.2f}, spread x{min(sdr):.2f}-{max(sdr):.2f}")
