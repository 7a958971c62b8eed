//! `agora fed join`: connect outbound to the coordinator over mutual TLS
//! and answer its messages with the sans-IO [`Agent`] until the run ends.

use crate::frame::{recv_down, send_ups};
use crate::tls::{self, Bundle};
use crate::NetError;
use agora_fed::prg::Prg;
use agora_fed::run::{Agent, Down, Trainer, Up};
use rustls::pki_types::ServerName;
use rustls::{ClientConnection, StreamOwned};
use std::net::TcpStream;

/// Bytes this agent sent and received (for benchmarks and logs).
#[derive(Clone, Copy, Debug, Default)]
pub struct Traffic {
    pub sent: usize,
    pub rounds: u32,
}

pub fn join<T: Trainer>(
    addr: &str,
    server_name: &str,
    bundle: &Bundle,
    trainer: T,
    log: &mut dyn FnMut(&str),
) -> Result<Traffic, NetError> {
    let cfg = tls::client_config(bundle)?;
    let name = ServerName::try_from(server_name.to_string()).map_err(|e| NetError::Cert(e.to_string()))?;
    // The coordinator may not be up yet: keep trying for a while (outbound only).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let tcp = loop {
        match TcpStream::connect(addr) {
            Ok(t) => break t,
            Err(e) if std::time::Instant::now() < deadline && e.kind() == std::io::ErrorKind::ConnectionRefused => {
                std::thread::sleep(std::time::Duration::from_millis(200));
            }
            Err(e) => return Err(e.into()),
        }
    };
    let mut s = StreamOwned::new(ClientConnection::new(cfg, name)?, tcp);
    let mut agent = Agent::new(trainer, Prg::from_entropy());
    let mut traffic = Traffic::default();
    loop {
        let down = match recv_down(&mut s) {
            Ok(d) => d,
            Err(NetError::Io(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(traffic),
            Err(e) => return Err(e),
        };
        let finish = matches!(down, Down::Finish { .. });
        if let Down::Round { round, .. } = &down {
            traffic.rounds = *round;
            log(&format!("round {round}: training"));
        }
        let ups = match agent.handle(down) {
            Ok(u) => u,
            Err(e) => {
                log(&format!("left this round: {e}"));
                vec![Up::Failed(e.to_string())]
            }
        };
        traffic.sent += send_ups(&mut s, &ups)?;
        if finish {
            return Ok(traffic);
        }
    }
}
