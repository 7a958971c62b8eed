//! Newtype identifiers and time.
//!
//! Dense ids (`NodeId`, `BlockId`, `PodId`, `TenantId`, `TypeId`) index the
//! vectors of a built `Topology` or `Entitlements`; they are only meaningful
//! for the value that issued them. `JobId` is chosen by the caller, so that
//! the core never invents identity (and stays deterministic).

use std::fmt;

macro_rules! dense_id {
    ($(#[$m:meta])* $name:ident) => {
        $(#[$m])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
        pub struct $name(pub u32);
        impl $name {
            #[inline]
            pub fn idx(self) -> usize {
                self.0 as usize
            }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}", self.0)
            }
        }
    };
}

dense_id!(
    /// A node (a host with its accelerators).
    NodeId
);
dense_id!(
    /// A block: one NVLink domain or one leaf-switch group of nodes.
    BlockId
);
dense_id!(
    /// A pod: the blocks under one spine.
    PodId
);
dense_id!(
    /// A node of the entitlement tree (funder, programme, organisation, project).
    TenantId
);
dense_id!(
    /// An accelerator type (index into `Topology::types`).
    TypeId
);

/// A job identifier chosen by the caller.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct JobId(pub u64);

impl fmt::Display for JobId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Seconds since an epoch the caller chooses. The core never reads a clock.
pub type Time = u64;
/// A duration in seconds.
pub type Secs = u64;

/// "3h12m", "45s", "2d4h": a duration for people.
pub fn human_duration(secs: Secs) -> String {
    let (d, h, m, s) = (secs / 86_400, secs / 3600 % 24, secs / 60 % 60, secs % 60);
    if d > 0 {
        format!("{d}d{h}h")
    } else if h > 0 {
        format!("{h}h{m:02}m")
    } else if m > 0 {
        format!("{m}m{s:02}s")
    } else {
        format!("{s}s")
    }
}

/// 16384 -> "16,384".
pub fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_for_people() {
        assert_eq!(human_duration(11_520), "3h12m");
        assert_eq!(human_duration(59), "59s");
        assert_eq!(human_duration(90_000), "1d1h");
        assert_eq!(thousands(16_384), "16,384");
        assert_eq!(thousands(100), "100");
        assert_eq!(thousands(1_000_000), "1,000,000");
    }
}
