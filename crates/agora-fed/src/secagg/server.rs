//! The coordinator's side of SecAgg+: routes keys and sealed shares,
//! sums masked vectors as they arrive, and removes the masks with the
//! revealed shares. The caller decides when a stage is over (all expected
//! messages in, or its deadline passed) and calls [`Server::advance`].

use super::client::add;
use super::crypto;
use super::msg::{Outbox, Revealed, ToClient, ToServer, WireError};
use super::{neighbours, Params, SiteIdx};
use crate::prg::Prg;
use std::collections::{BTreeMap, BTreeSet};
use x25519_dalek::{PublicKey, StaticSecret};

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ServerError {
    #[error("invalid parameters: {0}")]
    Params(String),
    #[error("site {site} excluded from the round: {reason}")]
    Rejected { site: SiteIdx, reason: String },
    #[error("round abandoned: {0}")]
    Abandoned(String),
    #[error("the round is over")]
    Finished,
}

/// The outcome of a completed round: the sum over `survivors` only.
#[derive(Clone, Debug, PartialEq)]
pub struct Aggregate {
    pub sum: Vec<u32>,
    pub survivors: Vec<SiteIdx>,
    /// Sites that shared keys but sent no (valid) masked input.
    pub dropped: Vec<SiteIdx>,
    pub excluded: Vec<(SiteIdx, String)>,
}

pub enum Step {
    /// Messages to deliver; then collect replies and call `advance` again.
    Send(Outbox),
    Done(Aggregate),
}

type Commits = BTreeMap<SiteIdx, ([u8; 32], [u8; 32])>;

pub struct Server {
    session: [u8; 32],
    params: Params,
    nb: Vec<Vec<SiteIdx>>,
    /// Stage whose messages are being collected (1..=4), 5 when finished.
    stage: u8,
    keys: BTreeMap<SiteIdx, ([u8; 32], [u8; 32])>,
    /// Per owner: sealed shares by holder, and commitments by holder.
    shares: BTreeMap<SiteIdx, (Outbox, Commits)>,
    masked: BTreeSet<SiteIdx>,
    sum: Vec<u32>,
    reveals: BTreeMap<SiteIdx, (Vec<Revealed>, Vec<Revealed>)>,
    excluded: BTreeMap<SiteIdx, String>,
    /// Sites sent a message in the current stage.
    expected: BTreeSet<SiteIdx>,
    /// Sites whose keys were forwarded (fixed when stage 1 closes).
    u1: BTreeSet<SiteIdx>,
}

impl Server {
    /// Start a session: the Setup message for every site.
    pub fn new(params: Params, rng: &mut Prg) -> Result<(Server, Outbox), ServerError> {
        params.check().map_err(ServerError::Params)?;
        let session = rng.bytes32();
        let mut perm: Vec<SiteIdx> = (0..params.n).collect();
        rng.shuffle(&mut perm);
        let nb = neighbours(&params, &perm);
        let out = (0..params.n)
            .map(|u| {
                let m = ToClient::Setup { you: u, params: params.clone(), neighbours: nb[u as usize].clone() };
                (u, m.encode(&session))
            })
            .collect();
        let s = Server {
            session,
            sum: vec![0; params.len as usize],
            params,
            nb,
            stage: 1,
            keys: BTreeMap::new(),
            shares: BTreeMap::new(),
            masked: BTreeSet::new(),
            reveals: BTreeMap::new(),
            excluded: BTreeMap::new(),
            expected: BTreeSet::new(),
            u1: BTreeSet::new(),
        };
        let mut s = s;
        s.expected = (0..s.params.n).collect();
        Ok((s, out))
    }

    pub fn params(&self) -> &Params {
        &self.params
    }
    pub fn stage(&self) -> u8 {
        self.stage
    }
    pub fn neighbours_of(&self, u: SiteIdx) -> &[SiteIdx] {
        &self.nb[u as usize]
    }

    /// Sites whose message for the current stage has not arrived yet.
    pub fn waiting_for(&self) -> Vec<SiteIdx> {
        self.expected.iter().copied().collect()
    }

    /// Accept one message from an authenticated site. Any error excludes
    /// the site from the rest of the round; the round itself goes on.
    pub fn receive(&mut self, from: SiteIdx, bytes: &[u8]) -> Result<(), ServerError> {
        if from >= self.params.n {
            return Err(ServerError::Rejected { site: from, reason: "unknown site".into() });
        }
        if let Some(r) = self.excluded.get(&from) {
            return Err(ServerError::Rejected { site: from, reason: format!("already excluded ({r})") });
        }
        match self.accept(from, bytes) {
            Ok(()) => {
                self.expected.remove(&from);
                Ok(())
            }
            Err(reason) => {
                self.expected.remove(&from);
                self.excluded.insert(from, reason.clone());
                Err(ServerError::Rejected { site: from, reason })
            }
        }
    }

