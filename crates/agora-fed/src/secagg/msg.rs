//! The wire format of SecAgg+ messages: a versioned header (magic `AGSA`,
//! version, kind, session id) and a little-endian body with explicit
//! lengths. Decoding checks every length against what the session allows
//! before allocating, so an oversized or truncated message is an error,
//! never a panic or a huge allocation.

use super::{Params, SiteIdx};

pub const MAGIC: &[u8; 4] = b"AGSA";
pub const VERSION: u8 = 1;
/// Longest vector a session may sum (u32 words).
pub const MAX_LEN: u32 = 1 << 25;
const HEADER: usize = 4 + 1 + 1 + 32;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum WireError {
    #[error("not a SecAgg+ message (bad magic)")]
    Magic,
    #[error("unsupported SecAgg+ version {0}")]
    Version(u8),
    #[error("unknown message kind {0}")]
    Kind(u8),
    #[error("message for another session")]
    Session,
    #[error("truncated message")]
    Truncated,
    #[error("{0} trailing bytes")]
    Trailing(usize),
    #[error("message of {got} bytes exceeds the {max}-byte limit")]
    Oversized { got: usize, max: usize },
    #[error("list of {0} entries is longer than allowed")]
    TooMany(u32),
}

/// One sealed share entry: holder, ciphertext, commitment to the `b` share, to the `s` share.
pub type SealedShare = (SiteIdx, Vec<u8>, [u8; 32], [u8; 32]);
/// (owner, share bytes).
pub type Revealed = (SiteIdx, Vec<u8>);
/// Addressed bytes.
pub type Outbox = Vec<(SiteIdx, Vec<u8>)>;

/// Server to site.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ToClient {
    Setup { you: SiteIdx, params: Params, neighbours: Vec<SiteIdx> },
    Keys { keys: Vec<(SiteIdx, [u8; 32], [u8; 32])> },
    Shares { from: Vec<(SiteIdx, Vec<u8>)> },
    Unmask { survivors: Vec<SiteIdx>, dropped: Vec<SiteIdx> },
}

/// Site to server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ToServer {
    Keys {
        c_pk: [u8; 32],
        s_pk: [u8; 32],
    },
    /// Per neighbour: sealed shares, commitment to the `b` share, to the `s` share.
    Shares {
        to: Vec<SealedShare>,
    },
    Masked {
        y: Vec<u32>,
    },
    Reveal {
        b: Vec<(SiteIdx, Vec<u8>)>,
        s: Vec<(SiteIdx, Vec<u8>)>,
    },
}

impl ToServer {
    pub fn stage(&self) -> u8 {
        match self {
            ToServer::Keys { .. } => 1,
            ToServer::Shares { .. } => 2,
            ToServer::Masked { .. } => 3,
            ToServer::Reveal { .. } => 4,
        }
    }
}

/// Sealed payload of a share message: owner, holder, share of b, share of s.
pub const SEALED_PLAIN: usize = 8 + 2 * super::crypto::SHARE_LEN;
pub const SEALED_LEN: usize = SEALED_PLAIN + 16;

struct W(Vec<u8>);
impl W {
    fn new(kind: u8, session: &[u8; 32], cap: usize) -> W {
        let mut v = Vec::with_capacity(HEADER + cap);
        v.extend_from_slice(MAGIC);
        v.push(VERSION);
        v.push(kind);
        v.extend_from_slice(session);
        W(v)
    }
    fn u32(&mut self, x: u32) {
        self.0.extend_from_slice(&x.to_le_bytes());
    }
    fn bytes(&mut self, b: &[u8]) {
        self.u32(b.len() as u32);
        self.0.extend_from_slice(b);
    }
    fn ids(&mut self, ids: &[SiteIdx]) {
        self.u32(ids.len() as u32);
        ids.iter().for_each(|&i| self.u32(i));
    }
}

