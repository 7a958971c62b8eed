//! Reports over a set of runs of one workload (one run per policy): a
//! terminal table, a JSON summary, a per-job CSV, and one self-contained HTML
//! page whose plots are inline SVG drawn here (no script, font or link to
//! fetch: it opens offline). Lines are downsampled to at most `MAX_POINTS`
//! points, so the page of a million-job run stays well under a few MB. Every
//! piece of text from the run goes through `esc` before it reaches HTML.

use crate::metrics::{steps, Dist, ShareWindow, Summary, SHARE_WINDOWS};
use crate::record::RunResult;
use agora_core::{human_duration, thousands};
use serde_json::{json, Value};
use std::borrow::Cow;
use std::fmt::Write as _;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// Most points drawn per line.
pub const MAX_POINTS: usize = 1000;

type Run = (RunResult, Summary);
type Cell = fn(&RunResult, &Summary) -> String;

/// The rows of the comparison table, one cell per policy.
const ROWS: &[(&str, Cell)] = &[
    ("jobs", |_, s| thousands(s.jobs as u64)),
    ("completed", |_, s| thousands(s.completed as u64)),
    ("timed out at limit", |_, s| thousands(s.timed_out as u64)),
    ("never started", |_, s| thousands(s.wait.censored as u64)),
    ("skipped rows", |r, _| thousands(r.skipped.total() as u64)),
    ("  bigger than machine", |r, _| thousands(r.skipped.too_big as u64)),
    ("utilization (offered window)", |_, s| pct(s.utilization)),
    ("  offered load", |_, s| pct(s.utilization_bound)),
    ("  busy during window", |_, s| pct(s.busy_in_window)),
    ("  hot spares", |_, s| pct(s.spare_fraction)),
    ("  of schedulable, whole run", |_, s| pct(s.utilization_schedulable)),
    ("goodput (whole run)", |_, s| pct(s.goodput)),
    ("JCT mean", |_, s| mean(&s.jct)),
    ("JCT p50", |_, s| pctl(&s.jct, s.jct.p50)),
    ("JCT p99", |_, s| pctl(&s.jct, s.jct.p99)),
    ("wait mean (censored incl.)", |_, s| mean(&s.wait)),
    ("wait p50", |_, s| pctl(&s.wait, s.wait.p50)),
    ("wait p99", |_, s| pctl(&s.wait, s.wait.p99)),
    ("Jain index", |_, s| format!("{:.3}", s.jain_index)),
    ("share error max", |_, s| pct(s.share_error_max)),
    ("fragmentation", |_, s| pct(s.fragmentation)),
    ("preemptions", |_, s| thousands(s.preemptions)),
    ("restarts", |_, s| thousands(s.restarts)),
    ("failures", |_, s| thousands(s.failures)),
    ("ETTR", |_, s| pct(s.ettr)),
    ("  lost work", |_, s| pct(s.ettr_loss.lost_work)),
    ("  restart overhead", |_, s| pct(s.ettr_loss.restart)),
    ("  checkpoint overhead", |_, s| pct(s.ettr_loss.checkpoint)),
    ("  grace-period idle", |_, s| pct(s.ettr_loss.grace)),
    ("  waiting for reallocation", |_, s| pct(s.ettr_loss.requeued_wait)),
    ("  per-job p10", |_, s| pct(s.ettr_job_p10)),
    ("scheduler (wall)", |_, s| seconds(s.sched_wall_s)),
    ("simulation CPU", |_, s| seconds(s.sim_cpu_s)),
    ("wall", |_, s| seconds(s.sim_wall_s)),
];

pub fn terminal(results: &[Run]) -> String {
    let Some((r, _)) = results.first() else { return "no runs\n".to_string() };
    let mut out = format!("{} on {}, seed {}\n", r.workload, r.cluster, r.seed);
    let skipped = r.skipped.describe();
    if !skipped.is_empty() {
        let _ = writeln!(out, "input rows: {}; {skipped}", thousands(r.rows as u64));
    }
    let _ = write!(out, "\n{}", text_table(&comparison(results)));
    if let Some((r, s)) = focus(results) {
        let _ = write!(out, "\nper programme ({}):\n{}", r.policy, text_table(&programme_rows(r, s)));
    }
    if r.tenants_by_job_id {
        let _ = writeln!(out, "\nnote: {BY_JOB_ID}");
    }
    let verdict = verdict(results);
    if !verdict.is_empty() {
        let _ = writeln!(out, "\nin short: {verdict}");
    }
    out
}

/// Said wherever fairness is shown for a trace without groups or users.
const BY_JOB_ID: &str =
    "this trace names no group or user, so its jobs were spread over the site's tenants by job id: \
     the fairness figures (Jain index, share error, delivered shares) are artificial";

/// The figures every group (a programme, a gang-size class) reports.
fn group_json(g: &crate::metrics::Group) -> Value {
    json!({
        "jobs": g.jobs,
        "completed": g.completed,
        "started": g.wait.n - g.wait.censored,
        "never_started": g.wait.censored,
        "wait_mean_s": g.wait.mean,
        "wait_p50_s": g.wait.p50,
        "wait_p99_s": g.wait.p99,
        "jct_mean_s": g.jct.mean,
        "jct_p99_s": g.jct.p99,
    })
}