    fn accept(&mut self, from: SiteIdx, bytes: &[u8]) -> Result<(), String> {
        // The big message: checked and summed straight from the bytes.
        if self.stage == 3 && bytes.get(5) == Some(&3) {
            let raw = super::msg::masked_payload(bytes, &self.session, &self.params).map_err(|e| e.to_string())?;
            if !self.expected.contains(&from) {
                return Err("replayed or unexpected stage-3 message".into());
            }
            if raw.len() != 4 * self.params.len as usize {
                return Err(format!("masked vector of length {}, expected {}", raw.len() / 4, self.params.len));
            }
            for (s, w) in self.sum.iter_mut().zip(raw.chunks_exact(4)) {
                *s = s.wrapping_add(u32::from_le_bytes([w[0], w[1], w[2], w[3]]));
            }
            self.masked.insert(from);
            return Ok(());
        }
        let m = ToServer::decode(bytes, &self.session, &self.params).map_err(|e: WireError| e.to_string())?;
        if m.stage() != self.stage {
            return Err(format!("stage-{} message during stage {}", m.stage(), self.stage));
        }
        if !self.expected.contains(&from) {
            return Err(format!("replayed or unexpected stage-{} message", self.stage));
        }
        let nb = &self.nb[from as usize];
        match m {
            ToServer::Keys { c_pk, s_pk } => {
                self.keys.insert(from, (c_pk, s_pk));
            }
            ToServer::Shares { to } => {
                // Exactly one sealed share for each neighbour that advertised keys.
                let want: BTreeSet<SiteIdx> = nb.iter().copied().filter(|v| self.u1.contains(v)).collect();
                let got: BTreeSet<SiteIdx> = to.iter().map(|e| e.0).collect();
                if got != want || got.len() != to.len() {
                    return Err("shares not addressed to exactly its neighbours".into());
                }
                let mut sealed = Vec::with_capacity(to.len());
                let mut commits = BTreeMap::new();
                for (v, ct, cb, cs) in to {
                    if ct.len() != super::msg::SEALED_LEN {
                        return Err("sealed share of the wrong length".into());
                    }
                    sealed.push((v, ct));
                    commits.insert(v, (cb, cs));
                }
                self.shares.insert(from, (sealed, commits));
            }
            ToServer::Masked { y } => {
                if y.len() != self.params.len as usize {
                    return Err(format!("masked vector of length {}, expected {}", y.len(), self.params.len));
                }
                add(&mut self.sum, &y);
                self.masked.insert(from);
            }
            ToServer::Reveal { b, s } => {
                self.reveals.insert(from, (b, s));
            }
        }
        Ok(())
    }

    fn live(&self, u: &SiteIdx) -> bool {
        !self.excluded.contains_key(u)
    }

    /// Close the current stage and move on.
    pub fn advance(&mut self) -> Result<Step, ServerError> {
        let r = self.advance_inner();
        if r.is_err() {
            self.stage = 5;
            self.sum = Vec::new();
        }
        r
    }

    fn advance_inner(&mut self) -> Result<Step, ServerError> {
        let t = self.params.t as usize;
        let (stage, out) = match self.stage {
            1 => {
                let u1: Vec<SiteIdx> = self.keys.keys().copied().filter(|u| self.live(u)).collect();
                if u1.len() < t + 1 {
                    return Err(ServerError::Abandoned(format!("{} sites advertised keys, need {}", u1.len(), t + 1)));
                }
                self.u1 = u1.iter().copied().collect();
                let out = u1
                    .iter()
                    .map(|&u| {
                        let keys = self.nb[u as usize]
                            .iter()
                            .filter_map(|v| self.keys.get(v).filter(|_| self.u1.contains(v)).map(|(c, s)| (*v, *c, *s)))
                            .collect();
                        (u, ToClient::Keys { keys }.encode(&self.session))
                    })
                    .collect::<Vec<_>>();
                (2, out)
            }
            2 => {
                let u2: Vec<SiteIdx> = self.shares.keys().copied().filter(|u| self.live(u)).collect();
                if u2.len() < t + 1 {
                    return Err(ServerError::Abandoned(format!("{} sites shared keys, need {}", u2.len(), t + 1)));
                }
                let mut inbox: BTreeMap<SiteIdx, Vec<(SiteIdx, Vec<u8>)>> =
                    u2.iter().map(|&u| (u, Vec::new())).collect();
                for &u in &u2 {
                    for (v, ct) in &self.shares[&u].0 {
                        if let Some(list) = inbox.get_mut(v) {
                            list.push((u, ct.clone()));
                        }
                    }
                }
                let out =
                    inbox.into_iter().map(|(v, from)| (v, ToClient::Shares { from }.encode(&self.session))).collect();
                (3, out)
            }
            3 => {
                let u3: Vec<SiteIdx> = self.masked.iter().copied().collect();
                if u3.len() < t + 1 {
                    return Err(ServerError::Abandoned(format!("{} masked inputs, need {}", u3.len(), t + 1)));
                }
                let out = u3
                    .iter()
                    .filter(|u| self.live(u))
                    .map(|&u| {
                        let (mut survivors, mut dropped) = (Vec::new(), Vec::new());
                        for v in &self.nb[u as usize] {
                            if self.masked.contains(v) {
                                survivors.push(*v);
                            } else if self.shares.contains_key(v) && self.shares[v].0.iter().any(|e| e.0 == u) {
                                dropped.push(*v);
                            }
                        }
                        (u, ToClient::Unmask { survivors, dropped }.encode(&self.session))
                    })
                    .collect();
                (4, out)
            }
            4 => return self.unmask().map(Step::Done),
            _ => return Err(ServerError::Finished),
        };
        self.stage = stage;
        self.expected = out.iter().map(|(u, _)| *u).collect();
        Ok(Step::Send(out))
    }