struct R<'a> {
    b: &'a [u8],
    at: usize,
}
impl<'a> R<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], WireError> {
        let end = self.at.checked_add(n).ok_or(WireError::Truncated)?;
        let s = self.b.get(self.at..end).ok_or(WireError::Truncated)?;
        self.at = end;
        Ok(s)
    }
    fn u32(&mut self) -> Result<u32, WireError> {
        Ok(u32::from_le_bytes(self.take(4)?.try_into().expect("4 bytes")))
    }
    fn arr(&mut self) -> Result<[u8; 32], WireError> {
        Ok(self.take(32)?.try_into().expect("32 bytes"))
    }
    fn count(&mut self, max: u32) -> Result<usize, WireError> {
        let n = self.u32()?;
        if n > max {
            return Err(WireError::TooMany(n));
        }
        Ok(n as usize)
    }
    fn bytes(&mut self, max: u32) -> Result<Vec<u8>, WireError> {
        let n = self.count(max)?;
        Ok(self.take(n)?.to_vec())
    }
    fn ids(&mut self, max: u32) -> Result<Vec<SiteIdx>, WireError> {
        let n = self.count(max)?;
        (0..n).map(|_| self.u32()).collect()
    }
    fn end(&self) -> Result<(), WireError> {
        match self.b.len() - self.at {
            0 => Ok(()),
            n => Err(WireError::Trailing(n)),
        }
    }
}

fn header<'a>(b: &'a [u8], session: Option<&[u8; 32]>) -> Result<(u8, [u8; 32], R<'a>), WireError> {
    let mut r = R { b, at: 0 };
    if r.take(4)? != MAGIC {
        return Err(WireError::Magic);
    }
    let v = r.take(1)?[0];
    if v != VERSION {
        return Err(WireError::Version(v));
    }
    let kind = r.take(1)?[0];
    let s = r.arr()?;
    if session.is_some_and(|want| *want != s) {
        return Err(WireError::Session);
    }
    Ok((kind, s, r))
}

impl ToServer {
    pub fn encode(&self, session: &[u8; 32]) -> Vec<u8> {
        let mut w;
        match self {
            ToServer::Keys { c_pk, s_pk } => {
                w = W::new(1, session, 64);
                w.0.extend_from_slice(c_pk);
                w.0.extend_from_slice(s_pk);
            }
            ToServer::Shares { to } => {
                w = W::new(2, session, to.len() * (SEALED_LEN + 72));
                w.u32(to.len() as u32);
                for (v, ct, cb, cs) in to {
                    w.u32(*v);
                    w.bytes(ct);
                    w.0.extend_from_slice(cb);
                    w.0.extend_from_slice(cs);
                }
            }
            ToServer::Masked { y } => {
                w = W::new(3, session, 4 + 4 * y.len());
                w.u32(y.len() as u32);
                // Bulk little-endian copy: this is the big message.
                w.0.reserve(4 * y.len());
                for x in y {
                    w.0.extend_from_slice(&x.to_le_bytes());
                }
            }
            ToServer::Reveal { b, s } => {
                w = W::new(4, session, (b.len() + s.len()) * 44);
                for list in [b, s] {
                    w.u32(list.len() as u32);
                    for (v, sh) in list {
                        w.u32(*v);
                        w.bytes(sh);
                    }
                }
            }
        }
        w.0
    }

    /// The largest message a site may send in a session with these parameters.
    pub fn max_size(p: &Params) -> usize {
        HEADER + 8 + (4 * p.len as usize).max(p.k as usize * (SEALED_LEN + 80))
    }

