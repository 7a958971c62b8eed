//! SecAgg+ (Bell, Bonawitz, Gascón, Lepoint, Raykova, CCS 2020): the server
//! learns the sum of the sites' vectors and nothing else, even when sites
//! drop out at any stage.
//!
//! Sans-IO: [`Client`] and [`Server`] are state machines that take bytes in
//! and give bytes out; the caller moves the bytes (over TLS, or in memory in
//! tests and benchmarks) and decides when a stage's time is up
//! ([`Server::advance`]). Stages:
//!
//! 0. setup (server): a session id, a random Harary graph (each site has `k`
//!    neighbours, k = O(log n)), the threshold `t` and the vector length.
//! 1. advertise keys: each site sends two X25519 public keys (`c` for
//!    encrypting shares, `s` for masking).
//! 2. share keys: each site draws a self-mask seed `b`, Shamir-shares `b` and
//!    its masking secret key t-of-k among its neighbours, each pair of shares
//!    sealed to that neighbour with ChaCha20-Poly1305 under an HKDF-SHA256
//!    key of their X25519 secret; it commits to every share (SHA-256) so that
//!    revealed shares can be checked.
//! 3. masked input: y = x + PRG(b) + Σ ±PRG(s_uv) over the neighbours that
//!    shared keys, in Z/2^32; PRG is ChaCha20 keyed with the full 32 bytes.
//! 4. unmask: each surviving site reveals, for each neighbour, the share of
//!    `b` (neighbour survived) or of its masking key (neighbour dropped after
//!    sharing) — never both for the same neighbour.
//!
//! Invariants: the server never holds a site's unmasked vector; a message is
//! accepted once per site per stage; a site that sends anything malformed,
//! out of stage, replayed, of the wrong length or with a share that does not
//! match its commitment is excluded from the round; below the threshold the
//! round is abandoned with an error, never a wrong sum.

mod client;
mod crypto;
pub mod msg;
mod server;

pub use client::{Client, ClientError};
pub use server::{Aggregate, Server, ServerError, Step};

use serde::{Deserialize, Serialize};

/// A site's index in one session (0..n).
pub type SiteIdx = u32;

/// Parameters of one session, chosen by the server and sent to every site.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Params {
    pub n: u32,
    /// Neighbours per site (k); n - 1 means a complete graph (plain SecAgg).
    pub k: u32,
    /// Shares needed to reconstruct a secret (t <= k).
    pub t: u32,
    /// Length of the vectors summed (u32 words).
    pub len: u32,
}

impl Params {
    /// Defaults from Bell et al.'s analysis, rounded: k about 3 log2 n (even),
    /// t a majority of the neighbourhood.
    pub fn for_sites(n: u32, len: u32) -> Params {
        let k = if n <= 2 {
            n.saturating_sub(1)
        } else {
            let k = (3.0 * (n as f64).log2()).ceil() as u32;
            let k = k + (k & 1);
            k.min(n - 1)
        };
        Params { n, k, t: (k / 2 + 1).min(k).max(1), len }
    }

    pub fn check(&self) -> Result<(), String> {
        if self.n < 2 || self.n > 100_000 {
            return Err(format!("n = {} sites: need 2..=100000", self.n));
        }
        if self.k == 0 || self.k > self.n - 1 || self.k > 255 {
            return Err(format!("k = {} neighbours: need 1..=min(n-1, 255)", self.k));
        }
        if self.k < self.n - 1 && self.k % 2 == 1 {
            return Err(format!("k = {} must be even unless the graph is complete", self.k));
        }
        if self.t < 1 || self.t > self.k {
            return Err(format!("t = {} must be in 1..=k ({})", self.t, self.k));
        }
        if self.len == 0 || self.len > msg::MAX_LEN {
            return Err(format!("vector length {} out of 1..={}", self.len, msg::MAX_LEN));
        }
        Ok(())
    }
}

