//! Mutation tests for the config formats: seeded byte flips, cuts, extreme
//! values, deleted and duplicated lines over the real example files. Every
//! mutant must parse or fail with an error; none may panic or hang (each
//! is a few kilobytes, and sizes are bounded by the loaders).

use agora_core::rng::Rng;
use std::path::Path;

const EXTREMES: &[&str] = &[
    "0",
    "-1",
    "9223372036854775807",
    "-9223372036854775808",
    "18446744073709551616",
    "4294967296",
    "1e308",
    "nan",
    "inf",
    "-inf",
    "0.0000001",
    "\"\"",
    "\"99999999999d\"",
];

fn mutate(rng: &mut Rng, bytes: &[u8]) -> Vec<u8> {
    let mut b = bytes.to_vec();
    if b.is_empty() {
        return b;
    }
    let at = rng.below(b.len() as u64) as usize;
    let line = |b: &[u8]| {
        let start = b[..at].iter().rposition(|&c| c == b'\n').map_or(0, |i| i + 1);
        let end = b[at..].iter().position(|&c| c == b'\n').map_or(b.len(), |i| at + i + 1);
        (start, end)
    };
    match rng.below(5) {
        0 => b[at] ^= 1 << rng.below(8),
        1 => b.truncate(at),
        2 => {
            let is_num = |c: u8| c.is_ascii_alphanumeric() || c == b'.' || c == b'-' || c == b'"';
            let (mut s, mut e) = (at, at);
            while s > 0 && is_num(b[s - 1]) {
                s -= 1;
            }
            while e < b.len() && is_num(b[e]) {
                e += 1;
            }
            b.splice(s..e, EXTREMES[rng.below(EXTREMES.len() as u64) as usize].bytes());
        }
        3 => {
            let (s, e) = line(&b);
            b.drain(s..e);
        }
        _ => {
            let (s, e) = line(&b);
            let copy = b[s..e].to_vec();
            b.splice(s..s, copy);
        }
    }
    b
}

/// `rounds` mutants of `text` (one to three mutations each) through `parse`.
fn survive(text: &str, rounds: usize, seed: u64, parse: impl Fn(&str) -> bool) -> usize {
    let mut rng = Rng::new(seed);
    let mut ok = 0;
    for _ in 0..rounds {
        let mut b = text.as_bytes().to_vec();
        for _ in 0..=rng.below(3) {
            b = mutate(&mut rng, &b);
        }
        // Invalid UTF-8 is the caller's to refuse (files are read as text).
        if let Ok(s) = std::str::from_utf8(&b) {
            ok += usize::from(parse(s));
        }
    }
    ok
}

#[test]
fn mutated_site_files_parse_or_fail_cleanly() {
    let loaded = survive(agora_config::GIGAFACTORY_SITE, 300, 11, |s| agora_config::parse_site(s, "m.toml").is_ok());
    // Most single edits in comments and values still give a valid site: the
    // mutator does reach the parser's accepting paths.
    assert!(loaded > 30, "{loaded} of 300 mutants loaded");
}

#[test]
fn mutated_cluster_files_parse_or_fail_cleanly() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples");
    for (i, file) in ["ai-factory-8k.toml", "mixed-lab.toml"].into_iter().enumerate() {
        let text = std::fs::read_to_string(root.join(file)).unwrap();
        let loaded = survive(&text, 300, 20 + i as u64, |s| {
            agora_config::parse_cluster(s, "m.toml").is_ok_and(|t| t.total_accels() > 0)
        });
        assert!(loaded > 10, "{file}: {loaded} of 300 mutants loaded");
    }
}