pub fn json(results: &[Run]) -> Value {
    let runs = results.iter().map(|(r, s)| {
        let programmes: Vec<Value> = s
            .by_programme
            .iter()
            .zip(&r.programmes)
            .enumerate()
            .map(|(i, (g, p))| {
                let mut v = group_json(g);
                v["name"] = json!(g.name);
                v["share"] = json!(p.share);
                v["entitled_share"] = json!(s.entitled_share.get(i).copied().unwrap_or(0.0));
                v["delivered_share"] = json!(s.delivered_share.get(i).copied().unwrap_or(0.0));
                v
            })
            .collect();
        let size_classes: Vec<Value> = s
            .by_size
            .iter()
            .map(|g| {
                let mut v = group_json(g);
                v["class"] = json!(g.name);
                v["offered_accel_s"] = json!(g.offered_accel_s);
                v
            })
            .collect();
        let windows: Vec<Value> = s
            .share_windows
            .iter()
            .map(|w| json!({"start": w.start, "end": w.end, "delivered": w.delivered, "entitled": w.entitled}))
            .collect();
        let mut v = json!({
            "policy": r.policy,
            "workload": r.workload,
            "cluster": r.cluster,
            "seed": r.seed,
            "total_accels": r.total_accels,
            "jobs": s.jobs,
            "started": s.started,
            "completed": s.completed,
            "utilization": s.utilization,
            "utilization_bound": s.utilization_bound,
            "goodput": s.goodput,
            "jct_mean_s": s.jct.mean,
            "jct_p50_s": s.jct.p50,
            "jct_p99_s": s.jct.p99,
            "wait_mean_s": s.wait.mean,
            "wait_p50_s": s.wait.p50,
            "wait_p99_s": s.wait.p99,
            "jain_index": s.jain_index,
            "share_error_max": s.share_error_max,
            "fragmentation": s.fragmentation,
            "preemptions": s.preemptions,
            "requeues": s.requeues,
            "restarts": s.restarts,
            "node_replacements": s.node_replacements,
            "failures": s.failures,
            "ettr": s.ettr,
            "ettr_job_mean": s.ettr_job_mean,
            "ettr_job_p10": s.ettr_job_p10,
            "sched_wall_s": s.sched_wall_s,
            "sim_wall_s": s.sim_wall_s,
            "cycles": r.stats.cycles,
            "jobs_examined": r.stats.jobs_examined,
            "plans": r.stats.plans,
            "plan_steps": r.stats.plan_steps,
            "programmes": programmes,
            "size_classes": size_classes,
            "share_windows": windows,
        });
        let (w0, w1) = crate::metrics::offered_window(r);
        let more = json!({
            "rows": r.rows,
            "skipped_rows": skipped_json(&r.skipped),
            "timed_out": s.timed_out,
            "never_started": s.wait.censored,
            "offered_load": s.utilization_bound,
            "offered_window": {"start": w0, "end": w1},
            "spare_accels": r.spare_accels,
            "spare_fraction": s.spare_fraction,
            "utilization_schedulable": s.utilization_schedulable,
            "busy_in_window": s.busy_in_window,
            "ettr_loss": ettr_loss_json(&s.ettr_loss),
            "sim_cpu_s": s.sim_cpu_s,
            "version": env!("CARGO_PKG_VERSION"),
        });
        if let (Some(a), Some(o)) = (r.audit, v.as_object_mut()) {
            o.insert("decision_digest".into(), json!(format!("{:016x}", a.decisions.0)));
            o.insert("reason_digest".into(), json!(format!("{:016x}", a.reasons.0)));
        }
        if let (Some(o), Value::Object(m)) = (v.as_object_mut(), more) {
            o.extend(m);
        }
        v
    });
    Value::Array(runs.collect())
}

fn ettr_loss_json(l: &crate::metrics::EttrLoss) -> Value {
    Value::Object(l.terms().iter().map(|(k, _, v)| (k.to_string(), json!(v))).collect())
}

/// `{"total": n, "malformed": n, ...}`: every reason, zeros included.
fn skipped_json(s: &crate::trace::Skipped) -> Value {
    let mut v = serde_json::Map::new();
    v.insert("total".into(), json!(s.total()));
    for (key, _, n) in s.entries() {
        v.insert(key.into(), json!(n));
    }
    Value::Object(v)
}

/// One row per job; empty cells for what did not happen.
pub fn jobs_csv(r: &RunResult, w: &mut impl Write) -> io::Result<()> {
    writeln!(
        w,
        "id,programme,tenant,accels,submit,first_start,end,timed_out,wait,jct,work,lost,restart,checkpoint,grace,ran,\
         restarts,preemptions,node_replacements,recorded_wait"
    )?;
    let opt = |v: Option<u64>| v.map(|x| x.to_string()).unwrap_or_default();
    for j in &r.jobs {
        let programme = r.programmes.get(j.programme).map_or("", |p| p.name.as_str());
        writeln!(
            w,
            "{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}",
            j.id,
            csv(programme),
            csv(&j.tenant),
            j.accels,
            j.submit,
            opt(j.first_start),
            opt(j.end),
            u8::from(j.timed_out),
            opt(j.wait()),
            opt(j.jct()),
            j.work,
            j.lost,
            j.restart_s,
            j.checkpoint_s,
            j.grace_s,
            j.ran_s,
            j.restarts,
            j.preemptions,
            j.node_replacements,
            opt(j.recorded_wait),
        )?;
    }
    Ok(())
}

/// The run's context in one line: site, machine, spares, seed, version.
fn context(r: &RunResult) -> String {
    let site = if r.site.is_empty() { "the example gigafactory (built in)" } else { r.site.as_str() };
    format!(
        "Site: {site}; machine: {} with {} accelerators ({} held as hot spares); seed {}; agora {}",
        r.cluster,
        thousands(r.total_accels),
        thousands(r.spare_accels),
        r.seed,
        env!("CARGO_PKG_VERSION")
    )
}

/// Which policy is best on which headline figure, in words.
pub fn verdict(results: &[Run]) -> String {
    if results.len() < 2 {
        return String::new();
    }
    type Fig = fn(&Summary) -> f64;
    type Show = fn(f64) -> String;
    // (figure, value, lower is better, shown as). Utilization is left out:
    // every policy serves the same work, so a higher figure there mostly
    // means more work thrown away.
    let figures: [(&str, Fig, bool, Show); 6] = [
        ("mean wait", |s| s.wait.mean, true, |v| human_duration(v.round() as u64)),
        ("p99 wait", |s| s.wait.p99 as f64, true, |v| human_duration(v as u64)),
        ("mean JCT", |s| s.jct.mean, true, |v| human_duration(v.round() as u64)),
        ("ETTR", |s| s.ettr, false, pct),
        ("share error", |s| s.share_error_max, true, pct),
        ("Jain index", |s| s.jain_index, false, |v| format!("{v:.3}")),
    ];
    let mut parts = Vec::new();
    for (name, f, lower, show) in figures {
        let key = |run: &&Run| if lower { -f(&run.1) } else { f(&run.1) };
        let Some(best) = results.iter().max_by(|a, b| key(a).total_cmp(&key(b))) else { continue };
        let value = f(&best.1);
        // Ties as shown: a difference too small to print is no difference.
        let tied: Vec<&str> =
            results.iter().filter(|r| show(f(&r.1)) == show(value)).map(|r| r.0.policy.as_str()).collect();
        if tied.len() == results.len() {
            parts.push(format!("all policies tie on {name} ({})", show(value)));
        } else {
            let names = match tied.split_last() {
                Some((last, rest)) if !rest.is_empty() => format!("{} and {last}", rest.join(", ")),
                _ => tied.join(""),
            };
            parts.push(format!("{names} best on {name} ({})", show(value)));
        }
    }
    format!("{}.", parts.join("; "))
}

