//! `agora fed serve`: accept agents over mutual TLS, then pump the sans-IO
//! [`Coordinator`] round by round. One thread owns the coordinator; each
//! connection has a thread that writes one `Down` and reads its one batch
//! of `Up` replies (or times out: the site is then lost for the run).

use crate::frame::{recv_ups, send_down};
use crate::tls::{self, Bundle};
use crate::NetError;
use agora_fed::dp::Accountant;
use agora_fed::prg::Prg;
use agora_fed::run::{Coordinator, Down, Progress, RunConfig, Status, Up};
use rustls::{ServerConnection, StreamOwned};
use std::collections::{BTreeMap, BTreeSet};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError, Sender};
use std::time::{Duration, Instant};

#[derive(Clone, Copy, Debug)]
pub struct Timeouts {
    /// How long to wait for every listed site to connect.
    pub join: Duration,
    /// How long one protocol stage may take (training included).
    pub stage: Duration,
}

enum Event {
    Joined(String, Sender<Down>),
    Ups(String, Vec<Up>),
    Lost(String, String),
}

/// What the coordinator tells its operator as the run goes.
pub trait Observer {
    fn joined(&mut self, _site: &str) {}
    fn round(&mut self, _status: &Status) {}
    fn note(&mut self, _msg: &str) {}
}

/// Serve one run to completion on `listener`; credentials from `dir`.
pub fn serve(
    listener: TcpListener,
    run: RunConfig,
    dir: &Path,
    accountant: Accountant,
    t: Timeouts,
    obs: &mut dyn Observer,
) -> Result<Coordinator, NetError> {
    let d = tls::Dir(dir.to_path_buf());
    let server = tls::load_bundle(&d.server())?;
    let mut known: BTreeMap<Vec<u8>, String> = BTreeMap::new();
    for s in &run.sites {
        let b = tls::load_bundle(&d.site(s))?;
        known.insert(b.cert.as_ref().to_vec(), s.clone());
    }
    let cfg = tls::server_config(&server)?;
    let mut coord = Coordinator::new(run.clone(), accountant, Prg::from_entropy())?;
    let (tx, rx) = channel::<Event>();
    let stage = t.stage;
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(tcp) = conn else { continue };
            let (cfg, known, tx) = (cfg.clone(), known.clone(), tx.clone());
            std::thread::spawn(move || handle(tcp, cfg, known, tx, stage));
        }
    });
    let mut links: BTreeMap<String, Sender<Down>> = BTreeMap::new();
    let deadline = Instant::now() + t.join;
    while links.len() < run.sites.len() {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(Event::Joined(s, l)) => {
                obs.joined(&s);
                links.insert(s, l);
            }
            Ok(Event::Lost(s, why)) => {
                obs.note(&format!("{s}: {why}"));
                links.remove(&s);
            }
            Ok(Event::Ups(..)) => {}
            Err(_) => break,
        }
    }
    while !coord.is_finished() {
        let names: Vec<String> = links.keys().cloned().collect();
        let mut out = match coord.start_round(&names) {
            Ok(o) => o,
            Err(e) => {
                obs.note(&format!("run stopped: {e}"));
                return Err(e.into());
            }
        };
        loop {
            exchange(&mut coord, &mut links, &rx, out, t.stage, obs);
            match coord.advance()? {
                Progress::Send(next) => out = next,
                Progress::RoundDone(_) => break,
            }
        }
        obs.round(&coord.status());
    }
    let names: Vec<String> = links.keys().cloned().collect();
    let fin = coord.finish(&names);
    exchange(&mut coord, &mut links, &rx, fin, t.stage, obs);
    obs.round(&coord.status());
    Ok(coord)
}

/// Send each message, collect each site's replies until all came or the stage's time is up.
fn exchange(
    coord: &mut Coordinator,
    links: &mut BTreeMap<String, Sender<Down>>,
    rx: &Receiver<Event>,
    out: Vec<(String, Down)>,
    stage: Duration,
    obs: &mut dyn Observer,
) {
    let mut pending = BTreeSet::new();
    for (site, d) in out {
        if let Some(l) = links.get(&site) {
            if l.send(d).is_ok() {
                pending.insert(site);
            } else {
                links.remove(&site);
            }
        }
    }
    let deadline = Instant::now() + stage;
    while !pending.is_empty() {
        match rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            Ok(Event::Ups(site, ups)) => {
                pending.remove(&site);
                for up in ups {
                    if let Err(e) = coord.receive(&site, up) {
                        obs.note(&format!("{site}: {e}"));
                    }
                }
            }
            Ok(Event::Lost(site, why)) => {
                obs.note(&format!("{site} lost: {why}"));
                pending.remove(&site);
                links.remove(&site);
            }
            Ok(Event::Joined(site, l)) => {
                // A site reconnecting mid-round takes part from the next round.
                links.insert(site, l);
            }
            Err(RecvTimeoutError::Timeout) | Err(RecvTimeoutError::Disconnected) => break,
        }
    }
}

fn handle(
    tcp: TcpStream,
    cfg: std::sync::Arc<rustls::ServerConfig>,
    known: BTreeMap<Vec<u8>, String>,
    tx: Sender<Event>,
    stage: Duration,
) {
    let _ = tcp.set_read_timeout(Some(Duration::from_secs(10)));
    let Ok(conn) = ServerConnection::new(cfg) else { return };
    let mut s = StreamOwned::new(conn, tcp);
    // Finish the handshake, then identify the site by its certificate.
    while s.conn.is_handshaking() {
        if s.conn.complete_io(&mut s.sock).is_err() {
            return;
        }
    }
    let Some(site) = s.conn.peer_certificates().and_then(|c| c.first()).and_then(|c| known.get(c.as_ref())).cloned()
    else {
        return;
    };
    let _ = s.sock.set_read_timeout(Some(stage));
    let (dtx, drx) = channel::<Down>();
    if tx.send(Event::Joined(site.clone(), dtx)).is_err() {
        return;
    }
    for d in drx {
        let r = send_down(&mut s, &d).and_then(|_| recv_ups(&mut s));
        match r {
            Ok(ups) => {
                if tx.send(Event::Ups(site.clone(), ups)).is_err() {
                    return;
                }
            }
            Err(e) => {
                let _ = tx.send(Event::Lost(site.clone(), e.to_string()));
                return;
            }
        }
    }
}

/// Used by `agora fed join` and tests: the coordinator's certificate check.
pub fn server_bundle(dir: &Path) -> Result<Bundle, NetError> {
    tls::load_bundle(&tls::Dir(dir.to_path_buf()).server())
}
