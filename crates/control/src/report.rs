//! Reports: a markdown comparison table and a hand-written SVG plot.

use std::fmt::Write;

use crate::eval::RunResult;

fn pct(v: f64, base: Option<f64>) -> String {
    match base {
        Some(b) if b.abs() > 1e-12 => format!(" ({:+.1}%)", (v - b) / b * 100.0),
        _ => String::new(),
    }
}

/// A markdown table, one row per controller (named as given), each metric with its %
/// change versus the fixed-time row (`FixedTime`, `fixed`, ...) when there is one.
pub fn markdown_table(rows: &[(String, RunResult)]) -> String {
    let base = rows.iter().find(|(n, _)| crate::policy::cli_name(n) == Some("fixed")).map(|(_, r)| r);
    let mut s = String::new();
    s.push_str(
        "| Controller | Avg travel time (s) | Throughput | Mean delay (s) | Stops/veh | Avg speed (m/s) | Delay index |\n",
    );
    s.push_str("|---|---|---|---|---|---|---|\n");
    for (name, r) in rows {
        let _ = writeln!(
            s,
            "| {name} | {:.2}{} | {}{} | {:.2}{} | {:.3}{} | {:.2}{} | {:.3}{} |",
            r.average_travel_time_s,
            pct(r.average_travel_time_s, base.map(|b| b.average_travel_time_s)),
            r.throughput,
            pct(r.throughput as f64, base.map(|b| b.throughput as f64)),
            r.mean_delay_s,
            pct(r.mean_delay_s, base.map(|b| b.mean_delay_s)),
            r.stops_per_vehicle,
            pct(r.stops_per_vehicle, base.map(|b| b.stops_per_vehicle)),
            r.average_speed_mps,
            pct(r.average_speed_mps, base.map(|b| b.average_speed_mps)),
            r.delay_index,
            pct(r.delay_index, base.map(|b| b.delay_index)),
        );
    }
    s
}

const COLORS: &[&str] = &["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf"];

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// Two stacked line charts (average travel time so far, and queued vehicles, over
/// time), one line per controller, as a standalone SVG document.
pub fn svg_plot(title: &str, rows: &[(String, RunResult)]) -> String {
    let (w, h, ml, mr, mt, gap, ph) = (760.0, 560.0, 70.0, 150.0, 40.0, 50.0, 210.0);
    let pw = w - ml - mr;
    let tmax = rows.iter().flat_map(|(_, r)| r.series.iter().map(|p| p.0)).fold(1.0, f64::max);
    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(s, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let _ = writeln!(s, r#"<text x="{}" y="22" font-size="15" text-anchor="middle">{}</text>"#, ml + pw / 2.0, escape(title));
    type Getter = fn(&(f64, f64, u64)) -> f64;
    let panels: [(&str, Getter); 2] = [("Average travel time (s)", |p| p.1), ("Queued vehicles", |p| p.2 as f64)];
    for (k, (label, get)) in panels.iter().enumerate() {
        let top = mt + k as f64 * (ph + gap);
        let vmax = rows.iter().flat_map(|(_, r)| r.series.iter().map(get)).fold(1.0, f64::max) * 1.05;
        let _ = writeln!(s, r##"<rect x="{ml}" y="{top}" width="{pw}" height="{ph}" fill="none" stroke="#444"/>"##);
        let _ = writeln!(
            s,
            r#"<text x="16" y="{}" transform="rotate(-90 16 {})" text-anchor="middle">{label}</text>"#,
            top + ph / 2.0,
            top + ph / 2.0
        );
        for tick in 0..=4 {
            let v = vmax * tick as f64 / 4.0;
            let y = top + ph - ph * tick as f64 / 4.0;
            let _ = writeln!(s, r##"<line x1="{ml}" y1="{y:.1}" x2="{}" y2="{y:.1}" stroke="#ddd"/>"##, ml + pw);
            let _ = writeln!(s, r#"<text x="{}" y="{:.1}" text-anchor="end">{v:.0}</text>"#, ml - 4.0, y + 4.0);
            let t = tmax * tick as f64 / 4.0;
            let x = ml + pw * tick as f64 / 4.0;
            let _ = writeln!(s, r#"<text x="{x:.1}" y="{}" text-anchor="middle">{t:.0} s</text>"#, top + ph + 15.0);
        }
        for (c, (name, r)) in rows.iter().enumerate() {
            let color = COLORS[c % COLORS.len()];
            let pts: Vec<String> =
                r.series.iter().map(|p| format!("{:.1},{:.1}", ml + pw * p.0 / tmax, top + ph - ph * get(p) / vmax)).collect();
            let _ = writeln!(s, r#"<polyline fill="none" stroke="{color}" stroke-width="1.6" points="{}"/>"#, pts.join(" "));
            if k == 0 {
                let y = mt + 14.0 + 18.0 * c as f64;
                let _ = writeln!(
                    s,
                    r#"<line x1="{}" y1="{y}" x2="{}" y2="{y}" stroke="{color}" stroke-width="3"/>"#,
                    ml + pw + 12.0,
                    ml + pw + 32.0
                );
                let _ = writeln!(s, r#"<text x="{}" y="{}">{}</text>"#, ml + pw + 38.0, y + 4.0, escape(name));
            }
        }
    }
    s.push_str("</svg>\n");
    s
}
