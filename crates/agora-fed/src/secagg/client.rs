//! The site's side of SecAgg+: one `Client` per site per round, fed the
//! server's messages in order; each call returns the reply to send.

use super::crypto::{self, SHARE_LEN};
use super::msg::{ToClient, ToServer, WireError, SEALED_PLAIN};
use super::{Params, SiteIdx};
use crate::prg::Prg;
use std::collections::BTreeMap;
use x25519_dalek::StaticSecret;

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("bad message from the server: {0}")]
    Wire(#[from] WireError),
    #[error("unexpected message at this stage of the protocol")]
    OutOfStage,
    #[error("the server's parameters are invalid: {0}")]
    Params(String),
    #[error("my input has {got} values, the session sums {want}")]
    InputLength { got: usize, want: usize },
    #[error("only {got} neighbours took part, the threshold is {t}: aborting to protect my input")]
    TooFew { got: usize, t: u32 },
    #[error("site {0} is not my neighbour")]
    NotNeighbour(SiteIdx),
    #[error("the share sent by site {0} does not decrypt or is not addressed to me")]
    BadShare(SiteIdx),
    #[error("the server asked for both secrets of site {0}: refusing (it would unmask its input)")]
    BothSecrets(SiteIdx),
    #[error("site {0}'s key is invalid")]
    BadKey(SiteIdx),
}

enum Stage {
    Setup,
    Keys,
    Shares,
    Unmask,
    Done,
}

pub struct Client {
    rng: Prg,
    input: Vec<u32>,
    stage: Stage,
    session: [u8; 32],
    me: SiteIdx,
    params: Params,
    neighbours: Vec<SiteIdx>,
    c_sk: Option<StaticSecret>,
    s_sk: Option<StaticSecret>,
    /// Neighbours' (c_pk, s_pk) as advertised.
    keys: BTreeMap<SiteIdx, ([u8; 32], [u8; 32])>,
    /// Shares I hold for each neighbour: (share of b, share of s_sk).
    held: BTreeMap<SiteIdx, (Vec<u8>, Vec<u8>)>,
    self_seed: Option<[u8; 32]>,
}

impl Client {
    /// A site ready to contribute `input` (already encoded in Z/2^32).
    pub fn new(input: Vec<u32>, rng: Prg) -> Client {
        Client {
            rng,
            input,
            stage: Stage::Setup,
            session: [0; 32],
            me: 0,
            params: Params { n: 0, k: 0, t: 0, len: 0 },
            neighbours: Vec::new(),
            c_sk: None,
            s_sk: None,
            keys: BTreeMap::new(),
            held: BTreeMap::new(),
            self_seed: None,
        }
    }

    pub fn is_done(&self) -> bool {
        matches!(self.stage, Stage::Done)
    }

    /// Handle one server message; the reply (if any) goes back to the server.
    /// After an error the client takes no further part in the round.
    pub fn handle(&mut self, bytes: &[u8]) -> Result<Option<Vec<u8>>, ClientError> {
        let r = self.step(bytes);
        if r.is_err() {
            self.stage = Stage::Done;
            self.input.clear();
        }
        r
    }

    fn step(&mut self, bytes: &[u8]) -> Result<Option<Vec<u8>>, ClientError> {
        let session = match self.stage {
            Stage::Setup => None,
            _ => Some(&self.session),
        };
        let (s, m) = ToClient::decode(bytes, session)?;
        let reply = match (&self.stage, m) {
            (Stage::Setup, ToClient::Setup { you, params, neighbours }) => {
                params.check().map_err(ClientError::Params)?;
                if self.input.len() != params.len as usize {
                    return Err(ClientError::InputLength { got: self.input.len(), want: params.len as usize });
                }
                if you >= params.n
                    || neighbours.len() != params.k as usize
                    || neighbours.contains(&you)
                    || neighbours.iter().any(|&v| v >= params.n)
                {
                    return Err(ClientError::Params("neighbour list does not fit the parameters".into()));
                }
                self.session = s;
                self.me = you;
                self.params = params;
                self.neighbours = neighbours;
                let (c_sk, c_pk) = crypto::keypair(&mut self.rng);
                let (s_sk, s_pk) = crypto::keypair(&mut self.rng);
                self.c_sk = Some(c_sk);
                self.s_sk = Some(s_sk);
                self.stage = Stage::Keys;
                ToServer::Keys { c_pk: c_pk.to_bytes(), s_pk: s_pk.to_bytes() }
            }
            (Stage::Keys, ToClient::Keys { keys }) => {
                for (v, c, s) in keys {
                    if !self.neighbours.contains(&v) {
                        return Err(ClientError::NotNeighbour(v));
                    }
                    self.keys.insert(v, (c, s));
                }
                self.check_enough(self.keys.len())?;
                self.share_keys()?
            }
            (Stage::Shares, ToClient::Shares { from }) => {
                self.open_shares(from)?;
                self.check_enough(self.held.len())?;
                self.masked_input()?
            }
            (Stage::Unmask, ToClient::Unmask { survivors, dropped }) => self.reveal(survivors, dropped)?,
            _ => return Err(ClientError::OutOfStage),
        };
        Ok(Some(reply.encode(&self.session)))
    }

