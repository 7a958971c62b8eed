//! Site files: who is entitled to what (the tenant tree) and how the
//! scheduler behaves. `data/gigafactory.toml` is the annotated example.
//!
//! ```toml
//! [scheduler]             # every key optional; defaults = agora_core::Config::default()
//! half_life = "7d"        # durations: "90s", "15m", "3h", "7d", "1h30m" or whole seconds
//! ordering = "fair-share" # | "fifo" | "las" (+ las_threshold) | "shortest-remaining"
//! backfill = "easy"       # | "strict" | "greedy" (or "none") | "easy-per-programme" | "conservative" (+ conservative_depth)
//! [[tenants]]             # the funders
//! name = "eu"
//! weight = 50             # share among siblings (default 1)
//! [[tenants.children]]    # programmes, organisations, projects: any depth
//! name = "open-research"
//! floor = 1000            # accelerators; also borrow_limit and lend_limit
//! ```
//!
//! `level` is a label; when omitted it is "project" for a leaf and
//! "funder", "programme", "organisation" by depth otherwise.

use crate::{from_toml, invalid, ranged, read, ConfigError};
use agora_core::sched::Ordering;
use agora_core::{Backfill, Config, Entitlements, TenantSpec};
use serde::Deserialize;
use std::path::Path;
use toml::Value;

/// The annotated example site: an EU AI gigafactory.
pub const GIGAFACTORY_SITE: &str = include_str!("../data/gigafactory.toml");

/// Reservation depth for `backfill = "conservative"` without `conservative_depth`.
const CONSERVATIVE_DEPTH: usize = 16;

