//! The primitives, each from an audited or well-kept crate: X25519
//! (x25519-dalek), HKDF-SHA256 (hkdf, sha2), ChaCha20 (chacha20, via
//! `prg`), ChaCha20-Poly1305 (chacha20poly1305), Shamir over GF(256)
//! (sharks). Only the glue lives here.
//!
//! Why sharks for Shamir: it is small (no big-integer or curve stack), works
//! byte-wise over GF(256) so a 32-byte secret needs no encoding, refuses
//! more than 255 shares (k <= 255 here), and is the most used Rust Shamir
//! crate. vsss-rs would give verifiable (Feldman) shares but drags in an
//! elliptic-curve stack; instead every share is bound by a SHA-256
//! commitment sent at share time, so the server checks each revealed share
//! on its own, and a reconstructed masking key is checked against the
//! site's public key.

use super::SiteIdx;
use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::ChaCha20Poly1305;
use hkdf::Hkdf;
use sha2::{Digest, Sha256};
use x25519_dalek::{PublicKey, StaticSecret};

pub type Key = [u8; 32];

pub fn keypair(rng: &mut crate::prg::Prg) -> (StaticSecret, PublicKey) {
    let sk = StaticSecret::from(rng.bytes32());
    let pk = PublicKey::from(&sk);
    (sk, pk)
}

/// HKDF-SHA256 of an X25519 shared secret, bound to the session and purpose.
pub fn derive(sk: &StaticSecret, pk: &[u8; 32], session: &[u8; 32], info: &[u8]) -> Option<Key> {
    let shared = sk.diffie_hellman(&PublicKey::from(*pk));
    if !shared.was_contributory() {
        return None; // low-order point: a hostile key
    }
    let hk = Hkdf::<Sha256>::new(Some(session), shared.as_bytes());
    let mut out = [0u8; 32];
    hk.expand(info, &mut out).ok()?;
    Some(out)
}

pub fn share_key_info(from: SiteIdx, to: SiteIdx) -> Vec<u8> {
    let mut v = b"agora secagg+ share key".to_vec();
    v.extend(from.to_le_bytes());
    v.extend(to.to_le_bytes());
    v
}

pub fn mask_key_info(a: SiteIdx, b: SiteIdx) -> Vec<u8> {
    let (lo, hi) = (a.min(b), a.max(b));
    let mut v = b"agora secagg+ pairwise mask".to_vec();
    v.extend(lo.to_le_bytes());
    v.extend(hi.to_le_bytes());
    v
}

/// Each (from, to) key seals exactly one message per session: nonce zero is safe.
pub fn seal(key: &Key, plain: &[u8]) -> Vec<u8> {
    ChaCha20Poly1305::new(key.into()).encrypt(&[0u8; 12].into(), plain).expect("in-memory encryption")
}

pub fn open(key: &Key, ct: &[u8]) -> Option<Vec<u8>> {
    ChaCha20Poly1305::new(key.into()).decrypt(&[0u8; 12].into(), ct).ok()
}

/// Commitment to a share: binds session, owner, holder, kind and bytes.
pub fn commit(session: &[u8; 32], owner: SiteIdx, holder: SiteIdx, kind: u8, share: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(b"agora secagg+ share commitment");
    h.update(session);
    h.update(owner.to_le_bytes());
    h.update(holder.to_le_bytes());
    h.update([kind]);
    h.update(share);
    h.finalize().into()
}

pub const SHARE_LEN: usize = 33;

/// t-of-k shares of a 32-byte secret, share i for holder i (x = i + 1).
pub fn split(secret: &[u8; 32], t: u32, k: usize, rng: &mut crate::prg::Prg) -> Vec<Vec<u8>> {
    sharks::Sharks(t as u8).dealer_rng(secret, rng).take(k).map(|s| Vec::from(&s)).collect()
}

/// Recover from >= t shares (each SHARE_LEN bytes, distinct x); None if fewer.
pub fn recover(shares: &[&[u8]], t: u32) -> Option<[u8; 32]> {
    let parsed: Vec<sharks::Share> = shares.iter().filter_map(|s| sharks::Share::try_from(*s).ok()).collect();
    let v = sharks::Sharks(t as u8).recover(parsed.iter()).ok()?;
    v.try_into().ok()
}
