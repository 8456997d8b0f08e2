//! An SVG plot of a per-title decision, for content ops to open in a browser:
//! bitrate on a log axis against VMAF, one curve per probe size, the convex hull and
//! the chosen rungs. Plain SVG text, no scripts, no external resources.

use crate::choose::Decision;
use crate::hull::curves;

const W: f64 = 800.0;
const H: f64 = 520.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 170.0;
const TOP: f64 = 40.0;
const BOTTOM: f64 = 60.0;
const COLOURS: &[&str] = &[
    "#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22",
];

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The plot of `d` titled `title`.
pub fn plot_svg(d: &Decision, title: &str) -> String {
    let kbps = d
        .points
        .iter()
        .map(|p| p.kbps)
        .chain(d.rungs.iter().map(|r| r.rung.bitrate as f64 / 1000.0))
        .filter(|k| *k > 0.0);
    let (mut lo, mut hi) = kbps.fold((f64::MAX, f64::MIN), |(a, b), k| (a.min(k), b.max(k)));
    if lo > hi {
        (lo, hi) = (100.0, 10_000.0);
    }
    let (x0, x1) = (
        (lo.log10() - 0.05).floor_to(0.5),
        (hi.log10() + 0.05).ceil_to(0.5),
    );
    let q_lo = d
        .points
        .iter()
        .map(|p| p.vmaf)
        .fold(100.0f64, f64::min)
        .min(
            d.rungs
                .iter()
                .map(|r| r.predicted_vmaf)
                .fold(100.0, f64::min),
        );
    let (y0, y1) = (((q_lo - 5.0) / 10.0).floor().clamp(0.0, 9.0) * 10.0, 100.0);
    let px = |k: f64| LEFT + (k.log10() - x0) / (x1 - x0) * (W - LEFT - RIGHT);
    let py = |q: f64| TOP + (y1 - q.clamp(y0, y1)) / (y1 - y0) * (H - TOP - BOTTOM);

    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{W}\" height=\"{H}\" viewBox=\"0 0 {W} {H}\" font-family=\"sans-serif\" font-size=\"12\">\n\
         <rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n\
         <text x=\"{LEFT}\" y=\"24\" font-size=\"15\">{}</text>\n",
        esc(title)
    );
    // Axes and grid: decades and their 2x, 5x steps.
    let (bx0, bx1, by0, by1) = (LEFT, W - RIGHT, TOP, H - BOTTOM);
    s.push_str(&format!(
        "<rect x=\"{bx0}\" y=\"{by0}\" width=\"{}\" height=\"{}\" fill=\"none\" stroke=\"#333\"/>\n",
        bx1 - bx0,
        by1 - by0
    ));
    let mut decade = 10f64.powf(x0.floor());
    while decade <= 10f64.powf(x1) {
        for m in [1.0, 2.0, 5.0] {
            let k = decade * m;
            let l = k.log10();
            if l < x0 - 1e-9 || l > x1 + 1e-9 {
                continue;
            }
            let x = px(k);
            s.push_str(&format!(
                "<line x1=\"{x:.1}\" y1=\"{by0}\" x2=\"{x:.1}\" y2=\"{by1}\" stroke=\"#ddd\"/>\n\
                 <text x=\"{x:.1}\" y=\"{}\" text-anchor=\"middle\">{}</text>\n",
                by1 + 16.0,
                if k >= 1000.0 {
                    format!("{}M", k / 1000.0)
                } else {
                    format!("{k}k")
                }
            ));
        }
        decade *= 10.0;
    }
    let mut q = y0;
    while q <= y1 + 1e-9 {
        let y = py(q);
        s.push_str(&format!(
            "<line x1=\"{bx0}\" y1=\"{y:.1}\" x2=\"{bx1}\" y2=\"{y:.1}\" stroke=\"#ddd\"/>\n\
             <text x=\"{}\" y=\"{:.1}\" text-anchor=\"end\">{q}</text>\n",
            bx0 - 6.0,
            y + 4.0
        ));
        q += 10.0;
    }
    s.push_str(&format!(
        "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">bitrate (bit/s, log scale)</text>\n\
         <text x=\"18\" y=\"{}\" transform=\"rotate(-90 18 {})\" text-anchor=\"middle\">VMAF ({})</text>\n",
        (bx0 + bx1) / 2.0,
        H - 18.0,
        (by0 + by1) / 2.0,
        (by0 + by1) / 2.0,
        "vmaf_v0.6.1"
    ));
    // One curve per size.
    for (i, ((w, h), line)) in curves(&d.points).iter().enumerate() {
        let c = COLOURS[i % COLOURS.len()];
        let pts: Vec<String> = line
            .iter()
            .map(|(x, q)| format!("{:.1},{:.1}", px(x.exp2()), py(*q)))
            .collect();
        s.push_str(&format!(
            "<polyline points=\"{}\" fill=\"none\" stroke=\"{c}\" stroke-width=\"1.5\"/>\n",
            pts.join(" ")
        ));
        for p in &pts {
            let (x, y) = p.split_once(',').expect("formatted above");
            s.push_str(&format!(
                "<circle cx=\"{x}\" cy=\"{y}\" r=\"3\" fill=\"{c}\"/>\n"
            ));
        }
        let ly = TOP + 14.0 + 18.0 * i as f64;
        s.push_str(&format!(
            "<line x1=\"{}\" y1=\"{ly}\" x2=\"{}\" y2=\"{ly}\" stroke=\"{c}\" stroke-width=\"2\"/>\n\
             <text x=\"{}\" y=\"{}\">{w}x{h}</text>\n",
            bx1 + 12.0,
            bx1 + 34.0,
            bx1 + 40.0,
            ly + 4.0
        ));
    }
    let n = curves(&d.points).len() as f64;
    // The hull.
    let hull: Vec<String> = d
        .hull
        .iter()
        .map(|&i| format!("{:.1},{:.1}", px(d.points[i].kbps), py(d.points[i].vmaf)))
        .collect();
    s.push_str(&format!(
        "<polyline points=\"{}\" fill=\"none\" stroke=\"black\" stroke-width=\"2.5\" stroke-dasharray=\"6 4\"/>\n",
        hull.join(" ")
    ));
    let ly = TOP + 14.0 + 18.0 * n;
    s.push_str(&format!(
        "<line x1=\"{}\" y1=\"{ly}\" x2=\"{}\" y2=\"{ly}\" stroke=\"black\" stroke-width=\"2.5\" stroke-dasharray=\"6 4\"/>\n\
         <text x=\"{}\" y=\"{}\">convex hull</text>\n",
        bx1 + 12.0,
        bx1 + 34.0,
        bx1 + 40.0,
        ly + 4.0
    ));
    // The chosen rungs.
    for r in &d.rungs {
        let (x, y) = (px(r.rung.bitrate as f64 / 1000.0), py(r.predicted_vmaf));
        s.push_str(&format!(
            "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"9\" height=\"9\" fill=\"#d62728\"><title>{} predicted VMAF {:.1}</title></rect>\n\
             <text x=\"{:.1}\" y=\"{:.1}\" font-size=\"10\" fill=\"#d62728\">{}p</text>\n",
            x - 4.5,
            y - 4.5,
            esc(&r.rung.id),
            r.predicted_vmaf,
            x + 6.0,
            y + 14.0,
            r.rung.height
        ));
    }
    let ly = TOP + 14.0 + 18.0 * (n + 1.0);
    s.push_str(&format!(
        "<rect x=\"{}\" y=\"{}\" width=\"9\" height=\"9\" fill=\"#d62728\"/>\n\
         <text x=\"{}\" y=\"{}\">chosen rungs</text>\n</svg>\n",
        bx1 + 18.0,
        ly - 4.5,
        bx1 + 40.0,
        ly + 4.0
    ));
    s
}

trait Snap {
    fn floor_to(self, step: f64) -> f64;
    fn ceil_to(self, step: f64) -> f64;
}

impl Snap for f64 {
    fn floor_to(self, step: f64) -> f64 {
        (self / step).floor() * step
    }
    fn ceil_to(self, step: f64) -> f64 {
        (self / step).ceil() * step
    }
}