pub fn html(results: &[Run]) -> String {
    let title = match results.first() {
        Some((r, _)) => format!("Agora simulation: {} on {}, seed {}", r.workload, r.cluster, r.seed),
        None => "Agora simulation: no runs".to_string(),
    };
    let mut out = format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{t}</title>\n\
         <style>{STYLE}</style></head><body>\n<h1>{t}</h1>\n",
        t = esc(&title),
    );
    if let Some((r, _)) = results.first() {
        let _ = writeln!(out, "<p class=\"context\">{}</p>", esc(&context(r)));
        let skipped = r.skipped.describe();
        if !skipped.is_empty() {
            let _ =
                writeln!(out, "<p class=\"context\">input rows: {}; {}</p>", thousands(r.rows as u64), esc(&skipped));
        }
    }
    let verdict = verdict(results);
    if !verdict.is_empty() {
        let _ = writeln!(out, "<p class=\"verdict\"><b>In short:</b> {}</p>", esc(&verdict));
    }
    let _ = write!(out, "<h2>Comparison</h2>\n{}", html_table(&comparison(results)));
    let by_job_id = results.first().is_some_and(|(r, _)| r.tenants_by_job_id);
    let fairness_note = if by_job_id { format!("<p class=\"warn\">{}</p>\n", esc(BY_JOB_ID)) } else { String::new() };
    let sections: Vec<(String, String, String)> = vec![
        (
            "Utilization over time, per policy (shaded: the offered window, first to last arrival)".into(),
            utilization_plots(results),
            String::new(),
        ),
        (
            "Wait-time CDF per policy (never-started jobs at their censored wait)".into(),
            cdf_plot(results, Measure::Wait),
            String::new(),
        ),
        ("Job completion time CDF per policy".into(), cdf_plot(results, Measure::Jct), String::new()),
        (
            "Mean wait per programme, per policy".into(),
            group_bars(results, GroupBy::Programme, Measure::Wait),
            fairness_note.clone(),
        ),
        (
            "Mean JCT per programme, per policy".into(),
            group_bars(results, GroupBy::Programme, Measure::Jct),
            String::new(),
        ),
        (
            "Mean wait per gang size, per policy".into(),
            group_bars(results, GroupBy::Size, Measure::Wait),
            String::new(),
        ),
        ("Mean JCT per gang size, per policy".into(), group_bars(results, GroupBy::Size, Measure::Jct), String::new()),
        (
            format!(
                "Delivered share (thin line) against fair entitlement (wide band) ({})",
                focus(results).map_or("", |(r, _)| r.policy.as_str())
            ),
            share_plot(focus(results)),
            fairness_note,
        ),
        ("Gang-size mix".into(), size_mix_plot(focus(results)), String::new()),
    ];
    for (k, (heading, svg, note)) in sections.into_iter().enumerate() {
        let _ = write!(out, "<h2 id=\"plot{k}\">{}</h2>\n{note}{svg}\n", esc(&heading));
    }
    if let Some((r, s)) = focus(results) {
        let _ = write!(out, "<h2>Per programme ({})</h2>\n{}", esc(&r.policy), html_table(&programme_rows(r, s)));
    }
    let _ = write!(
        out,
        "<p class=\"note\">Utilization is the accelerator time delivered over all accelerators (spares included) \
         during the offered window, first to last arrival; the offered load is its bound. Plots over time show the \
         schedulable part. Percentiles are nearest-rank. Waits count every job; a job never started counts up to the \
         end of the run (censored). Share error is the largest gap, over {SHARE_WINDOWS} windows \
         of the run and over programmes, between delivered share and the fair share: the site divided down the \
         entitlement tree by weight, no programme counted for more than it asked (held plus queued) nor, while \
         others want more, past its borrowing limit; what a programme leaves goes first to its funder's other \
         programmes. \
         ETTR is work over the time from first start to completion (Llama 3's definition), broken down into \
         lost work, restarts, checkpoints, grace periods and waiting for reallocation. \
         Scheduler time is wall time. Waits under 1 s are drawn at 1 s.</p>\n</body></html>\n"
    );
    out
}

/// Creates `dir` if needed and checks that a file can be written there.
pub fn check_writable(dir: &Path) -> io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let probe = dir.join(format!(".agora-write-check-{}", std::process::id()));
    std::fs::write(&probe, b"")?;
    std::fs::remove_file(&probe)
}

/// Writes `summary.json` and `report.html` into `dir`, and with `csv` a
/// `jobs-<policy>.csv` per run. Per-job CSVs of earlier runs are removed, so
/// that the directory describes this run only.
pub fn write_all(dir: &Path, results: &[Run], csv: bool) -> io::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir)?;
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if name.starts_with("jobs-") && name.ends_with(".csv") {
            std::fs::remove_file(&path)?;
        }
    }
    let summary = dir.join("summary.json");
    std::fs::write(&summary, serde_json::to_string_pretty(&json(results))? + "\n")?;
    let report = dir.join("report.html");
    std::fs::write(&report, html(results))?;
    let mut paths = vec![summary, report];
    for (r, _) in results.iter().filter(|_| csv) {
        let safe: String =
            r.policy.chars().map(|c| if c.is_ascii_alphanumeric() || "-_.".contains(c) { c } else { '_' }).collect();
        let path = dir.join(format!("jobs-{safe}.csv"));
        let mut w = io::BufWriter::new(std::fs::File::create(&path)?);
        jobs_csv(r, &mut w)?;
        w.flush()?;
        paths.push(path);
    }
    Ok(paths)
}

