"""Errors of reading VMAF between probes (see bench-interpolation.sh).

usage: bench-interpolation.py ANALYSIS.json...   (each probed at CRFs 22 25.5 29 32.5 36)

From each size's probes at 22, 29 and 36, predicts its VMAF at the bitrates measured at
25.5 and 32.5 along the straight line in (log2 kbit/s, VMAF) and along a monotone cubic
(Fritsch-Carlson, transcribed here from the published method, not from vodfarm's code),
and prints measured minus predicted for both; then the same for the CRF that gives
the halfway points' bitrates (what a capped-CRF rung is encoded at).
"""
import json
import math
import statistics
import sys

KNOWN, HALFWAY = (22.0, 29.0, 36.0), (25.5, 32.5)


def slopes(x, y):
    d = [(y[i + 1] - y[i]) / (x[i + 1] - x[i]) for i in range(len(x) - 1)]
    if len(x) == 2:
        return [d[0], d[0]]
    m = [0.0] * len(x)
    for i in range(1, len(x) - 1):
        if d[i - 1] * d[i] > 0:
            h0, h1 = x[i] - x[i - 1], x[i + 1] - x[i]
            w1, w2 = 2 * h1 + h0, h1 + 2 * h0
            m[i] = (w1 + w2) / (w1 / d[i - 1] + w2 / d[i])

    def end(h0, h1, d0, d1):
        s = ((2 * h0 + h1) * d0 - h0 * d1) / (h0 + h1)
        if s * d0 <= 0:
            return 0.0
        if d0 * d1 <= 0 and abs(s) > abs(3 * d0):
            return 3 * d0
        return s

    m[0] = end(x[1] - x[0], x[2] - x[1], d[0], d[1])
    m[-1] = end(x[-1] - x[-2], x[-2] - x[-3], d[-1], d[-2])
    return m


def segment(x, t):
    for i in range(len(x) - 1):
        if x[i] <= t <= x[i + 1]:
            return i
    return None


def line(x, y, t):
    i = segment(x, t)
    if i is None:
        return None
    return y[i] + (t - x[i]) / (x[i + 1] - x[i]) * (y[i + 1] - y[i])


def cubic(x, y, t):
    i = segment(x, t)
    if i is None:
        return None
    m, h = slopes(x, y), x[i + 1] - x[i]
    s = (t - x[i]) / h
    return ((2 * s**3 - 3 * s**2 + 1) * y[i] + (s**3 - 2 * s**2 + s) * h * m[i]
            + (-2 * s**3 + 3 * s**2) * y[i + 1] + (s**3 - s**2) * h * m[i + 1])


def main(files):
    errors = {"line": [], "cubic": []}
    crf_errors = {"line": [], "cubic": []}
    for f in files:
        points = json.load(open(f))["points"]
        for size in sorted({(p["width"], p["height"]) for p in points}):
            at = {p["crf"]: p for p in points if (p["width"], p["height"]) == size}
            if not all(c in at for c in KNOWN + HALFWAY):
                sys.exit(f"error: {f} lacks CRFs {KNOWN + HALFWAY} at {size}")
            known = sorted((at[c] for c in KNOWN), key=lambda p: p["kbps"])
            x = [math.log2(p["kbps"]) for p in known]
            y = [p["vmaf"] for p in known]
            crfs = [p["crf"] for p in known]
            if any(b <= a for a, b in zip(x, x[1:])):
                continue  # equal rates at two CRFs: nothing to read between
            for c in HALFWAY:
                t, v = math.log2(at[c]["kbps"]), at[c]["vmaf"]
                a, b = line(x, y, t), cubic(x, y, t)
                if a is None:
                    continue  # outside the three probes' rates
                errors["line"].append(v - a)
                errors["cubic"].append(v - b)
                crf_errors["line"].append(c - line(x, crfs, t))
                crf_errors["cubic"].append(c - cubic(x, crfs, t))
    n = len(errors["line"])
    if n == 0:
        sys.exit("error: no halfway point lies between its size's probes")
    print(f"{len(files)} windows, {n} halfway points; measured - predicted VMAF:")
    report(errors, n)
    print("probed - predicted CRF at the halfway points' bitrates:")
    report(crf_errors, n)


def report(errors, n):
    for name, e in errors.items():
        print(f"  {name:<6} mean {statistics.mean(e):+.2f}  mean |e| "
              f"{statistics.mean(map(abs, e)):.2f}  max |e| {max(map(abs, e)):.2f}  "
              f"within 1: {sum(abs(v) <= 1 for v in e)}/{n}")


if __name__ == "__main__":
    main(sys.argv[1:])
