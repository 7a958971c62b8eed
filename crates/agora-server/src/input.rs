//! The journal's entries: every input the control plane feeds the core,
//! with the `now` it was applied at. Replaying them in order through
//! `Engine::apply` rebuilds the state exactly (the core is deterministic).
//!
//! Format: one JSON object per entry, `{"v": 1, "t": "<kind>", "now": ..., ...}`.
//! `v` is the format version; a build refuses entries newer than it knows.

use agora_api::{JobSubmit, Role};
use serde::{Deserialize, Serialize};

pub const FORMAT_VERSION: u32 = 1;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "t", rename_all = "snake_case")]
pub enum Input {
    /// A submission (all jobs of an array at once).
    Submit {
        now: u64,
        user: String,
        spec: Box<JobSubmit>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        idempotency_key: Option<String>,
    },
    Cancel {
        now: u64,
        job: u64,
    },
    Hold {
        now: u64,
        job: u64,
    },
    Release {
        now: u64,
        job: u64,
    },
    /// A scheduling cycle.
    Tick {
        now: u64,
    },
    /// The executor reports that run `run` of a job exited with `code`.
    Exited {
        now: u64,
        job: u64,
        run: u32,
        code: i32,
    },
    NodeFailed {
        now: u64,
        node: u32,
    },
    NodeRepaired {
        now: u64,
        node: u32,
    },
    /// The first entry: which site (topology, tenants, scheduler settings)
    /// the journal was written for; replay refuses another.
    Site {
        now: u64,
        name: String,
        fingerprint: String,
    },
    /// An API token was created (only its hash is kept).
    Token {
        now: u64,
        id: String,
        hash: String,
        user: String,
        role: Role,
        scope: String,
    },
}

impl Input {
    pub fn now(&self) -> u64 {
        match self {
            Input::Submit { now, .. }
            | Input::Cancel { now, .. }
            | Input::Hold { now, .. }
            | Input::Release { now, .. }
            | Input::Tick { now }
            | Input::Exited { now, .. }
            | Input::NodeFailed { now, .. }
            | Input::NodeRepaired { now, .. }
            | Input::Site { now, .. }
            | Input::Token { now, .. } => *now,
        }
    }
    pub fn set_now(&mut self, t: u64) {
        match self {
            Input::Submit { now, .. }
            | Input::Cancel { now, .. }
            | Input::Hold { now, .. }
            | Input::Release { now, .. }
            | Input::Tick { now }
            | Input::Exited { now, .. }
            | Input::NodeFailed { now, .. }
            | Input::NodeRepaired { now, .. }
            | Input::Site { now, .. }
            | Input::Token { now, .. } => *now = t,
        }
    }
}

#[derive(Serialize, Deserialize)]
struct Entry<'a> {
    v: u32,
    #[serde(flatten)]
    input: std::borrow::Cow<'a, Input>,
}

pub fn encode(input: &Input) -> Vec<u8> {
    serde_json::to_vec(&Entry { v: FORMAT_VERSION, input: std::borrow::Cow::Borrowed(input) })
        .expect("inputs always serialize")
}

pub fn decode(bytes: &[u8]) -> Result<Input, String> {
    let e: Entry = serde_json::from_slice(bytes).map_err(|e| format!("unreadable entry: {e}"))?;
    if e.v > FORMAT_VERSION {
        return Err(format!("entry format {} is newer than this build's {FORMAT_VERSION}", e.v));
    }
    Ok(e.input.into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_round_trip_with_their_version() {
        let i = Input::Exited { now: 5, job: 3, run: 1, code: 2 };
        let b = encode(&i);
        assert_eq!(std::str::from_utf8(&b).unwrap(), r#"{"v":1,"t":"exited","now":5,"job":3,"run":1,"code":2}"#);
        assert_eq!(decode(&b).unwrap(), i);
        assert!(decode(br#"{"v":2,"t":"tick","now":1}"#).unwrap_err().contains("newer"));
    }
}
