//! Snapshots: the scheduler's whole state as bytes, and back, exactly.
//!
//! A control plane replays its journal through the core to rebuild the
//! state; a snapshot bounds that replay. Restoring a snapshot must give the
//! very state the replay would have given (same `state_digest`, same
//! decisions afterwards), so every field is written, caches and scratch
//! included, in a compact binary form: LEB128 integers, floats by their
//! bits, lengths before sequences. No serde and no IO: bytes in, bytes out.
//!
//! `Persist` is implemented field by field with `persist_fields!` (the
//! fields are listed where the struct is defined, so private ones stay
//! private) and by hand for enums.

use crate::ids::{BlockId, JobId, NodeId, PodId, TenantId, TypeId};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::hash::Hash;

/// A snapshot that cannot be read: truncated, corrupt, from another
/// version or for another site.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("snapshot: {0}")]
pub struct SnapshotError(pub String);

/// Reads values back from a snapshot's bytes.
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8]) -> Reader<'a> {
        Reader { buf, pos: 0 }
    }
    pub fn bytes(&mut self, n: usize) -> Result<&'a [u8], SnapshotError> {
        let end = self.pos.checked_add(n).filter(|e| *e <= self.buf.len()).ok_or_else(|| self.short())?;
        let s = &self.buf[self.pos..end];
        self.pos = end;
        Ok(s)
    }
    fn short(&self) -> SnapshotError {
        SnapshotError(format!("truncated at byte {} of {}", self.pos, self.buf.len()))
    }
    pub fn varint(&mut self) -> Result<u64, SnapshotError> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = *self.buf.get(self.pos).ok_or_else(|| self.short())?;
            self.pos += 1;
            v |= ((b & 0x7f) as u64) << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(SnapshotError(format!("bad integer at byte {}", self.pos)))
    }
    /// A length, checked against what is left (so corrupt bytes cannot ask
    /// for a huge allocation).
    pub fn len(&mut self) -> Result<usize, SnapshotError> {
        let n = self.varint()?;
        if n > (self.buf.len() - self.pos) as u64 {
            return Err(SnapshotError(format!("length {n} at byte {} runs past the end", self.pos)));
        }
        Ok(n as usize)
    }
    pub fn is_empty(&self) -> bool {
        self.pos == self.buf.len()
    }
    /// A tag out of range for an enum.
    pub fn bad_tag(&self, what: &str, tag: u64) -> SnapshotError {
        SnapshotError(format!("unknown {what} tag {tag} at byte {}", self.pos))
    }
}

pub fn put_varint(w: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        w.push((v as u8) | 0x80);
        v >>= 7;
    }
    w.push(v as u8);
}

/// A value that can be written to and read from a snapshot.
pub trait Persist: Sized {
    fn put(&self, w: &mut Vec<u8>);
    fn get(r: &mut Reader) -> Result<Self, SnapshotError>;
}

macro_rules! persist_uint {
    ($($t:ty),*) => {$(
        impl Persist for $t {
            fn put(&self, w: &mut Vec<u8>) {
                put_varint(w, *self as u64);
            }
            fn get(r: &mut Reader) -> Result<Self, SnapshotError> {
                let v = r.varint()?;
                <$t>::try_from(v).map_err(|_| SnapshotError(format!("{v} does not fit a {}", stringify!($t))))
            }
        }
    )*};
}
persist_uint!(u8, u16, u32, u64, usize);

impl Persist for i32 {
    fn put(&self, w: &mut Vec<u8>) {
        put_varint(w, ((*self << 1) ^ (*self >> 31)) as u32 as u64);
    }
    fn get(r: &mut Reader) -> Result<Self, SnapshotError> {
        let v = u32::get(r)?;
        Ok(((v >> 1) as i32) ^ -((v & 1) as i32))
    }
}

impl Persist for bool {
    fn put(&self, w: &mut Vec<u8>) {
        w.push(*self as u8);
    }
    fn get(r: &mut Reader) -> Result<Self, SnapshotError> {
        match r.bytes(1)?[0] {
            0 => Ok(false),
            1 => Ok(true),
            b => Err(r.bad_tag("bool", b as u64)),
        }
    }
}

