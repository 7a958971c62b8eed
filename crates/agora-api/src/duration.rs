//! Durations as people write them.

/// "90s", "15m", "3h", "7d", sums like "1h30m", or whole seconds.
pub fn parse_human(s: &str) -> Result<u64, String> {
    let s = s.trim();
    if s.is_empty() {
        return Err("empty duration".into());
    }
    if let Ok(n) = s.parse::<u64>() {
        return Ok(n);
    }
    if s.contains(':') || s.contains('-') {
        return parse_slurm(s);
    }
    let mut total: u64 = 0;
    let mut num = String::new();
    for c in s.chars() {
        if c.is_ascii_digit() {
            num.push(c);
            continue;
        }
        let unit = match c {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86_400,
            'w' => 7 * 86_400,
            _ => return Err(format!("`{s}`: unknown unit `{c}` (use s, m, h, d, w)")),
        };
        let n: u64 = num.parse().map_err(|_| format!("`{s}`: a unit needs a number before it"))?;
        total = n.checked_mul(unit).and_then(|v| total.checked_add(v)).ok_or_else(|| format!("`{s}` is too long"))?;
        num.clear();
    }
    if !num.is_empty() {
        return Err(format!("`{s}`: the last number has no unit"));
    }
    Ok(total)
}

/// Slurm's time formats: "minutes", "minutes:seconds", "hours:minutes:seconds",
/// "days-hours", "days-hours:minutes", "days-hours:minutes:seconds".
pub fn parse_slurm(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let bad = || format!("`{s}` is not a Slurm time (minutes, MM:SS, HH:MM:SS, D-HH, D-HH:MM or D-HH:MM:SS)");
    let num = |p: &str| p.parse::<u64>().map_err(|_| bad());
    let (days, rest) = match s.split_once('-') {
        Some((d, r)) => (Some(num(d)?), r),
        None => (None, s),
    };
    let parts: Vec<u64> = rest.split(':').map(num).collect::<Result<_, _>>()?;
    let secs = match (days, parts.as_slice()) {
        (None, [m]) => m.checked_mul(60),
        (None, [m, s]) => m.checked_mul(60).and_then(|v| v.checked_add(*s)),
        (None, [h, m, s]) => h.checked_mul(3600).and_then(|v| v.checked_add(m * 60 + s)),
        (Some(d), [h]) => d.checked_mul(86_400).and_then(|v| v.checked_add(h * 3600)),
        (Some(d), [h, m]) => d.checked_mul(86_400).and_then(|v| v.checked_add(h * 3600 + m * 60)),
        (Some(d), [h, m, s]) => d.checked_mul(86_400).and_then(|v| v.checked_add(h * 3600 + m * 60 + s)),
        _ => return Err(bad()),
    };
    secs.ok_or_else(|| format!("`{s}` is too long"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        for (s, want) in [("90", 90), ("90s", 90), ("1h30m", 5400), ("2d", 172_800), ("1:00:00", 3600)] {
            assert_eq!(parse_human(s), Ok(want), "{s}");
        }
        for (s, want) in [("30", 1800), ("1:30", 90), ("2-12", 216_000), ("1-00:00:01", 86_401)] {
            assert_eq!(parse_slurm(s), Ok(want), "{s}");
        }
        assert!(parse_human("5x").unwrap_err().contains("unknown unit"));
        assert!(parse_human("99999999999999999999d").is_err());
        assert!(parse_slurm("a:b").is_err());
    }
}