/// The policy the detailed views are about: `agora` if present, else the first.
fn focus(results: &[Run]) -> Option<&Run> {
    results.iter().find(|(r, _)| r.policy == "agora").or(results.first())
}

fn comparison(results: &[Run]) -> Vec<Vec<String>> {
    let header = std::iter::once(String::new()).chain(results.iter().map(|(r, _)| r.policy.clone()));
    let mut rows = vec![header.collect::<Vec<_>>()];
    for (label, cell) in ROWS {
        rows.push(std::iter::once(label.to_string()).chain(results.iter().map(|(r, s)| cell(r, s))).collect());
    }
    rows
}

fn programme_rows(r: &RunResult, s: &Summary) -> Vec<Vec<String>> {
    let header =
        ["programme", "share", "delivered", "jobs", "started", "wait mean", "wait p50", "wait p99", "JCT mean"];
    let mut rows = vec![header.map(String::from).to_vec()];
    for (i, g) in s.by_programme.iter().enumerate() {
        rows.push(vec![
            g.name.clone(),
            pct(r.programmes.get(i).map_or(0.0, |p| p.share)),
            pct(s.delivered_share.get(i).copied().unwrap_or(0.0)),
            thousands(g.jobs as u64),
            thousands((g.wait.n - g.wait.censored) as u64),
            mean(&g.wait),
            pctl(&g.wait, g.wait.p50),
            pctl(&g.wait, g.wait.p99),
            mean(&g.jct),
        ]);
    }
    rows
}

fn pct(x: f64) -> String {
    format!("{:.1}%", x * 100.0)
}

fn mean(d: &Dist) -> String {
    if d.n == 0 {
        "-".into()
    } else {
        human_duration(d.mean.round() as u64)
    }
}

fn pctl(d: &Dist, v: u64) -> String {
    if d.n == 0 {
        "-".into()
    } else {
        human_duration(v)
    }
}

fn seconds(s: f64) -> String {
    if s < 60.0 {
        format!("{s:.2}s")
    } else {
        human_duration(s.round() as u64)
    }
}

/// First column left-aligned, the others right-aligned.
fn text_table(rows: &[Vec<String>]) -> String {
    let ncol = rows.iter().map(Vec::len).max().unwrap_or(0);
    let width = |c: usize| rows.iter().filter_map(|r| r.get(c)).map(|s| s.chars().count()).max().unwrap_or(0);
    let widths: Vec<usize> = (0..ncol).map(width).collect();
    let mut out = String::new();
    for row in rows {
        let mut line = String::new();
        for (c, cell) in row.iter().enumerate() {
            let _ = match c {
                0 => write!(line, "{cell:<w$}", w = widths[0]),
                _ => write!(line, "  {cell:>w$}", w = widths[c]),
            };
        }
        out += line.trim_end();
        out.push('\n');
    }
    out
}

fn html_table(rows: &[Vec<String>]) -> String {
    let mut out = String::from("<table>\n");
    for (i, row) in rows.iter().enumerate() {
        out += "<tr>";
        for (c, cell) in row.iter().enumerate() {
            let tag = if i == 0 || c == 0 { "th" } else { "td" };
            // Indented labels are parts of the row above: keep them so.
            let text = cell.trim_start();
            let indent = cell.len() - text.len();
            let style = if indent > 0 {
                format!(" style=\"padding-left:{}em;font-weight:normal\"", 0.6 + 0.5 * indent as f64)
            } else {
                String::new()
            };
            let _ = write!(out, "<{tag}{style}>{}</{tag}>", esc(text));
        }
        out += "</tr>\n";
    }
    out + "</table>\n"
}

/// Text made safe for HTML and SVG, in content and in quoted attributes.
pub fn esc(s: &str) -> Cow<'_, str> {
    if !s.contains(['&', '<', '>', '"', '\'']) {
        return s.into();
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '&' => out += "&amp;",
            '<' => out += "&lt;",
            '>' => out += "&gt;",
            '"' => out += "&quot;",
            '\'' => out += "&#39;",
            _ => out.push(c),
        }
    }
    out.into()
}

fn csv(s: &str) -> Cow<'_, str> {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\"")).into()
    } else {
        s.into()
    }
}

// ---- Plots ----

const STYLE: &str = "body{font:14px/1.4 system-ui,sans-serif;margin:2em auto;max-width:1000px;color:#222}\
table{border-collapse:collapse;margin:1em 0}th,td{padding:2px 10px;border-bottom:1px solid #ddd}\
td{text-align:right;font-variant-numeric:tabular-nums}th{text-align:left}\
svg{display:block;margin:0.5em 0}svg text{font:11px sans-serif;fill:#333}.note{color:#666;font-size:12px}\
.context{color:#444;margin:0.2em 0}.verdict{background:#f4f8ff;border-left:4px solid #1f77b4;padding:0.5em 1em}\
.warn{background:#fff6e5;border-left:4px solid #ff7f0e;padding:0.3em 1em;font-size:13px}";

const COLOURS: &[&str] =
    &["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"];

fn colour(i: usize) -> &'static str {
    COLOURS[i % COLOURS.len()]
}

/// Plot size and margins, in SVG user units (the legend sits in the right margin).
const W: f64 = 820.0;
const H: f64 = 300.0;
const LEFT: f64 = 60.0;
const RIGHT: f64 = 230.0;
const TOP: f64 = 12.0;
const BOTTOM: f64 = 42.0;

struct Axis {
    lo: f64,
    hi: f64,
    log: bool,
    label: String,
    ticks: Vec<(f64, String)>,
}

impl Axis {
    /// From 0 to `max` rounded up to a tick, with about five round ticks.
    fn linear(max: f64, label: &str, fmt: impl Fn(f64) -> String) -> Axis {
        let max = if max > 0.0 && max.is_finite() { max } else { 1.0 };
        let raw = max / 5.0;
        let mag = 10f64.powf(raw.log10().floor());
        let step = [1.0, 2.0, 5.0, 10.0].into_iter().map(|m| m * mag).find(|&s| s >= raw * (1.0 - 1e-9));
        let step = step.unwrap_or(10.0 * mag);
        let n = (max / step - 1e-9).ceil().max(1.0) as usize;
        let ticks = (0..=n).map(|k| k as f64 * step).map(|v| (v, fmt(v))).collect();
        Axis { lo: 0.0, hi: n as f64 * step, log: false, label: label.into(), ticks }
    }