    pub fn decode(b: &[u8], session: &[u8; 32], p: &Params) -> Result<ToServer, WireError> {
        let max = Self::max_size(p);
        if b.len() > max {
            return Err(WireError::Oversized { got: b.len(), max });
        }
        let (kind, _, mut r) = header(b, Some(session))?;
        let m = match kind {
            1 => ToServer::Keys { c_pk: r.arr()?, s_pk: r.arr()? },
            2 => {
                let n = r.count(p.k)?;
                let mut to = Vec::with_capacity(n);
                for _ in 0..n {
                    to.push((r.u32()?, r.bytes(SEALED_LEN as u32)?, r.arr()?, r.arr()?));
                }
                ToServer::Shares { to }
            }
            3 => {
                let n = r.count(p.len)?;
                let raw = r.take(4 * n)?;
                ToServer::Masked {
                    y: raw.chunks_exact(4).map(|c| u32::from_le_bytes(c.try_into().expect("4 bytes"))).collect(),
                }
            }
            4 => {
                let mut lists = [Vec::new(), Vec::new()];
                for list in lists.iter_mut() {
                    let n = r.count(p.k)?;
                    for _ in 0..n {
                        list.push((r.u32()?, r.bytes(64)?));
                    }
                }
                let [b, s] = lists;
                ToServer::Reveal { b, s }
            }
            k => return Err(WireError::Kind(k)),
        };
        r.end()?;
        Ok(m)
    }
}

/// The payload of a well-formed masked-input message (little-endian u32
/// words), checked like `ToServer::decode` but without copying the vector.
pub fn masked_payload<'a>(b: &'a [u8], session: &[u8; 32], p: &Params) -> Result<&'a [u8], WireError> {
    let max = ToServer::max_size(p);
    if b.len() > max {
        return Err(WireError::Oversized { got: b.len(), max });
    }
    let (kind, _, mut r) = header(b, Some(session))?;
    if kind != 3 {
        return Err(WireError::Kind(kind));
    }
    let n = r.count(p.len)?;
    let raw = r.take(4 * n)?;
    r.end()?;
    Ok(raw)
}

impl ToClient {
    pub fn encode(&self, session: &[u8; 32]) -> Vec<u8> {
        let mut w;
        match self {
            ToClient::Setup { you, params, neighbours } => {
                w = W::new(11, session, 24 + 4 * neighbours.len());
                w.u32(*you);
                for x in [params.n, params.k, params.t, params.len] {
                    w.u32(x);
                }
                w.ids(neighbours);
            }
            ToClient::Keys { keys } => {
                w = W::new(12, session, keys.len() * 68);
                w.u32(keys.len() as u32);
                for (v, c, s) in keys {
                    w.u32(*v);
                    w.0.extend_from_slice(c);
                    w.0.extend_from_slice(s);
                }
            }
            ToClient::Shares { from } => {
                w = W::new(13, session, from.len() * (SEALED_LEN + 8));
                w.u32(from.len() as u32);
                for (v, ct) in from {
                    w.u32(*v);
                    w.bytes(ct);
                }
            }
            ToClient::Unmask { survivors, dropped } => {
                w = W::new(14, session, 8 + 4 * (survivors.len() + dropped.len()));
                w.ids(survivors);
                w.ids(dropped);
            }
        }
        w.0
    }

    /// Decode a server message; the session id is learnt from Setup.
    pub fn decode(b: &[u8], session: Option<&[u8; 32]>) -> Result<([u8; 32], ToClient), WireError> {
        const MAX: usize = 1 << 20;
        if b.len() > MAX {
            return Err(WireError::Oversized { got: b.len(), max: MAX });
        }
        let (kind, s, mut r) = header(b, session)?;
        let m = match kind {
            11 => {
                let you = r.u32()?;
                let params = Params { n: r.u32()?, k: r.u32()?, t: r.u32()?, len: r.u32()? };
                ToClient::Setup { you, params, neighbours: r.ids(255)? }
            }
            12 => {
                let n = r.count(255)?;
                let mut keys = Vec::with_capacity(n);
                for _ in 0..n {
                    keys.push((r.u32()?, r.arr()?, r.arr()?));
                }
                ToClient::Keys { keys }
            }
            13 => {
                let n = r.count(255)?;
                let mut from = Vec::with_capacity(n);
                for _ in 0..n {
                    from.push((r.u32()?, r.bytes(SEALED_LEN as u32)?));
                }
                ToClient::Shares { from }
            }
            14 => ToClient::Unmask { survivors: r.ids(255)?, dropped: r.ids(255)? },
            k => return Err(WireError::Kind(k)),
        };
        r.end()?;
        Ok((s, m))
    }
}
