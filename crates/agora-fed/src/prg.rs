//! A ChaCha20-based pseudo-random generator: the one source of randomness
//! of the crate. Seeded with 32 bytes (a full 256-bit key, never fewer), so
//! the same seed always gives the same stream and masks are as strong as
//! the cipher.

use chacha20::cipher::{KeyIvInit, StreamCipher};
use chacha20::ChaCha20;

pub struct Prg {
    cipher: ChaCha20,
    buf: [u8; 64],
    pos: usize,
}

impl Prg {
    /// A generator whose stream is ChaCha20(key, nonce = 0).
    pub fn from_seed(seed: [u8; 32]) -> Self {
        Self::with_nonce(seed, [0u8; 12])
    }

    pub fn with_nonce(seed: [u8; 32], nonce: [u8; 12]) -> Self {
        Prg { cipher: ChaCha20::new(&seed.into(), &nonce.into()), buf: [0; 64], pos: 64 }
    }

    /// A generator seeded from the operating system.
    pub fn from_entropy() -> Self {
        let mut seed = [0u8; 32];
        rand_core::OsRng.fill_bytes_os(&mut seed);
        Self::from_seed(seed)
    }

    /// A generator seeded from a small test seed (tests and simulations only).
    pub fn seeded(seed: u64) -> Self {
        let mut s = [0u8; 32];
        s[..8].copy_from_slice(&seed.to_le_bytes());
        Self::from_seed(s)
    }

    pub fn fill(&mut self, out: &mut [u8]) {
        for b in out.iter_mut() {
            if self.pos == 64 {
                self.buf = [0; 64];
                self.cipher.apply_keystream(&mut self.buf);
                self.pos = 0;
            }
            *b = self.buf[self.pos];
            self.pos += 1;
        }
    }

    pub fn bytes32(&mut self) -> [u8; 32] {
        let mut b = [0u8; 32];
        self.fill(&mut b);
        b
    }

    pub fn next_u32(&mut self) -> u32 {
        let mut b = [0u8; 4];
        self.fill(&mut b);
        u32::from_le_bytes(b)
    }

    pub fn next_u64(&mut self) -> u64 {
        let mut b = [0u8; 8];
        self.fill(&mut b);
        u64::from_le_bytes(b)
    }

    /// Uniform in [0, 1) with 53 bits.
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform integer in [0, n), n > 0, without modulo bias.
    pub fn below(&mut self, n: u64) -> u64 {
        debug_assert!(n > 0);
        let zone = u64::MAX - (u64::MAX % n);
        loop {
            let v = self.next_u64();
            if v < zone {
                return v % n;
            }
        }
    }

    /// Standard normal (Box-Muller), for weight initialisation only.
    pub fn normal(&mut self) -> f64 {
        let u1 = self.uniform().max(f64::MIN_POSITIVE);
        let u2 = self.uniform();
        (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
    }

    pub fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            let j = self.below(i as u64 + 1) as usize;
            v.swap(i, j);
        }
    }
}

/// Fill `out` with the ChaCha20 keystream of `key` as little-endian u32
/// words: the mask expansion of SecAgg+, one call per (key, vector).
pub fn expand_u32(key: &[u8; 32], out: &mut [u32]) {
    expand_u32_at(key, 0, out)
}

/// Words `offset..offset + out.len()` of the same expansion (ChaCha20 seeks
/// in O(1)), so long vectors can be unmasked in parallel slices.
pub fn expand_u32_at(key: &[u8; 32], offset: usize, out: &mut [u32]) {
    use chacha20::cipher::StreamCipherSeek;
    let mut c = ChaCha20::new(key.into(), &[0u8; 12].into());
    c.seek(offset as u64 * 4);
    // Keystream XOR zeros == keystream; work on the vector's own bytes.
    for w in out.iter_mut() {
        *w = 0;
    }
    let bytes: &mut [u8] = bytemuck_u32(out);
    c.apply_keystream(bytes);
    if cfg!(target_endian = "big") {
        for w in out.iter_mut() {
            *w = u32::from_le(*w);
        }
    }
}

fn bytemuck_u32(v: &mut [u32]) -> &mut [u8] {
    // SAFETY: u32 has no padding and any byte pattern is a valid u32; the
    // length in bytes is exactly 4x the length in words, alignment of u8 is 1.
    unsafe { std::slice::from_raw_parts_mut(v.as_mut_ptr() as *mut u8, std::mem::size_of_val(v)) }
}

impl rand_core::RngCore for Prg {
    fn next_u32(&mut self) -> u32 {
        Prg::next_u32(self)
    }
    fn next_u64(&mut self) -> u64 {
        Prg::next_u64(self)
    }
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        self.fill(dest)
    }
    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
        self.fill(dest);
        Ok(())
    }
}

impl rand_core::CryptoRng for Prg {}

trait FillOs {
    fn fill_bytes_os(&mut self, b: &mut [u8]);
}
impl FillOs for rand_core::OsRng {
    fn fill_bytes_os(&mut self, b: &mut [u8]) {
        rand_core::RngCore::fill_bytes(self, b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_stream_and_expand_matches_fill() {
        let key = [7u8; 32];
        let mut a = vec![0u32; 100];
        expand_u32(&key, &mut a);
        let mut p = Prg::from_seed(key);
        let b: Vec<u32> = (0..100).map(|_| p.next_u32()).collect();
        assert_eq!(a, b);
        let mut tail = vec![0u32; 37];
        expand_u32_at(&key, 63, &mut tail);
        assert_eq!(tail, a[63..]);
        let mut other = vec![0u32; 100];
        expand_u32(&[8u8; 32], &mut other);
        assert_ne!(a, other);
    }
}