    /// A fraction from 0 to `hi`, labelled in percent.
    fn fraction(hi: f64, label: &str) -> Axis {
        Axis::linear(hi, label, |v| format!("{}%", round(v * 100.0)))
    }

    /// Time since the start of the run, in hours or days, for spans of `span` seconds.
    /// The axis ends where the run ends, not at the next round tick.
    fn time(span: f64) -> (Axis, f64) {
        let (unit, name) = if span <= 2.0 * 86_400.0 { (3600.0, "hours") } else { (86_400.0, "days") };
        let mut axis = Axis::linear(span / unit, &format!("{name} since the first arrival"), |v| round(v).to_string());
        let end = (span / unit).max(1e-9);
        axis.ticks.retain(|t| t.0 <= end * (1.0 + 1e-9));
        axis.hi = end;
        (axis, unit)
    }

    /// Log-scale durations from 1 s to at least `max` seconds, ticked at round durations.
    fn duration(max: f64, label: &str) -> Axis {
        const TICKS: &[(f64, &str)] = &[
            (1.0, "1s"),
            (10.0, "10s"),
            (60.0, "1m"),
            (600.0, "10m"),
            (3600.0, "1h"),
            (86_400.0, "1d"),
            (864_000.0, "10d"),
            (8_640_000.0, "100d"),
        ];
        let hi = TICKS.iter().map(|t| t.0).find(|&t| t >= max.max(10.0)).unwrap_or(max);
        let ticks = TICKS.iter().filter(|t| t.0 <= hi).map(|&(v, l)| (v, l.to_string())).collect();
        Axis { lo: 1.0, hi, log: true, label: label.into(), ticks }
    }

    /// Position of `v` along the axis, 0 to 1.
    fn at(&self, v: f64) -> f64 {
        let f = |x: f64| if self.log { x.max(self.lo).ln() } else { x };
        let (lo, hi) = (f(self.lo), f(self.hi));
        if hi > lo {
            ((f(v) - lo) / (hi - lo)).clamp(0.0, 1.0)
        } else {
            0.0
        }
    }
}

/// Shortest decimal form of `v` to six places ("2", "0.25").
fn round(v: f64) -> f64 {
    (v * 1e6).round() / 1e6
}

struct Chart {
    x: Axis,
    y: Axis,
    /// Height in SVG user units (small multiples are shorter).
    h: f64,
    body: String,
    legend: Vec<(String, &'static str, Mark)>,
}

#[derive(Clone, Copy)]
enum Mark {
    Line,
    /// A wide pale line (see `Chart::band`).
    Band,
    Bar,
}

impl Chart {
    fn new(x: Axis, y: Axis) -> Chart {
        Chart { x, y, h: H, body: String::new(), legend: Vec::new() }
    }

    fn px(&self, x: f64) -> f64 {
        LEFT + self.x.at(x) * (W - LEFT - RIGHT)
    }

    fn py(&self, y: f64) -> f64 {
        self.h - BOTTOM - self.y.at(y) * (self.h - TOP - BOTTOM)
    }

    fn line(&mut self, points: impl IntoIterator<Item = (f64, f64)>, colour: &str, mark: Mark) {
        let (mut pts, mut last) = (String::new(), String::new());
        for (x, y) in points {
            let p = format!("{:.1},{:.1} ", self.px(x), self.py(y));
            if p != last {
                pts += &p;
                last = p;
            }
        }
        let dash = if matches!(mark, Mark::Band) { " stroke-width=\"7\" stroke-opacity=\"0.25\"" } else { "" };
        let _ = writeln!(
            self.body,
            "<polyline fill=\"none\" stroke=\"{colour}\" stroke-width=\"1.5\"{dash} points=\"{}\"/>",
            pts.trim_end()
        );
    }

    /// A pale background over `[x0, x1]`: a span of interest.
    fn shade(&mut self, x0: f64, x1: f64) {
        let (left, right, top, base) = (self.px(x0), self.px(x1), self.py(self.y.hi), self.py(self.y.lo));
        let _ = writeln!(
            self.body,
            "<rect x=\"{left:.1}\" y=\"{top:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"#f0f0f0\"/>",
            right - left,
            base - top
        );
    }

    /// A wide, pale line: an entitlement behind the delivered share.
    fn band(&mut self, points: impl IntoIterator<Item = (f64, f64)>, colour: &str) {
        let pts: Vec<String> =
            points.into_iter().map(|(x, y)| format!("{:.1},{:.1}", self.px(x), self.py(y))).collect();
        let _ = writeln!(
            self.body,
            "<polyline fill=\"none\" stroke=\"{colour}\" stroke-opacity=\"0.25\" stroke-width=\"7\" points=\"{}\"/>",
            pts.join(" ")
        );
    }

    fn bar(&mut self, x0: f64, x1: f64, y: f64, colour: &str) {
        let (left, right, top, base) = (self.px(x0), self.px(x1), self.py(y), self.py(self.y.lo));
        let _ = writeln!(
            self.body,
            "<rect x=\"{left:.1}\" y=\"{top:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"{colour}\"/>",
            right - left,
            base - top
        );
    }

    fn key(&mut self, name: &str, colour: &'static str, mark: Mark) {
        self.legend.push((name.to_string(), colour, mark));
    }

