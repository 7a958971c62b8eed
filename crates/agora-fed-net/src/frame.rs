//! Frames: a 4-byte little-endian length, a tag, a payload. Tag 1: a JSON
//! control message (`Down` or a batch of `Up`); tag 2: raw SecAgg+ bytes
//! (the big ones, never re-encoded). Oversized frames are refused before
//! any allocation.

use crate::NetError;
use agora_fed::run::{Down, Up};
use std::io::{Read, Write};

pub const MAX_FRAME: usize = 256 << 20;

fn write_frame(w: &mut impl Write, tag: u8, payload: &[u8]) -> Result<usize, NetError> {
    let len = payload.len() + 1;
    if len > MAX_FRAME {
        return Err(NetError::Frame(format!("frame of {len} bytes exceeds {MAX_FRAME}")));
    }
    w.write_all(&(len as u32).to_le_bytes())?;
    w.write_all(&[tag])?;
    w.write_all(payload)?;
    w.flush()?;
    Ok(len + 4)
}

fn read_frame(r: &mut impl Read) -> Result<(u8, Vec<u8>), NetError> {
    let mut len = [0u8; 4];
    r.read_exact(&mut len)?;
    let len = u32::from_le_bytes(len) as usize;
    if len == 0 || len > MAX_FRAME {
        return Err(NetError::Frame(format!("frame length {len} out of range")));
    }
    let mut buf = vec![0u8; len];
    r.read_exact(&mut buf)?;
    let tag = buf[0];
    buf.remove(0);
    Ok((tag, buf))
}

pub fn send_down(w: &mut impl Write, d: &Down) -> Result<usize, NetError> {
    match d {
        Down::SecAgg(b) => write_frame(w, 2, b),
        other => write_frame(w, 1, &serde_json::to_vec(other).map_err(|e| NetError::Frame(e.to_string()))?),
    }
}

pub fn recv_down(r: &mut impl Read) -> Result<Down, NetError> {
    match read_frame(r)? {
        (2, b) => Ok(Down::SecAgg(b)),
        (1, b) => serde_json::from_slice(&b).map_err(|e| NetError::Frame(format!("bad message: {e}"))),
        (t, _) => Err(NetError::Frame(format!("unknown tag {t}"))),
    }
}

/// One batch of replies per Down: SecAgg+ bytes go raw, the rest as JSON.
pub fn send_ups(w: &mut impl Write, ups: &[Up]) -> Result<usize, NetError> {
    let mut n = 0;
    let (raw, json): (Vec<&Up>, Vec<&Up>) = ups.iter().partition(|u| matches!(u, Up::SecAgg(_)));
    n += write_frame(w, 1, &serde_json::to_vec(&json).map_err(|e| NetError::Frame(e.to_string()))?)?;
    // A count byte tells the reader whether raw SecAgg+ bytes follow.
    n += write_frame(w, 3, &[raw.len().min(1) as u8])?;
    if let Some(Up::SecAgg(b)) = raw.first() {
        n += write_frame(w, 2, b)?;
    }
    Ok(n)
}

pub fn recv_ups(r: &mut impl Read) -> Result<Vec<Up>, NetError> {
    let mut ups: Vec<Up> = match read_frame(r)? {
        (1, b) => serde_json::from_slice(&b).map_err(|e| NetError::Frame(format!("bad message: {e}")))?,
        (t, _) => return Err(NetError::Frame(format!("expected tag 1, got {t}"))),
    };
    if ups.iter().any(|u| matches!(u, Up::SecAgg(_))) {
        return Err(NetError::Frame("SecAgg+ bytes must travel raw".into()));
    }
    match read_frame(r)? {
        (3, b) if b == [0] => {}
        (3, b) if b == [1] => match read_frame(r)? {
            (2, raw) => ups.push(Up::SecAgg(raw)),
            (t, _) => return Err(NetError::Frame(format!("expected tag 2, got {t}"))),
        },
        _ => return Err(NetError::Frame("bad batch marker".into())),
    }
    Ok(ups)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip_and_bad_ones_are_errors() {
        let mut buf = Vec::new();
        send_down(&mut buf, &Down::SecAgg(vec![1, 2, 3])).unwrap();
        send_down(&mut buf, &Down::Finish { weights: vec![0.5] }).unwrap();
        send_ups(&mut buf, &[Up::Metrics { version: 1, n: 3, metric: 0.5 }, Up::SecAgg(vec![9; 10])]).unwrap();
        let mut r = &buf[..];
        assert_eq!(recv_down(&mut r).unwrap(), Down::SecAgg(vec![1, 2, 3]));
        assert_eq!(recv_down(&mut r).unwrap(), Down::Finish { weights: vec![0.5] });
        assert_eq!(recv_ups(&mut r).unwrap().len(), 2);
        // Oversized length: refused without allocating.
        let huge = [0xff, 0xff, 0xff, 0x7f, 1];
        assert!(recv_down(&mut &huge[..]).unwrap_err().to_string().contains("out of range"));
        // Garbage JSON.
        let mut g = Vec::new();
        write_frame(&mut g, 1, b"{nope").unwrap();
        assert!(recv_down(&mut &g[..]).is_err());
    }
}
