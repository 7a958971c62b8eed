//! The run report: one self-contained HTML page (inline SVG, no network)
//! with the metric per round (pooled and per site), the privacy spent, the
//! accuracy-against-ε points when given, and the round log.

use crate::run::Status;
use std::fmt::Write;

/// One point of an accuracy-against-privacy sweep.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct PrivacyPoint {
    pub epsilon: f64,
    pub metric: f64,
    pub noise: f64,
}

const COLORS: [&str; 8] = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f"];

fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// A line chart of named series of (x, y) points.
fn chart(title: &str, xlabel: &str, ylabel: &str, series: &[(String, Vec<(f64, f64)>)], lines: bool) -> String {
    let (w, h, m) = (640.0, 320.0, 50.0);
    let pts: Vec<(f64, f64)> =
        series.iter().flat_map(|s| s.1.iter().copied()).filter(|p| p.0.is_finite() && p.1.is_finite()).collect();
    if pts.is_empty() {
        return String::new();
    }
    let (mut x0, mut x1) = (f64::MAX, f64::MIN);
    let (mut y0, mut y1) = (f64::MAX, f64::MIN);
    for (x, y) in &pts {
        x0 = x0.min(*x);
        x1 = x1.max(*x);
        y0 = y0.min(*y);
        y1 = y1.max(*y);
    }
    if x1 - x0 < 1e-12 {
        x1 = x0 + 1.0;
    }
    let pad = ((y1 - y0) * 0.1).max(0.01);
    y0 = (y0 - pad).max(0.0);
    y1 += pad;
    let sx = |x: f64| m + (x - x0) / (x1 - x0) * (w - 2.0 * m);
    let sy = |y: f64| h - m - (y - y0) / (y1 - y0) * (h - 2.0 * m);
    let mut s = format!("<h3>{}</h3><svg width=\"{w}\" height=\"{h}\" xmlns=\"http://www.w3.org/2000/svg\" style=\"font:12px sans-serif\">", esc(title));
    let _ = write!(
        s,
        "<rect x=\"{m}\" y=\"{m}\" width=\"{}\" height=\"{}\" fill=\"none\" stroke=\"#999\"/>",
        w - 2.0 * m,
        h - 2.0 * m
    );
    for i in 0..=4 {
        let y = y0 + (y1 - y0) * i as f64 / 4.0;
        let _ = write!(s, "<text x=\"{}\" y=\"{}\" text-anchor=\"end\">{y:.3}</text>", m - 4.0, sy(y) + 4.0);
        let x = x0 + (x1 - x0) * i as f64 / 4.0;
        let _ = write!(s, "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{x:.2}</text>", sx(x), h - m + 16.0);
    }
    let _ = write!(s, "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>", w / 2.0, h - 8.0, esc(xlabel));
    let _ = write!(
        s,
        "<text x=\"12\" y=\"{}\" transform=\"rotate(-90 12 {})\" text-anchor=\"middle\">{}</text>",
        h / 2.0,
        h / 2.0,
        esc(ylabel)
    );
    for (i, (name, p)) in series.iter().enumerate() {
        let c = COLORS[i % COLORS.len()];
        let path: Vec<String> = p.iter().map(|(x, y)| format!("{:.1},{:.1}", sx(*x), sy(*y))).collect();
        if lines && p.len() > 1 {
            let width = if i == 0 { 3 } else { 1 };
            let _ = write!(
                s,
                "<polyline fill=\"none\" stroke=\"{c}\" stroke-width=\"{width}\" points=\"{}\"/>",
                path.join(" ")
            );
        }
        for (x, y) in p {
            let _ = write!(s, "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"3\" fill=\"{c}\"/>", sx(*x), sy(*y));
        }
        let _ = write!(
            s,
            "<text x=\"{}\" y=\"{}\" fill=\"{c}\">{}</text>",
            w - m + 4.0 - 120.0,
            m + 14.0 + 14.0 * i as f64,
            esc(name)
        );
    }
    s.push_str("</svg>");
    s
}

pub fn html(st: &Status, privacy: &[PrivacyPoint], notes: &[String]) -> String {
    let mut out = String::new();
    let _ = write!(
        out,
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>agora fed: {}</title><style>body{{font-family:sans-serif;max-width:900px;margin:2em auto}}table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:2px 6px;font-size:13px}}</style></head><body>",
        esc(&st.run)
    );
    let _ = write!(
        out,
        "<h1>Federated run <code>{}</code></h1><p>Project: {} · dataset <b>{}</b> · model {} · strategy {} · SecAgg+ {} · {} of {} rounds · state: {}</p>",
        esc(&st.run),
        esc(st.project.as_deref().unwrap_or("(none)")),
        esc(&st.dataset),
        esc(&st.model),
        esc(&st.strategy),
        if st.secagg { "on" } else { "off" },
        st.round,
        st.rounds,
        esc(&st.state)
    );
    if let Some(e) = st.epsilon_spent {
        let _ = write!(out, "<p>Privacy spent on this dataset: ε = {e:.3}</p>");
    }
    let mut series: Vec<(String, Vec<(f64, f64)>)> = vec![(
        format!("pooled {}", st.metric),
        (0..=st.round).filter_map(|v| st.pooled(v).map(|m| (v as f64, m))).collect(),
    )];
    let mut sites: Vec<String> = st.evals.iter().map(|e| e.site.clone()).collect();
    sites.sort();
    sites.dedup();
    for s in &sites {
        series.push((
            s.clone(),
            st.evals.iter().filter(|e| &e.site == s).map(|e| (e.version as f64, e.metric)).collect(),
        ));
    }
    out.push_str(&chart(
        &format!("Test {} per round (model after round r)", st.metric),
        "round",
        &st.metric,
        &series,
        true,
    ));
    if !privacy.is_empty() {
        let pts = vec![(format!("pooled {}", st.metric), privacy.iter().map(|p| (p.epsilon, p.metric)).collect())];
        out.push_str(&chart(
            &format!("{} against ε (δ = 1e-5), distributed discrete Gaussian", st.metric),
            "ε",
            &st.metric,
            &pts,
            true,
        ));
        out.push_str("<table><tr><th>noise σ per site</th><th>ε</th><th>pooled metric</th></tr>");
        for p in privacy {
            let _ = write!(out, "<tr><td>{}</td><td>{:.3}</td><td>{:.3}</td></tr>", p.noise, p.epsilon, p.metric);
        }
        out.push_str("</table>");
    }
    out.push_str("<h3>Rounds</h3><table><tr><th>round</th><th>participants</th><th>dropped</th><th>excluded</th><th>pooled</th><th>ε</th><th>note</th></tr>");
    for r in &st.history {
        let _ = write!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            r.round,
            esc(&r.participants.join(", ")),
            esc(&r.dropped.join(", ")),
            esc(&r.excluded.iter().map(|(s, why)| format!("{s}: {why}")).collect::<Vec<_>>().join("; ")),
            st.pooled(r.round).map(|m| format!("{m:.3}")).unwrap_or_default(),
            r.epsilon.map(|e| format!("{e:.3}")).unwrap_or_default(),
            esc(r.abandoned.as_deref().unwrap_or(""))
        );
    }
    out.push_str("</table>");
    for n in notes {
        let _ = write!(out, "<p>{}</p>", esc(n));
    }
    out.push_str("</body></html>\n");
    out
}