    fn svg(self, title: &str) -> String {
        let h = self.h;
        let (x0, x1, y0, y1) = (LEFT, W - RIGHT, h - BOTTOM, TOP);
        let mut s = format!(
            "<svg viewBox=\"0 0 {W} {h}\" width=\"{W}\" height=\"{h}\" role=\"img\">\n<title>{}</title>\n",
            esc(title)
        );
        for (v, label) in &self.y.ticks {
            let y = self.py(*v);
            let _ = writeln!(
                s,
                "<line x1=\"{x0}\" x2=\"{x1}\" y1=\"{y:.1}\" y2=\"{y:.1}\" stroke=\"#eee\"/>\
                 <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
                x0 - 5.0,
                y + 4.0,
                esc(label)
            );
        }
        for (v, label) in &self.x.ticks {
            let x = self.px(*v);
            let _ = writeln!(
                s,
                "<line x1=\"{x:.1}\" x2=\"{x:.1}\" y1=\"{y0}\" y2=\"{:.1}\" stroke=\"#333\"/>\
                 <text x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
                y0 + 4.0,
                y0 + 16.0,
                esc(label)
            );
        }
        let _ = writeln!(
            s,
            "<path d=\"M{x0},{y1}V{y0}H{x1}\" fill=\"none\" stroke=\"#333\"/>\n\
             <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>\n\
             <text transform=\"translate(14 {:.1}) rotate(-90)\" text-anchor=\"middle\">{}</text>",
            (x0 + x1) / 2.0,
            h - 6.0,
            esc(&self.x.label),
            (y0 + y1) / 2.0,
            esc(&self.y.label)
        );
        s += &self.body;
        for (i, (name, colour, mark)) in self.legend.iter().enumerate() {
            let (lx, ly) = (x1 + 14.0, TOP + 10.0 + 16.0 * i as f64);
            let _ = match mark {
                Mark::Bar => {
                    write!(s, "<rect x=\"{lx}\" y=\"{:.1}\" width=\"18\" height=\"8\" fill=\"{colour}\"/>", ly - 4.0)
                }
                Mark::Line | Mark::Band => write!(
                    s,
                    "<line x1=\"{lx}\" x2=\"{:.1}\" y1=\"{ly}\" y2=\"{ly}\" stroke=\"{colour}\" stroke-width=\"{}\"/>",
                    lx + 18.0,
                    if matches!(mark, Mark::Band) { "7\" stroke-opacity=\"0.25" } else { "2" }
                ),
            };
            let _ = writeln!(s, "<text x=\"{:.1}\" y=\"{:.1}\">{}</text>", lx + 24.0, ly + 4.0, esc(name));
        }
        s + "</svg>"
    }
}

/// At most `MAX_POINTS` indices spread evenly over `0..n`, first and last included.
fn pick(n: usize) -> impl Iterator<Item = usize> {
    let m = n.min(MAX_POINTS);
    (0..m).map(move |k| if m > 1 { k * (n - 1) / (m - 1) } else { 0 })
}

/// One short utilization chart per policy on the same time axis (six
/// lines on one chart hide each other).
fn utilization_plots(results: &[Run]) -> String {
    let span = results.iter().map(|(r, _)| r.horizon.saturating_sub(r.start)).max().unwrap_or(0);
    let mut out = String::new();
    for (i, (r, s)) in results.iter().enumerate() {
        let (x, unit) = Axis::time(span as f64);
        let mut chart = Chart::new(x, Axis::fraction(1.0, "used"));
        chart.h = 130.0;
        // The offered window (first to last arrival), over which utilization is measured.
        let (w0, w1) = crate::metrics::offered_window(r);
        chart.shade(w0.saturating_sub(r.start) as f64 / unit, w1.saturating_sub(r.start) as f64 / unit);
        // Average consecutive samples in buckets, time-weighted (a zero-length
        // last step still counts for one second, so the line does not drop).
        let all: Vec<_> = steps(r).collect();
        let per = all.len().div_ceil(MAX_POINTS).max(1);
        let points = all.chunks(per).map(|c| {
            let (used, cap) = c.iter().fold((0.0, 0.0), |(u, k), (s, dt)| {
                let dt = (*dt).max(1) as f64;
                (u + s.used as f64 * dt, k + s.capacity as f64 * dt)
            });
            let x = c[0].0.t.saturating_sub(r.start) as f64 / unit;
            (x, if cap > 0.0 { used / cap } else { 0.0 })
        });
        chart.line(points, colour(i), Mark::Line);
        chart.key(&format!("{} ({})", r.policy, pct(s.utilization)), colour(i), Mark::Line);
        out += &chart.svg(&format!("utilization of schedulable accelerators over time, {}", r.policy));
        out.push('\n');
    }
    if results.is_empty() {
        let (x, _) = Axis::time(0.0);
        out += &Chart::new(x, Axis::fraction(1.0, "used")).svg("utilization over time");
    }
    out
}

#[derive(Clone, Copy)]
enum Measure {
    Wait,
    Jct,
}

impl Measure {
    fn of(self, r: &RunResult, j: &crate::record::JobRecord) -> Option<u64> {
        match self {
            Measure::Wait => Some(j.wait_or_censored(r.horizon).0),
            Measure::Jct => j.jct(),
        }
    }