/// The neighbours of every site: a Harary graph H(k, n) over a random
/// permutation of the sites (Bell et al.'s random k-regular graph).
pub fn neighbours(p: &Params, perm: &[SiteIdx]) -> Vec<Vec<SiteIdx>> {
    let n = p.n as usize;
    let mut nb = vec![Vec::new(); n];
    if p.k >= p.n - 1 {
        for (u, list) in nb.iter_mut().enumerate() {
            list.extend((0..p.n).filter(|&v| v as usize != u));
        }
        return nb;
    }
    let mut pos = vec![0usize; n];
    for (i, &s) in perm.iter().enumerate() {
        pos[s as usize] = i;
    }
    let half = (p.k / 2) as usize;
    for u in 0..n {
        let i = pos[u];
        for d in 1..=half {
            nb[u].push(perm[(i + d) % n]);
            nb[u].push(perm[(i + n - d) % n]);
        }
        nb[u].sort_unstable();
    }
    nb
}

/// Fixed-point encoding into Z/2^32: v -> round(v * scale) as two's complement.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct FixedPoint {
    pub scale: f64,
    /// Each value is clamped to [-bound, bound] before encoding, so that a
    /// sum of `n` values cannot wrap: n * bound * scale < 2^31.
    pub bound: f64,
}

impl FixedPoint {
    /// The finest scale for which n values of magnitude <= bound sum without wrapping.
    pub fn for_sum(n: usize, bound: f64) -> FixedPoint {
        let scale = ((i32::MAX as f64) / (n.max(1) as f64 * bound)).floor().max(1.0);
        FixedPoint { scale, bound }
    }
    pub fn encode(&self, v: &[f64]) -> Vec<u32> {
        v.iter().map(|x| (x.clamp(-self.bound, self.bound) * self.scale).round() as i64 as i32 as u32).collect()
    }
    pub fn decode(&self, v: &[u32]) -> Vec<f64> {
        v.iter().map(|&x| x as i32 as f64 / self.scale).collect()
    }
    /// Worst-case error of a decoded sum of n encoded values (within the bound).
    pub fn sum_error(&self, n: usize) -> f64 {
        0.5 * n as f64 / self.scale
    }
}

/// Add (true) or subtract (false) the ChaCha20 expansion of each key to
/// `sum`, in parallel over slices of the vector (ChaCha20 seeks in O(1)).
/// Each slice is walked in cache-sized blocks, every job's keystream
/// continuing block after block, so the masks never go through memory.
pub(crate) fn apply_masks(sum: &mut [u32], jobs: &[([u8; 32], bool)]) {
    use chacha20::cipher::{KeyIvInit, StreamCipher, StreamCipherSeek};
    const BLOCK: usize = 4096; // words: 16 KiB, fits in L1 with the sum block
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).min(8);
    let chunk = sum.len().div_ceil(threads).max(1 << 14);
    std::thread::scope(|scope| {
        for (i, part) in sum.chunks_mut(chunk).enumerate() {
            scope.spawn(move || {
                let mut ciphers: Vec<(chacha20::ChaCha20, bool)> = jobs
                    .iter()
                    .map(|(key, add)| {
                        let mut c = chacha20::ChaCha20::new(key.into(), &[0u8; 12].into());
                        c.seek((i * chunk) as u64 * 4);
                        (c, *add)
                    })
                    .collect();
                let mut buf = [0u8; BLOCK * 4];
                for block in part.chunks_mut(BLOCK) {
                    let bytes = &mut buf[..block.len() * 4];
                    for (c, add) in ciphers.iter_mut() {
                        bytes.fill(0);
                        c.apply_keystream(bytes);
                        let words = bytes.chunks_exact(4).map(|w| u32::from_le_bytes([w[0], w[1], w[2], w[3]]));
                        if *add {
                            block.iter_mut().zip(words).for_each(|(s, m)| *s = s.wrapping_add(m));
                        } else {
                            block.iter_mut().zip(words).for_each(|(s, m)| *s = s.wrapping_sub(m));
                        }
                    }
                }
            });
        }
    });
}

#[cfg(test)]
mod tests;