#[derive(Clone, Debug)]
pub struct SiteConfig {
    pub entitlements: Entitlements,
    pub scheduler: Config,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SiteFile {
    #[serde(default)]
    scheduler: SchedulerFile,
    #[serde(default)]
    tenants: Vec<TenantFile>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct SchedulerFile {
    spares_per_block: Option<i64>,
    half_life: Option<Value>,
    alloc_weight: Option<Value>,
    ordering: Option<String>,
    las_threshold: Option<f64>,
    backfill: Option<String>,
    conservative_depth: Option<i64>,
    max_backfill_scan: Option<i64>,
    preemption: Option<bool>,
    preemption_grace: Option<Value>,
    max_preemptions_per_cycle: Option<i64>,
    min_run_before_preempt: Option<Value>,
    max_preemptions_per_job: Option<i64>,
    work_conserving: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TenantFile {
    name: String,
    level: Option<String>,
    #[serde(default = "one")]
    weight: f64,
    floor: Option<i64>,
    borrow_limit: Option<i64>,
    lend_limit: Option<i64>,
    #[serde(default)]
    children: Vec<TenantFile>,
}

fn one() -> f64 {
    1.0
}

/// Parses a site file's text; `origin` names it in errors.
pub fn parse_site(text: &str, origin: &str) -> Result<SiteConfig, ConfigError> {
    let file: SiteFile = from_toml(text, origin)?;
    let scheduler = scheduler(file.scheduler, origin)?;
    let top = file
        .tenants
        .into_iter()
        .enumerate()
        .map(|(i, t)| tenant(t, 1, format!("tenants[{i}]"), origin))
        .collect::<Result<_, _>>()?;
    let entitlements = Entitlements::new(top).map_err(|e| invalid(origin, e.field, e.reason))?;
    Ok(SiteConfig { entitlements, scheduler })
}

pub fn load_site(path: &Path) -> Result<SiteConfig, ConfigError> {
    parse_site(&read(path)?, &path.display().to_string())
}

/// The site of `GIGAFACTORY_SITE`.
pub fn default_site() -> SiteConfig {
    parse_site(GIGAFACTORY_SITE, "gigafactory.toml (built in)").expect("the built-in site is valid")
}

/// Seconds in "90s", "15m", "3h", "7d", a sum such as "1h30m", or a bare
/// number of seconds.
pub fn parse_duration(s: &str) -> Result<u64, String> {
    let bad =
        || format!("`{s}` is not a duration such as \"90s\", \"15m\", \"3h\", \"7d\", \"1h30m\" or whole seconds");
    let too_long = || format!("`{s}` is too long");
    if s.is_empty() {
        return Err(bad());
    }
    if let Ok(secs) = s.parse::<u64>() {
        return Ok(secs);
    }
    let (mut rest, mut total) = (s, 0u64);
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len());
        if digits == 0 {
            return Err(bad());
        }
        let n: u64 = rest[..digits].parse().map_err(|_| too_long())?;
        let mut tail = rest[digits..].chars();
        let unit = match tail.next() {
            Some('s') => 1,
            Some('m') => 60,
            Some('h') => 3_600,
            Some('d') => 86_400,
            _ => return Err(bad()),
        };
        total = n.checked_mul(unit).and_then(|secs| total.checked_add(secs)).ok_or_else(too_long)?;
        rest = tail.as_str();
    }
    Ok(total)
}

/// Seconds written as `parse_duration` reads them: "7d", "5m", "1h30m", "0s".
pub fn format_duration(secs: u64) -> String {
    if secs == 0 {
        return "0s".into();
    }
    let mut out = String::new();
    let mut rest = secs;
    for (unit, name) in [(86_400, 'd'), (3_600, 'h'), (60, 'm'), (1, 's')] {
        if rest >= unit {
            out += &format!("{}{name}", rest / unit);
            rest %= unit;
        }
    }
    out
}

/// The scheduler settings as `key = value` lines in the site file's own
/// terms (what `[scheduler]` would say to get them).
pub fn scheduler_settings(c: &Config) -> Vec<(&'static str, String)> {
    let q = |s: &str| format!("\"{s}\"");
    let mut v =
        vec![("spares_per_block", c.spares_per_block.to_string()), ("half_life", q(&format_duration(c.half_life)))];
    if let Some(w) = c.alloc_weight {
        v.push(("alloc_weight", format!("{w}")));
    }
    match c.ordering {
        Ordering::FairShare => v.push(("ordering", q("fair-share"))),
        Ordering::Fifo => v.push(("ordering", q("fifo"))),
        Ordering::ShortestRemaining => v.push(("ordering", q("shortest-remaining"))),
        Ordering::Las { threshold } => {
            v.push(("ordering", q("las")));
            v.push(("las_threshold", format!("{threshold}")));
        }
    }
    match c.backfill {
        Backfill::Strict => v.push(("backfill", q("strict"))),
        Backfill::Greedy => v.push(("backfill", q("greedy"))),
        Backfill::Easy => v.push(("backfill", q("easy"))),
        Backfill::Conservative(n) => {
            v.push(("backfill", q("conservative")));
            v.push(("conservative_depth", n.to_string()));
        }
        Backfill::PerProgramme(n) => {
            v.push(("backfill", q("easy-per-programme")));
            v.push(("conservative_depth", n.to_string()));
        }
    }
    v.push(("max_backfill_scan", c.max_backfill_scan.to_string()));
    v.push(("preemption", c.preemption.to_string()));
    v.push(("preemption_grace", q(&format_duration(c.preemption_grace))));
    v.push(("max_preemptions_per_cycle", c.max_preemptions_per_cycle.to_string()));
    v.push(("min_run_before_preempt", q(&format_duration(c.min_run_before_preempt))));
    v.push(("max_preemptions_per_job", c.max_preemptions_per_job.to_string()));
    v.push(("work_conserving", c.work_conserving.to_string()));
    v
}

fn scheduler(s: SchedulerFile, origin: &str) -> Result<Config, ConfigError> {
    let fail = |field: &str, reason: String| invalid(origin, format!("scheduler.{field}"), reason);
    // Counts fit in u32: the core's are u32 or usize, and no sane limit needs more.
    let count = |field: &str, v: Option<i64>, min: i64| -> Result<Option<u32>, ConfigError> {
        v.map(|v| ranged(v, min..=i64::MAX).map_err(|r| fail(field, r))).transpose()
    };
    let secs = |field: &str, v: Option<Value>| {
        v.map(|v| {
            match v {
                Value::Integer(i) => ranged(i, 0..=i64::MAX),
                Value::String(s) => parse_duration(&s),
                other => {
                    Err(format!("expected a duration such as \"7d\" or whole seconds, found a {}", other.type_str()))
                }
            }
            .map_err(|r| fail(field, r))
        })
        .transpose()
    };
    let d = Config::default();
    let ordering = match (s.ordering.as_deref(), s.las_threshold) {
        (None, None) => d.ordering,
        (Some("fair-share"), None) => Ordering::FairShare,
        (Some("fifo"), None) => Ordering::Fifo,
        (Some("shortest-remaining"), None) => Ordering::ShortestRemaining,
        (Some("las"), Some(t)) if t.is_finite() && t > 0.0 => Ordering::Las { threshold: t },
        (Some("las"), Some(t)) => return Err(fail("las_threshold", format!("{t} must be a positive number"))),
        (Some("las"), None) => {
            return Err(fail("las_threshold", "ordering = \"las\" needs a threshold in accelerator-seconds".into()))
        }
        (None | Some("fair-share" | "fifo" | "shortest-remaining"), Some(_)) => {
            return Err(fail("las_threshold", "applies only with ordering = \"las\"".into()))
        }
        (Some(other), _) => {
            return Err(fail("ordering", format!("`{other}` is not one of fair-share, fifo, las, shortest-remaining")))
        }
    };
    let backfill = match s.backfill.as_deref() {
        None => d.backfill,
        Some("strict") => Backfill::Strict,
        Some("greedy" | "none") => Backfill::Greedy,
        Some("easy") => Backfill::Easy,
        Some("conservative") => Backfill::Conservative(CONSERVATIVE_DEPTH),
        Some("easy-per-programme") => Backfill::PerProgramme(CONSERVATIVE_DEPTH),
        Some(other) => {
            return Err(fail(
                "backfill",
                format!("`{other}` is not one of strict, greedy, easy, easy-per-programme, conservative"),
            ))
        }
    };
    let backfill = match (backfill, count("conservative_depth", s.conservative_depth, 1)?) {
        (Backfill::Conservative(_), Some(n)) => Backfill::Conservative(n as usize),
        (Backfill::PerProgramme(_), Some(n)) => Backfill::PerProgramme(n as usize),
        (b, None) => b,
        (_, Some(_)) => {
            return Err(fail(
                "conservative_depth",
                "applies only with backfill = \"conservative\" or \"easy-per-programme\"".into(),
            ))
        }
    };
    Ok(Config {
        spares_per_block: count("spares_per_block", s.spares_per_block, 0)?.unwrap_or(d.spares_per_block),
        half_life: secs("half_life", s.half_life)?.unwrap_or(d.half_life),
        alloc_weight: secs("alloc_weight", s.alloc_weight)?.map(|w| w as f64).or(d.alloc_weight),
        ordering,
        backfill,
        max_backfill_scan: count("max_backfill_scan", s.max_backfill_scan, 0)?
            .map_or(d.max_backfill_scan, |n| n as usize),
        preemption: s.preemption.unwrap_or(d.preemption),
        preemption_grace: secs("preemption_grace", s.preemption_grace)?.unwrap_or(d.preemption_grace),
        max_preemptions_per_cycle: count("max_preemptions_per_cycle", s.max_preemptions_per_cycle, 0)?
            .map_or(d.max_preemptions_per_cycle, |n| n as usize),
        min_run_before_preempt: secs("min_run_before_preempt", s.min_run_before_preempt)?
            .unwrap_or(d.min_run_before_preempt),
        max_preemptions_per_job: count("max_preemptions_per_job", s.max_preemptions_per_job, 0)?
            .unwrap_or(d.max_preemptions_per_job),
        work_conserving: s.work_conserving.unwrap_or(d.work_conserving),
    })
}

/// One node of the tree, at `depth` (1 = funder) and `field` (its path in
/// the file). Weights, names and floors are checked by `Entitlements::new`.
fn tenant(t: TenantFile, depth: usize, field: String, origin: &str) -> Result<TenantSpec, ConfigError> {
    let accels = |key: &str, v: Option<i64>| {
        v.map(|v| ranged(v, 0..=i64::MAX).map_err(|reason| invalid(origin, format!("{field}.{key}"), reason)))
            .transpose()
    };
    let level = t.level.unwrap_or_else(|| {
        match (t.children.is_empty(), depth) {
            (true, _) => "project",
            (false, 1) => "funder",
            (false, 2) => "programme",
            (false, 3) => "organisation",
            _ => "group",
        }
        .into()
    });
    Ok(TenantSpec {
        floor: accels("floor", t.floor)?,
        borrow_limit: accels("borrow_limit", t.borrow_limit)?,
        lend_limit: accels("lend_limit", t.lend_limit)?,
        children: t
            .children
            .into_iter()
            .enumerate()
            .map(|(i, c)| tenant(c, depth + 1, format!("{field}.children[{i}]"), origin))
            .collect::<Result<_, _>>()?,
        name: t.name,
        level,
        weight: t.weight,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use agora_core::tenancy::ROOT;

    /// The tree, one tenant per line, indented by depth, then the leaf count.
    fn render(e: &Entitlements) -> String {
        let mut out = String::new();
        for t in &e.tenants[1..] {
            out += &format!("{}{} {} w={}", "  ".repeat(t.depth - 1), t.name, t.level, t.weight);
            for (key, v) in [("floor", t.floor), ("borrow", t.borrow_limit), ("lend", t.lend_limit)] {
                if let Some(v) = v {
                    out += &format!(" {key}={v}");
                }
            }
            out += "\n";
        }
        out + &format!("{} leaves", e.leaves().count())
    }

    /// A parsed site's tree, or its error message.
    fn check(text: &str, expected: &str) {
        let got = match parse_site(text, "site.toml") {
            Ok(s) => render(&s.entitlements),
            Err(e) => e.to_string(),
        };
        assert_eq!(got, expected, "\ninput:\n{text}");
    }

    const SMALL: &str = r#"
[[tenants]]
name = "eu"
level = "funder"
weight = 3
[[tenants.children]]
name = "startups"
weight = 1.5
floor = 100
[[tenants.children.children]]
name = "s1"
floor = 50
[[tenants.children.children]]
name = "s2"
[[tenants]]
name = "investors"
borrow_limit = 20
lend_limit = 10
"#;

    #[test]
    fn good_trees() {
        check(
            SMALL,
            "eu funder w=3
  startups programme w=1.5 floor=100
    s1 project w=1 floor=50
    s2 project w=1
investors project w=1 borrow=20 lend=10
3 leaves",
        );
        check(
            "[[tenants]]\nname = \"a\"\n[[tenants.children]]\nname = \"b\"\n[[tenants.children.children]]\nname = \"c\"\n\
             [[tenants.children.children.children]]\nname = \"d\"\n[[tenants.children.children.children.children]]\nname = \"e\"\nlevel = \"team\"",
            "a funder w=1
  b programme w=1
    c organisation w=1
      d group w=1
        e team w=1
1 leaves",
        );
    }

    #[test]
    fn bad_trees_name_the_field() {
        check(
            &SMALL.replace("weight = 1.5", "weight = 0"),
            "site.toml: tenants[0].children[0].weight: 0 must be a positive number",
        );
        check(
            &SMALL.replace("weight = 1.5", "weight = -2"),
            "site.toml: tenants[0].children[0].weight: -2 must be a positive number",
        );
        check(
            &SMALL.replace("floor = 50", "floor = 500"),
            "site.toml: tenants[0].children[0].children[0].floor: 500 exceeds the floor of an enclosing tenant (100)",
        );
        check(
            &SMALL.replace("floor = 50", "floor = -5"),
            "site.toml: tenants[0].children[0].children[0].floor: -5 must be at least 0",
        );
        check(
            &SMALL.replace("lend_limit = 10", "lend_limit = -1"),
            "site.toml: tenants[1].lend_limit: -1 must be at least 0",
        );
        check(
            &SMALL.replace("\"s2\"", "\"s1\""),
            "site.toml: tenants[0].children[0].children[1].name: `eu/startups/s1` is defined twice",
        );
        check(
            &SMALL.replace("lend_limit = 10", "lend_limit = 10\n[[tenants.children]]\nname = \"s2\""),
            "site.toml: tenants[1].children[0].name: project `s2` is defined twice",
        );
        check(
            &SMALL.replace("\"s2\"", "\"a/b\""),
            "site.toml: tenants[0].children[0].children[1].name: `a/b` must be non-empty and contain no `/`",
        );
        check("[scheduler]\npreemption = false", "site.toml: tenants: the entitlement tree needs at least one funder");
        let mut deep = String::from("[[tenants]]\nname = \"t0\"\n");
        for d in 1..7 {
            deep += &format!("[[tenants{}]]\nname = \"t{d}\"\n", ".children".repeat(d));
        }
        check(
            &deep,
            "site.toml: tenants[0].children[0].children[0].children[0].children[0].children[0].children[0].children: the tree is deeper than 6 levels",
        );
    }

    #[test]
    fn toml_errors_give_line_and_column() {
        check(
            &SMALL.replace("weight = 3", "wieght = 3"),
            "site.toml: TOML parse error at line 5, column 1
  |
5 | wieght = 3
  | ^^^^^^
unknown field `wieght`, expected one of `name`, `level`, `weight`, `floor`, `borrow_limit`, `lend_limit`, `children`",
        );
        check(
            &SMALL.replace("[[tenants.children]]", "[[tenants.children]"),
            "site.toml: TOML parse error at line 6, column 19
  |
6 | [[tenants.children]
  |                   ^
invalid table header
expected `.`, `]]`",
        );
        check(
            &SMALL.replace("weight = 3", "weight = \"3\""),
            "site.toml: TOML parse error at line 5, column 10
  |
5 | weight = \"3\"
  |          ^^^
invalid type: string \"3\", expected f64",
        );
    }

    /// The scheduler settings, or the error message.
    fn check_scheduler(section: &str, expected: &str) {
        let text = format!("[scheduler]\n{section}\n[[tenants]]\nname = \"p\"");
        let got = match parse_site(&text, "site.toml") {
            Ok(s) => format!("{:?}", s.scheduler),
            Err(e) => e.to_string(),
        };
        assert_eq!(got, expected, "\ninput:\n{section}");
    }

    #[test]
    fn scheduler_settings() {
        check_scheduler(
            "",
            "Config { spares_per_block: 0, half_life: 604800, alloc_weight: None, ordering: FairShare, backfill: Easy, max_backfill_scan: 20000, \
             preemption: true, preemption_grace: 300, max_preemptions_per_cycle: 4, min_run_before_preempt: 0, \
             max_preemptions_per_job: 3, work_conserving: true }",
        );
        check_scheduler(
            "spares_per_block = 1\nhalf_life = \"1d12h\"\nalloc_weight = 3600\nordering = \"fifo\"\n\
             backfill = \"conservative\"\nmax_backfill_scan = 500\npreemption = false\npreemption_grace = \"90s\"\nmax_preemptions_per_cycle = 0",
            "Config { spares_per_block: 1, half_life: 129600, alloc_weight: Some(3600.0), ordering: Fifo, \
             backfill: Conservative(16), max_backfill_scan: 500, preemption: false, preemption_grace: 90, max_preemptions_per_cycle: 0, \
             min_run_before_preempt: 0, max_preemptions_per_job: 3, work_conserving: true }",
        );
        check_scheduler(
            "ordering = \"las\"\nlas_threshold = 3600",
            &format!("{:?}", Config { ordering: Ordering::Las { threshold: 3600.0 }, ..Config::default() }),
        );
        check_scheduler(
            "backfill = \"strict\"",
            &format!("{:?}", Config { backfill: Backfill::Strict, ..Config::default() }),
        );
        check_scheduler(
            "backfill = \"none\"",
            &format!("{:?}", Config { backfill: Backfill::Greedy, ..Config::default() }),
        );
        check_scheduler(
            "backfill = \"conservative\"\nconservative_depth = 4",
            &format!("{:?}", Config { backfill: Backfill::Conservative(4), ..Config::default() }),
        );
        check_scheduler(
            "backfill = \"easy-per-programme\"",
            &format!("{:?}", Config { backfill: Backfill::PerProgramme(16), ..Config::default() }),
        );
        check_scheduler(
            "backfill = \"easy-per-programme\"\nconservative_depth = 8",
            &format!("{:?}", Config { backfill: Backfill::PerProgramme(8), ..Config::default() }),
        );
    }

    #[test]
    fn bad_scheduler_settings_name_the_field() {
        check_scheduler(
            "half_life = \"7x\"",
            "site.toml: scheduler.half_life: `7x` is not a duration such as \"90s\", \"15m\", \"3h\", \"7d\", \"1h30m\" or whole seconds",
        );
        check_scheduler("preemption_grace = -1", "site.toml: scheduler.preemption_grace: -1 must be at least 0");
        check_scheduler(
            "half_life = 1.5",
            "site.toml: scheduler.half_life: expected a duration such as \"7d\" or whole seconds, found a float",
        );
        check_scheduler(
            "backfill = \"eager\"",
            "site.toml: scheduler.backfill: `eager` is not one of strict, greedy, easy, easy-per-programme, conservative",
        );
        check_scheduler(
            "ordering = \"lifo\"",
            "site.toml: scheduler.ordering: `lifo` is not one of fair-share, fifo, las, shortest-remaining",
        );
        check_scheduler(
            "ordering = \"las\"",
            "site.toml: scheduler.las_threshold: ordering = \"las\" needs a threshold in accelerator-seconds",
        );
        check_scheduler(
            "ordering = \"las\"\nlas_threshold = -1",
            "site.toml: scheduler.las_threshold: -1 must be a positive number",
        );
        check_scheduler(
            "las_threshold = 10",
            "site.toml: scheduler.las_threshold: applies only with ordering = \"las\"",
        );
        check_scheduler(
            "conservative_depth = 4",
            "site.toml: scheduler.conservative_depth: applies only with backfill = \"conservative\" or \"easy-per-programme\"",
        );
        check_scheduler(
            "backfill = \"conservative\"\nconservative_depth = 0",
            "site.toml: scheduler.conservative_depth: 0 must be at least 1",
        );
        check_scheduler(
            "spares_per_block = 5000000000",
            "site.toml: scheduler.spares_per_block: 5000000000 is too large",
        );
        check_scheduler(
            "max_preemptions_per_cycle = -4",
            "site.toml: scheduler.max_preemptions_per_cycle: -4 must be at least 0",
        );
    }

    #[test]
    fn durations() {
        for (s, expected) in [
            ("90s", Ok(90)),
            ("15m", Ok(900)),
            ("3h", Ok(10_800)),
            ("7d", Ok(604_800)),
            ("1h30m", Ok(5_400)),
            ("2d4h", Ok(187_200)),
            ("3600", Ok(3_600)),
            ("0", Ok(0)),
            ("", Err("`` is not a duration")),
            ("h", Err("`h` is not a duration")),
            ("1h30", Err("`1h30` is not a duration")),
            ("-5s", Err("`-5s` is not a duration")),
            ("5 m", Err("`5 m` is not a duration")),
            ("7w", Err("`7w` is not a duration")),
            ("99999999999999999999d", Err("`99999999999999999999d` is too long")),
            ("999999999999999d", Err("`999999999999999d` is too long")),
        ] {
            let got = parse_duration(s);
            match expected {
                Ok(secs) => assert_eq!(got, Ok(secs), "{s:?}"),
                Err(msg) => assert!(got.as_ref().is_err_and(|e| e.starts_with(msg)), "{s:?}: {got:?}"),
            }
        }
    }

    #[test]
    fn truncated_files_fail_cleanly() {
        // Bad input never panics, and every error starts with the origin.
        let text = GIGAFACTORY_SITE;
        for end in (0..text.len()).step_by(17).filter(|&i| text.is_char_boundary(i)) {
            if let Err(e) = parse_site(&text[..end], "cut.toml") {
                assert!(e.to_string().starts_with("cut.toml: "), "{e}");
            }
        }
    }

    #[test]
    fn the_gigafactory_example_is_valid_and_rich() {
        let site = default_site();
        let e = &site.entitlements;
        let count = |level: &str| e.tenants.iter().filter(|t| t.level == level).count();
        assert!(count("funder") >= 3, "{}", render(e));
        assert!(count("programme") >= 5, "{}", render(e));
        assert!(e.leaves().count() >= 30, "{}", render(e));
        assert!(e.leaves().all(|t| e.get(t).level == "project"));
        assert!(e.get(e.lookup("eu/startups-sme").unwrap()).floor.is_some());
        assert_eq!(e.get(ROOT).children.len(), count("funder"));
        assert_eq!(site.scheduler.spares_per_block, 1);
    }

    #[test]
    fn scheduler_settings_read_back_as_the_same_config() {
        for secs in [0, 1, 59, 60, 90, 3_600, 5_400, 86_400, 7 * 86_400, 86_400 + 61] {
            assert_eq!(parse_duration(&format_duration(secs)), Ok(secs), "{secs}");
        }
        assert_eq!(format_duration(5_400), "1h30m");
        let site = default_site();
        let lines: Vec<String> =
            super::scheduler_settings(&site.scheduler).iter().map(|(k, v)| format!("{k} = {v}")).collect();
        let text = format!("[scheduler]\n{}\n[[tenants]]\nname = \"f\"\n", lines.join("\n"));
        assert!(text.contains("half_life = \"7d\"") && text.contains("backfill = \"easy\""), "{text}");
        let again = parse_site(&text, "again.toml").unwrap();
        assert_eq!(format!("{:?}", again.scheduler), format!("{:?}", site.scheduler));
    }
}