    fn check_enough(&self, got: usize) -> Result<(), ClientError> {
        if got < self.params.t as usize {
            return Err(ClientError::TooFew { got, t: self.params.t });
        }
        Ok(())
    }

    /// Stage 2: draw b, share b and s_sk t-of-k, seal each pair to its holder.
    fn share_keys(&mut self) -> Result<ToServer, ClientError> {
        let b = self.rng.bytes32();
        let s_sk = self.s_sk.as_ref().expect("set at setup").to_bytes();
        let k = self.neighbours.len();
        // Share i goes to neighbour i (x = i + 1): positions are fixed by the graph.
        let b_shares = crypto::split(&b, self.params.t, k, &mut self.rng);
        let s_shares = crypto::split(&s_sk, self.params.t, k, &mut self.rng);
        let c_sk = self.c_sk.as_ref().expect("set at setup");
        let mut to = Vec::with_capacity(self.keys.len());
        for (i, &v) in self.neighbours.iter().enumerate() {
            let Some((c_pk, _)) = self.keys.get(&v) else { continue };
            let key = crypto::derive(c_sk, c_pk, &self.session, &crypto::share_key_info(self.me, v))
                .ok_or(ClientError::BadKey(v))?;
            let mut plain = Vec::with_capacity(SEALED_PLAIN);
            plain.extend(self.me.to_le_bytes());
            plain.extend(v.to_le_bytes());
            plain.extend(&b_shares[i]);
            plain.extend(&s_shares[i]);
            let cb = crypto::commit(&self.session, self.me, v, b'b', &b_shares[i]);
            let cs = crypto::commit(&self.session, self.me, v, b's', &s_shares[i]);
            to.push((v, crypto::seal(&key, &plain), cb, cs));
        }
        self.self_seed = Some(b);
        self.stage = Stage::Shares;
        Ok(ToServer::Shares { to })
    }

    fn open_shares(&mut self, from: Vec<(SiteIdx, Vec<u8>)>) -> Result<(), ClientError> {
        let c_sk = self.c_sk.as_ref().expect("set at setup");
        for (u, ct) in from {
            let (c_pk, _) = self.keys.get(&u).ok_or(ClientError::NotNeighbour(u))?;
            let key = crypto::derive(c_sk, c_pk, &self.session, &crypto::share_key_info(u, self.me))
                .ok_or(ClientError::BadKey(u))?;
            let plain = crypto::open(&key, &ct).ok_or(ClientError::BadShare(u))?;
            if plain.len() != SEALED_PLAIN || plain[..4] != u.to_le_bytes() || plain[4..8] != self.me.to_le_bytes() {
                return Err(ClientError::BadShare(u));
            }
            let (bs, ss) = plain[8..].split_at(SHARE_LEN);
            self.held.insert(u, (bs.to_vec(), ss.to_vec()));
        }
        Ok(())
    }

    /// Stage 3: y = x + PRG(b) + sum over neighbours that shared of ±PRG(s_uv).
    fn masked_input(&mut self) -> Result<ToServer, ClientError> {
        let mut y = std::mem::take(&mut self.input);
        let mut jobs = vec![(self.self_seed.take().expect("drawn at stage 2"), true)];
        let s_sk = self.s_sk.as_ref().expect("set at setup");
        for &v in self.held.keys() {
            let (_, s_pk) = &self.keys[&v];
            let key = crypto::derive(s_sk, s_pk, &self.session, &crypto::mask_key_info(self.me, v))
                .ok_or(ClientError::BadKey(v))?;
            jobs.push((key, self.me < v));
        }
        super::apply_masks(&mut y, &jobs);
        self.stage = Stage::Unmask;
        Ok(ToServer::Masked { y })
    }

    /// Stage 4: for each neighbour, the share of b (survived) or of s_sk (dropped).
    fn reveal(&mut self, survivors: Vec<SiteIdx>, dropped: Vec<SiteIdx>) -> Result<ToServer, ClientError> {
        for v in &survivors {
            if dropped.contains(v) {
                return Err(ClientError::BothSecrets(*v));
            }
        }
        for v in survivors.iter().chain(&dropped) {
            if !self.held.contains_key(v) {
                return Err(ClientError::NotNeighbour(*v));
            }
        }
        // Myself plus my surviving neighbours must reach t, else the round cannot finish safely.
        self.check_enough(survivors.len() + 1)?;
        let b = survivors.iter().filter_map(|v| self.held.get(v).map(|h| (*v, h.0.clone()))).collect();
        let s = dropped.iter().map(|v| (*v, self.held[v].1.clone())).collect();
        self.stage = Stage::Done;
        self.held.clear();
        Ok(ToServer::Reveal { b, s })
    }
}

pub(crate) fn add(y: &mut [u32], m: &[u32]) {
    y.iter_mut().zip(m).for_each(|(a, b)| *a = a.wrapping_add(*b));
}