    fn unmask(&mut self) -> Result<Aggregate, ServerError> {
        let t = self.params.t;
        // One pass over the reveals: check each share against the commitment
        // its owner made for that holder; a holder that revealed a share not
        // matching it lied and is excluded (none of its shares are used).
        let mut verified: BTreeMap<(SiteIdx, u8), Outbox> = BTreeMap::new();
        let mut liars = BTreeSet::new();
        for (holder, (b, s)) in &self.reveals {
            for (kind, list) in [(b'b', b), (b's', s)] {
                for (o, share) in list {
                    let ok = self.shares.get(o).and_then(|c| c.1.get(holder)).is_some_and(|(cb, cs)| {
                        crypto::commit(&self.session, *o, *holder, kind, share) == if kind == b'b' { *cb } else { *cs }
                    });
                    if ok {
                        verified.entry((*o, kind)).or_default().push((*holder, share.clone()));
                    } else {
                        liars.insert(*holder);
                    }
                }
            }
        }
        for h in &liars {
            self.excluded.entry(*h).or_insert_with(|| "revealed a share that does not match its commitment".into());
        }
        let shares_of = |owner: SiteIdx, kind: u8| -> Vec<Vec<u8>> {
            verified
                .get(&(owner, kind))
                .map(|l| {
                    l.iter()
                        .filter(|(h, _)| !liars.contains(h) && !self.excluded.contains_key(h))
                        .map(|(_, s)| s.clone())
                        .collect()
                })
                .unwrap_or_default()
        };
        let survivors: Vec<SiteIdx> = self.masked.iter().copied().collect();
        let dropped: Vec<SiteIdx> = self.shares.keys().copied().filter(|u| !self.masked.contains(u)).collect();
        // Reconstruct every secret first (cheap), then expand and remove the
        // masks (the bulk of the work) in parallel slices of the vector.
        let mut jobs: Vec<([u8; 32], bool)> = Vec::new(); // (PRG key, add instead of subtract)
        for &u in &survivors {
            let shares = shares_of(u, b'b');
            let refs: Vec<&[u8]> = shares.iter().map(|s| s.as_slice()).collect();
            let b = crypto::recover(&refs, t).ok_or_else(|| {
                ServerError::Abandoned(format!("only {} valid shares of site {u}'s self mask, need {t}", shares.len()))
            })?;
            jobs.push((b, false));
        }
        for &v in &dropped {
            let shares = shares_of(v, b's');
            let refs: Vec<&[u8]> = shares.iter().map(|s| s.as_slice()).collect();
            let sk = crypto::recover(&refs, t).ok_or_else(|| {
                ServerError::Abandoned(format!(
                    "only {} valid shares of dropped site {v}'s key, need {t}",
                    shares.len()
                ))
            })?;
            let sk = StaticSecret::from(sk);
            if PublicKey::from(&sk).to_bytes() != self.keys[&v].1 {
                return Err(ServerError::Abandoned(format!(
                    "site {v}'s reconstructed key does not match its public key"
                )));
            }
            // Survivors that masked with v: its neighbours that received v's shares.
            for (w, _) in &self.shares[&v].0 {
                if !self.masked.contains(w) {
                    continue;
                }
                let key = crypto::derive(&sk, &self.keys[w].1, &self.session, &crypto::mask_key_info(*w, v))
                    .ok_or_else(|| ServerError::Abandoned(format!("site {w}'s masking key is invalid")))?;
                // w added +PRG if w < v, -PRG otherwise: undo it.
                jobs.push((key, *w > v));
            }
        }
        let mut sum = std::mem::take(&mut self.sum);
        // Jobs hold (key, add): subtracting a self mask is `add = false`.
        super::apply_masks(&mut sum, &jobs);
        self.stage = 5;
        Ok(Aggregate {
            sum,
            survivors,
            dropped,
            excluded: self.excluded.iter().map(|(k, v)| (*k, v.clone())).collect(),
        })
    }
}
