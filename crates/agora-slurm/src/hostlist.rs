//! Slurm host lists: `n[1-3,7],gpu[01-02],login` <-> node names.

/// The most names one host list may expand to (a typo such as `n[1-999999999]`
/// must not exhaust memory).
pub const MAX_HOSTS: usize = 1_000_000;

/// Expand a host list. Errors name what is wrong.
pub fn expand(list: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    for item in split_top(list.trim()) {
        let item = item.trim();
        if item.is_empty() {
            continue;
        }
        let Some(open) = item.find('[') else {
            out.push(item.to_string());
            continue;
        };
        let close = item.rfind(']').ok_or_else(|| format!("`{item}`: `[` without `]`"))?;
        if close < open {
            return Err(format!("`{item}`: `]` before `[`"));
        }
        let (prefix, inner, suffix) = (&item[..open], &item[open + 1..close], &item[close + 1..]);
        for part in inner.split(',') {
            let (a, b) = part.split_once('-').unwrap_or((part, part));
            let width = a.len();
            let lo: u64 = a.parse().map_err(|_| format!("`{item}`: `{a}` is not a number"))?;
            let hi: u64 = b.parse().map_err(|_| format!("`{item}`: `{b}` is not a number"))?;
            if hi < lo {
                return Err(format!("`{item}`: range {lo}-{hi} goes backwards"));
            }
            if out.len() as u64 + (hi - lo + 1) > MAX_HOSTS as u64 {
                return Err(format!("`{list}` names more than {MAX_HOSTS} hosts"));
            }
            for i in lo..=hi {
                out.push(format!("{prefix}{i:0width$}{suffix}"));
            }
        }
    }
    Ok(out)
}

/// Split at commas outside brackets.
fn split_top(s: &str) -> Vec<&str> {
    let (mut parts, mut depth, mut start) = (Vec::new(), 0i32, 0);
    for (i, c) in s.char_indices() {
        match c {
            '[' => depth += 1,
            ']' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&s[start..]);
    parts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_lists_expand() {
        assert_eq!(expand("n[1-3,5]").unwrap(), ["n1", "n2", "n3", "n5"]);
        assert_eq!(expand("gpu[08-10],login").unwrap(), ["gpu08", "gpu09", "gpu10", "login"]);
        assert_eq!(expand("").unwrap(), Vec::<String>::new());
        assert_eq!(expand("n1,n2").unwrap(), ["n1", "n2"]);
        assert!(expand("n[3-1]").is_err());
        assert!(expand("n[1-x]").is_err());
        assert!(expand("n[1-99999999]").is_err());
        assert!(expand("n[1-2").is_err());
    }
}