    fn mean(self, g: &crate::metrics::Group) -> f64 {
        match self {
            Measure::Wait => g.wait.mean,
            Measure::Jct => g.jct.mean,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Measure::Wait => "wait",
            Measure::Jct => "job completion time",
        }
    }
}

/// The distribution of waits or JCTs, one line per policy.
fn cdf_plot(results: &[Run], m: Measure) -> String {
    let values: Vec<Vec<u64>> = results
        .iter()
        .map(|(r, _)| {
            let mut v: Vec<u64> = r.jobs.iter().filter_map(|j| m.of(r, j)).collect();
            v.sort_unstable();
            v
        })
        .collect();
    let max = values.iter().filter_map(|v| v.last()).max().copied().unwrap_or(0);
    let y_label = match m {
        Measure::Wait => "all jobs",
        Measure::Jct => "completed jobs",
    };
    let mut chart =
        Chart::new(Axis::duration(max as f64, &format!("{} (log scale)", m.name())), Axis::fraction(1.0, y_label));
    for (i, ((r, _), v)) in results.iter().zip(&values).enumerate() {
        if v.is_empty() {
            continue;
        }
        let n = v.len();
        let points: Vec<_> = pick(n).map(|k| ((v[k].max(1)) as f64, (k + 1) as f64 / n as f64)).collect();
        chart.line(points, colour(i), Mark::Line);
        chart.key(&r.policy, colour(i), Mark::Line);
    }
    chart.svg(&format!("{} CDF per policy", m.name()))
}

#[derive(Clone, Copy)]
enum GroupBy {
    Programme,
    Size,
}

/// Mean wait or JCT per programme or gang-size class: a group of bars per
/// slice, one bar per policy, on a log scale.
fn group_bars(results: &[Run], by: GroupBy, m: Measure) -> String {
    let groups = |s: &Summary| -> Vec<crate::metrics::Group> {
        match by {
            GroupBy::Programme => s.by_programme.clone(),
            GroupBy::Size => s.by_size.clone(),
        }
    };
    let names: Vec<String> =
        results.first().map_or(Vec::new(), |(_, s)| groups(s).iter().map(|g| g.name.clone()).collect());
    let short = |n: &str| -> String {
        let last = n.rsplit('/').next().unwrap_or(n);
        if last.chars().count() > 14 {
            format!("{}…", last.chars().take(13).collect::<String>())
        } else {
            last.to_owned()
        }
    };
    let values: Vec<Vec<f64>> = results.iter().map(|(_, s)| groups(s).iter().map(|g| m.mean(g)).collect()).collect();
    let max = values.iter().flatten().copied().fold(0.0, f64::max);
    let x = Axis {
        lo: 0.0,
        hi: names.len().max(1) as f64,
        log: false,
        label: match by {
            GroupBy::Programme => "programme".into(),
            GroupBy::Size => "gang size (accelerators)".into(),
        },
        ticks: names.iter().enumerate().map(|(k, n)| (k as f64 + 0.5, short(n))).collect(),
    };
    let short_name = match m {
        Measure::Wait => "wait",
        Measure::Jct => "JCT",
    };
    let mut chart = Chart::new(x, Axis::duration(max, &format!("mean {short_name} (log)")));
    let n = results.len().max(1) as f64;
    for (i, ((r, _), v)) in results.iter().zip(&values).enumerate() {
        for (g, &y) in v.iter().enumerate() {
            let x0 = g as f64 + 0.1 + 0.8 * i as f64 / n;
            chart.bar(x0, x0 + 0.8 / n, y.max(1.0), colour(i));
        }
        chart.key(&r.policy, colour(i), Mark::Bar);
    }
    chart.svg(&format!("mean {} per group and policy", m.name()))
}

fn share_plot(run: Option<&Run>) -> String {
    let span = run.map_or(0, |(r, _)| r.horizon.saturating_sub(r.start));
    let (x, unit) = Axis::time(span as f64);
    let mut chart = Chart::new(x, Axis::fraction(1.0, "share of delivered accelerator time"));
    if let Some((r, s)) = run {
        let at = |t: u64| t.saturating_sub(r.start) as f64 / unit;
        for (p, prog) in r.programmes.iter().enumerate() {
            if !s.share_windows.iter().any(|w| w.demand.get(p) == Some(&true)) {
                continue;
            }
            let series = |v: fn(&ShareWindow) -> &Vec<f64>| -> Vec<(f64, f64)> {
                let steps = s.share_windows.iter().map(|w| (w, v(w).get(p).copied().unwrap_or(0.0)));
                steps.flat_map(|(w, y)| [(at(w.start), y), (at(w.end), y)]).collect()
            };
            chart.band(series(|w| &w.entitled), colour(p));
            chart.line(series(|w| &w.delivered), colour(p), Mark::Line);
            chart.key(&prog.name, colour(p), Mark::Line);
        }
        chart.key("fair entitlement", "#7f7f7f", Mark::Band);
        chart.key("delivered", "#7f7f7f", Mark::Line);
    }
    chart.svg("delivered share against entitlement per programme")
}

fn size_mix_plot(run: Option<&Run>) -> String {
    let groups = run.map_or(&[][..], |(_, s)| &s.by_size[..]);
    let jobs: f64 = groups.iter().map(|g| g.jobs as f64).sum();
    let work: f64 = groups.iter().map(|g| g.offered_accel_s).sum();
    let frac = |v: f64, total: f64| if total > 0.0 { v / total } else { 0.0 };
    let bars: Vec<(f64, f64)> =
        groups.iter().map(|g| (frac(g.jobs as f64, jobs), frac(g.offered_accel_s, work))).collect();
    let top = bars.iter().map(|&(a, b)| a.max(b)).fold(0.0, f64::max);
    let x = Axis {
        lo: 0.0,
        hi: groups.len().max(1) as f64,
        log: false,
        label: "gang size (accelerators)".into(),
        ticks: groups.iter().enumerate().map(|(k, g)| (k as f64 + 0.5, g.name.clone())).collect(),
    };
    let mut chart = Chart::new(x, Axis::fraction(top, "share of total"));
    for (k, (j, w)) in bars.into_iter().enumerate() {
        let k = k as f64;
        chart.bar(k + 0.1, k + 0.5, j, colour(0));
        chart.bar(k + 0.5, k + 0.9, w, colour(3));
    }
    chart.key("jobs", colour(0), Mark::Bar);
    chart.key("accelerator-seconds", colour(3), Mark::Bar);
    chart.svg("gang-size mix")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::summarize;
    use crate::metrics::tests::{job, run, sample};

    /// A small run of `policy` over programmes a and `<R&D>`.
    fn small(policy: &str) -> Run {
        let mut r = run(&[("a", 0.5), ("<R&D>", 0.5)]);
        r.policy = policy.into();
        r.horizon = 4000;
        r.sample_every = 100;
        r.samples = (0..40).map(|k| sample(k * 100, 8, 6, 1, &[4, 2])).collect();
        r.jobs = vec![
            job(1, 0, 4, (0, Some(11_520), Some(20_000)), 8000),
            job(2, 1, 2, (10, Some(10), None), 100),
            job(3, 1, 1024, (20, None, None), 100),
        ];
        let s = summarize(&r);
        (r, s)
    }

    #[test]
    fn json_has_the_required_keys_with_numbers() {
        let results = [small("fifo"), small("agora")];
        let v = json(&results);
        let runs = v.as_array().expect("an array");
        assert_eq!(runs.len(), 2);
        assert_eq!(runs[1]["policy"], "agora");
        let keys = [
            "jobs",
            "completed",
            "utilization",
            "jct_mean_s",
            "jct_p99_s",
            "wait_mean_s",
            "wait_p99_s",
            "jain_index",
            "share_error_max",
            "ettr",
            "sim_wall_s",
            "utilization_bound",
            "jct_p50_s",
            "wait_p50_s",
            "preemptions",
            "fragmentation",
            "sched_wall_s",
            "sim_cpu_s",
            "offered_load",
            "never_started",
            "seed",
        ];
        for key in keys {
            assert!(runs[0][key].is_number(), "{key}: {}", runs[0][key]);
        }
        assert_eq!(runs[0]["busy_in_window"], 0.75);
        assert_eq!(runs[0]["utilization"], 1.0);
        assert_eq!(runs[0]["programmes"][1]["name"], "<R&D>");
        // Job 3 never started: its wait counts up to the end, censored.
        assert_eq!(runs[0]["programmes"][1]["wait_p99_s"], 3980);
        assert_eq!(runs[0]["never_started"], 1);
        assert_eq!(runs[0]["size_classes"].as_array().map(Vec::len), Some(6));
        // Empty inputs still give numbers, never null.
        let empty = run(&[]);
        let s = summarize(&empty);
        let v = json(&[(empty, s)]);
        assert!(keys.iter().all(|k| v[0][k].is_number()));
        assert_eq!(json(&[]), json!([]));
    }

    #[test]
    fn csv_quotes_and_leaves_missing_cells_empty() {
        let mut r = run(&[("a,b", 1.0)]);
        let mut j = job(7, 0, 8, (5, None, None), 60);
        j.tenant = "org/\"x\"".into();
        j.recorded_wait = Some(3);
        r.jobs = vec![j, job(8, 0, 1, (0, Some(2), Some(12)), 10)];
        let mut out = Vec::new();
        jobs_csv(&r, &mut out).unwrap();
        let want = "id,programme,tenant,accels,submit,first_start,end,timed_out,wait,jct,work,lost,restart,\
                    checkpoint,grace,ran,restarts,preemptions,node_replacements,recorded_wait\n\
                    7,\"a,b\",\"org/\"\"x\"\"\",8,5,,,0,,,60,0,0,0,0,0,0,0,0,3\n\
                    8,\"a,b\",org/p0,1,0,2,12,0,2,12,10,0,0,0,0,0,0,0,0,\n";
        assert_eq!(String::from_utf8(out).unwrap(), want);
    }

    #[test]
    fn html_is_self_contained_and_escaped() {
        let page = html(&[small("fifo"), small("agora")]);
        // One utilization chart per policy, then the comparisons.
        assert_eq!(page.matches("<svg").count(), 2 + 8);
        assert!(page.contains("Site: the example gigafactory (built in); machine: tiny with 8 accelerators (0 held as hot spares); seed 7; agora "));
        assert!(page.contains("<b>In short:</b>"));
        assert!(!page.contains("<script"));
        assert!(!page.contains("://"), "fetches nothing");
        assert!(page.contains("&lt;R&amp;D&gt;"));
        assert!(!page.contains("<R&D>"));
        assert!(page.contains("test on tiny, seed 7"));
        // Nothing to show still gives a page with its plots.
        let empty = run(&[]);
        let s = summarize(&empty);
        assert_eq!(html(&[(empty, s)]).matches("<svg").count(), 9);
        assert_eq!(html(&[]).matches("<svg").count(), 9);
    }

    #[test]
    fn the_verdict_names_the_best_policy_per_figure_and_ties() {
        let (fast, slow) = (small("fast"), small("slow"));
        let (mut slow_r, _) = slow;
        slow_r.jobs[0].first_start = Some(15_000);
        let slow_s = summarize(&slow_r);
        let v = verdict(&[fast, (slow_r, slow_s)]);
        assert!(v.starts_with("fast best on mean wait ("), "{v}");
        assert!(v.contains("all policies tie on Jain index"), "{v}");
        assert_eq!(verdict(&[small("alone")]), "");
    }

    #[test]
    fn long_series_are_downsampled() {
        let mut r = run(&[("a", 1.0)]);
        r.horizon = 50_000 * 60;
        r.sample_every = 60;
        r.samples = (0..50_000).map(|k| sample(k * 60, 8, k % 9, 0, &[k % 9])).collect();
        r.jobs = (0..50_000).map(|k| job(k, 0, 1, (k, Some(2 * k), Some(3 * k + 1)), k + 1)).collect();
        let s = summarize(&r);
        let page = html(&[(r, s)]);
        for line in page.lines().filter(|l| l.starts_with("<polyline")) {
            assert!(line.matches(',').count() <= MAX_POINTS, "{} points", line.matches(',').count());
        }
        assert!(page.len() < 200_000, "{} bytes", page.len());
    }

    #[test]
    fn terminal_table_is_readable() {
        let mut many = run(&[("a", 1.0)]);
        many.policy = "easy".into();
        many.jobs = (0..1234).map(|k| job(k, 0, 1, (0, None, None), 1)).collect();
        let s = summarize(&many);
        let text = terminal(&[small("agora"), (many, s)]);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "test on tiny, seed 7");
        assert!(lines[2].ends_with("agora   easy"), "{}", lines[2]);
        let row = |label: &str| lines.iter().find(|l| l.starts_with(label)).copied().unwrap_or_default();
        assert!(row("jobs").ends_with("3  1,234"), "{}", row("jobs"));
        assert!(row("wait p99").ends_with("3h12m     0s"), "{}", row("wait p99"));
        assert!(row("never started").ends_with("1  1,234"), "{}", row("never started"));
        assert!(text.contains("per programme (agora)"));
        assert!(row("<R&D>").contains("50.0%"));
        assert_eq!(terminal(&[]), "no runs\n");
    }

    #[test]
    fn write_all_writes_every_file() {
        let dir = std::env::temp_dir().join(format!("agora-report-{}", std::process::id()));
        let paths = write_all(&dir, &[small("fifo"), small("a/b")], true).unwrap();
        let names: Vec<_> = paths.iter().map(|p| p.file_name().unwrap().to_string_lossy().into_owned()).collect();
        assert_eq!(names, ["summary.json", "report.html", "jobs-fifo.csv", "jobs-a_b.csv"]);
        assert!(paths.iter().all(|p| p.is_file()));
        // A rerun with fewer policies leaves no CSV of the earlier one.
        write_all(&dir, &[small("easy")], true).unwrap();
        let mut left: Vec<_> =
            std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
        left.sort();
        assert_eq!(left, ["jobs-easy.csv", "report.html", "summary.json"]);
        // Without CSVs: none at all.
        write_all(&dir, &[small("easy")], false).unwrap();
        assert!(!dir.join("jobs-easy.csv").exists());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