impl Persist for f64 {
    fn put(&self, w: &mut Vec<u8>) {
        w.extend_from_slice(&self.to_bits().to_le_bytes());
    }
    fn get(r: &mut Reader) -> Result<Self, SnapshotError> {
        Ok(f64::from_bits(u64::from_le_bytes(r.bytes(8)?.try_into().expect("8 bytes"))))
    }
}

impl Persist for String {
    fn put(&self, w: &mut Vec<u8>) {
        put_varint(w, self.len() as u64);
        w.extend_from_slice(self.as_bytes());
    }
    fn get(r: &mut Reader) -> Result<Self, SnapshotError> {
        let n = r.len()?;
        String::from_utf8(r.bytes(n)?.to_vec()).map_err(|_| SnapshotError("a string is not UTF-8".into()))
    }
}

impl<T: Persist> Persist for Vec<T> {
    fn put(&self, w: &mut Vec<u8>) {
        put_varint(w, self.len() as u64);
        self.iter().for_each(|x| x.put(w));
    }
    fn get(r: &mut Reader) -> Result<Self, SnapshotError> {
        let n = r.len()?;
        (0..n).map(|_| T::get(r)).collect()
    }
}

impl<T: Persist, const N: usize> Persist for [T; N] {
    fn put(&self, w: &mut Vec<u8>) {
        self.iter().for_each(|x| x.put(w));
    }
    fn get(r: &mut Reader) -> Result<Self, SnapshotError> {
        let v: Vec<T> = (0..N).map(|_| T::get(r)).collect::<Result<_, _>>()?;
        v.try_into().map_err(|_| SnapshotError("array length".into()))
    }
}

impl<T: Persist> Persist for Option<T> {
    fn put(&self, w: &mut Vec<u8>) {
        match self {
            None => w.push(0),
            Some(x) => {
                w.push(1);
                x.put(w);
            }
        }
    }
    fn get(r: &mut Reader) -> Result<Self, SnapshotError> {
        Ok(if bool::get(r)? { Some(T::get(r)?) } else { None })
    }
}

impl<T: Persist + Ord> Persist for BTreeSet<T> {
    fn put(&self, w: &mut Vec<u8>) {
        put_varint(w, self.len() as u64);
        self.iter().for_each(|x| x.put(w));
    }
    fn get(r: &mut Reader) -> Result<Self, SnapshotError> {
        let n = r.len()?;
        (0..n).map(|_| T::get(r)).collect()
    }
}

impl<K: Persist + Ord, V: Persist> Persist for BTreeMap<K, V> {
    fn put(&self, w: &mut Vec<u8>) {
        put_varint(w, self.len() as u64);
        for (k, v) in self {
            k.put(w);
            v.put(w);
        }
    }
    fn get(r: &mut Reader) -> Result<Self, SnapshotError> {
        let n = r.len()?;
        (0..n).map(|_| Ok((K::get(r)?, V::get(r)?))).collect()
    }
}

/// Written in key order, so that equal maps give equal bytes.
impl<K: Persist + Eq + Hash + Ord, V: Persist> Persist for HashMap<K, V> {
    fn put(&self, w: &mut Vec<u8>) {
        let mut kv: Vec<_> = self.iter().collect();
        kv.sort_unstable_by(|a, b| a.0.cmp(b.0));
        put_varint(w, kv.len() as u64);
        for (k, v) in kv {
            k.put(w);
            v.put(w);
        }
    }
    fn get(r: &mut Reader) -> Result<Self, SnapshotError> {
        let n = r.len()?;
        (0..n).map(|_| Ok((K::get(r)?, V::get(r)?))).collect()
    }
}

macro_rules! persist_tuple {
    ($($t:ident),+) => {
        impl<$($t: Persist),+> Persist for ($($t,)+) {
            #[allow(non_snake_case)]
            fn put(&self, w: &mut Vec<u8>) {
                let ($($t,)+) = self;
                $($t.put(w);)+
            }
            fn get(r: &mut Reader) -> Result<Self, SnapshotError> {
                Ok(($($t::get(r)?,)+))
            }
        }
    };
}
persist_tuple!(A, B);
persist_tuple!(A, B, C);
persist_tuple!(A, B, C, D);

