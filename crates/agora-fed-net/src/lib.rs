//! The transport of Agora's federated training, kept apart from the
//! protocol (`agora-fed` is pure): TLS 1.3 with mutual authentication
//! (rustls, ring provider), credentials issued by the coordinator (rcgen),
//! length-prefixed frames, and the blocking loops that pump the sans-IO
//! coordinator and agent.
//!
//! Agents connect outbound only; a site is known by the certificate the
//! coordinator issued to it (exact DER match), never by anything it says.
//! Frames carry `Down`/`Up` messages; none has a field for a data path.

pub mod agent;
pub mod byo;
pub mod coordinator;
pub mod frame;
pub mod tls;

#[derive(Debug, thiserror::Error)]
pub enum NetError {
    #[error("io: {0}")]
    Io(#[from] std::io::Error),
    #[error("tls: {0}")]
    Tls(#[from] rustls::Error),
    #[error("certificates: {0}")]
    Cert(String),
    #[error("frame: {0}")]
    Frame(String),
    #[error(transparent)]
    Run(#[from] agora_fed::run::RunError),
    #[error("agent: {0}")]
    Agent(String),
}