macro_rules! persist_id {
    ($($t:ident),*) => {$(
        impl Persist for $t {
            fn put(&self, w: &mut Vec<u8>) {
                self.0.put(w);
            }
            fn get(r: &mut Reader) -> Result<Self, SnapshotError> {
                Persist::get(r).map($t)
            }
        }
    )*};
}
persist_id!(NodeId, BlockId, PodId, TenantId, TypeId, JobId);

/// `Persist` for a struct, field by field, in the order listed. Every
/// field must be listed (the struct literal in `get` checks it).
#[macro_export]
macro_rules! persist_fields {
    ($t:ident { $($f:ident),* $(,)? }) => {
        impl $crate::persist::Persist for $t {
            fn put(&self, w: &mut Vec<u8>) {
                $($crate::persist::Persist::put(&self.$f, w);)*
            }
            fn get(r: &mut $crate::persist::Reader) -> Result<Self, $crate::persist::SnapshotError> {
                Ok($t { $($f: $crate::persist::Persist::get(r)?,)* })
            }
        }
    };
}

/// `Persist` for a field-less enum, by a tag per variant.
#[macro_export]
macro_rules! persist_tags {
    ($t:ident { $($v:ident = $n:expr),* $(,)? }) => {
        impl $crate::persist::Persist for $t {
            fn put(&self, w: &mut Vec<u8>) {
                let tag: u8 = match self { $($t::$v => $n,)* };
                w.push(tag);
            }
            fn get(r: &mut $crate::persist::Reader) -> Result<Self, $crate::persist::SnapshotError> {
                match <u8 as $crate::persist::Persist>::get(r)? {
                    $($n => Ok($t::$v),)*
                    tag => Err(r.bad_tag(stringify!($t), tag as u64)),
                }
            }
        }
    };
}

/// Encode one value to fresh bytes.
pub fn to_bytes<T: Persist>(v: &T) -> Vec<u8> {
    let mut w = Vec::new();
    v.put(&mut w);
    w
}

/// Decode one value that must fill `bytes` exactly.
pub fn from_bytes<T: Persist>(bytes: &[u8]) -> Result<T, SnapshotError> {
    let mut r = Reader::new(bytes);
    let v = T::get(&mut r)?;
    if !r.is_empty() {
        return Err(SnapshotError(format!("{} bytes left over", bytes.len() - r.pos)));
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    type Mixed = (Vec<Option<(u64, i32)>>, HashMap<String, f64>, BTreeSet<(u8, u64, u32, u32)>);

    #[test]
    fn values_round_trip_and_corruption_is_an_error_not_a_panic() {
        let v: Mixed = (
            vec![None, Some((u64::MAX, -7)), Some((0, i32::MIN))],
            [("a".to_string(), -0.0), ("b".to_string(), f64::NAN), ("ü".to_string(), 1e300)].into_iter().collect(),
            [(1, 2, 3, 4), (0, u64::MAX, 0, u32::MAX)].into_iter().collect(),
        );
        let bytes = to_bytes(&v);
        let back: Mixed = from_bytes(&bytes).unwrap();
        assert_eq!(back.0, v.0);
        assert_eq!(back.2, v.2);
        for (k, x) in &v.1 {
            assert_eq!(back.1[k].to_bits(), x.to_bits(), "floats keep their exact bits");
        }
        assert_eq!(to_bytes(&back), bytes, "equal maps give equal bytes");
        for cut in 0..bytes.len() {
            assert!(from_bytes::<Mixed>(&bytes[..cut]).is_err());
        }
        let huge = [0xff, 0xff, 0xff, 0xff, 0x0f];
        assert!(from_bytes::<Vec<u64>>(&huge).unwrap_err().0.contains("runs past the end"));
        assert!(from_bytes::<u8>(&[0x80, 0x02]).unwrap_err().0.contains("does not fit"));
    }
}
