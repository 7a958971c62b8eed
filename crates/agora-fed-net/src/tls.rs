//! Credentials and TLS configurations. The coordinator is its own
//! certificate authority: `init` makes a CA, a server certificate, and one
//! client certificate per site, each written as a PEM bundle (CA cert,
//! site cert, site key) that the operator hands to that site only.

use crate::NetError;
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{ClientConfig, RootCertStore, ServerConfig};
use std::path::{Path, PathBuf};
use std::sync::Arc;

fn cert_err(e: impl std::fmt::Display) -> NetError {
    NetError::Cert(e.to_string())
}

/// The coordinator's state directory layout.
pub struct Dir(pub PathBuf);

impl Dir {
    pub fn ca(&self) -> PathBuf {
        self.0.join("ca.pem")
    }
    pub fn ca_key(&self) -> PathBuf {
        self.0.join("ca-key.pem")
    }
    pub fn server(&self) -> PathBuf {
        self.0.join("server.pem")
    }
    pub fn site(&self, name: &str) -> PathBuf {
        self.0.join("sites").join(format!("{}.pem", safe(name)))
    }
}

/// A file name for a site name (site names are free text in run files).
pub fn safe(name: &str) -> String {
    name.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '_' }).collect()
}

fn write_private(path: &Path, text: &str) -> Result<(), NetError> {
    if let Some(p) = path.parent() {
        std::fs::create_dir_all(p)?;
    }
    // Write then rename: never a half-written credential.
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o600))?;
    }
    std::fs::rename(&tmp, path)?;
    Ok(())
}

/// Create the CA, the server certificate (for `hosts`) and every site's
/// bundle, unless they already exist. Returns the site bundles' paths.
pub fn init(dir: &Path, hosts: &[String], sites: &[String]) -> Result<Vec<(String, PathBuf)>, NetError> {
    let d = Dir(dir.to_path_buf());
    let ca_key = if d.ca_key().exists() {
        let pem = std::fs::read_to_string(d.ca_key())?;
        KeyPair::from_pem(&pem).map_err(|e| cert_err(format!("{}: {e}", d.ca_key().display())))?
    } else {
        KeyPair::generate().map_err(cert_err)?
    };
    let ca_cert = ca_params().self_signed(&ca_key).map_err(cert_err)?;
    if !d.ca_key().exists() || !d.ca().exists() {
        write_private(&d.ca_key(), &ca_key.serialize_pem())?;
        write_private(&d.ca(), &ca_cert.pem())?;
    }
    // The CA certificate everyone trusts is the one first written.
    let ca_pem = first_cert_pem(&std::fs::read_to_string(d.ca())?)?;
    if !d.server().exists() {
        let key = KeyPair::generate().map_err(cert_err)?;
        let mut p = CertificateParams::new(hosts.to_vec()).map_err(cert_err)?;
        p.distinguished_name.push(DnType::CommonName, "agora fed coordinator");
        let cert = p.signed_by(&key, &ca_cert, &ca_key).map_err(cert_err)?;
        write_private(&d.server(), &format!("{}{}{}", cert.pem(), ca_pem, key.serialize_pem()))?;
    }
    let mut out = Vec::new();
    for s in sites {
        let path = d.site(s);
        if !path.exists() {
            let key = KeyPair::generate().map_err(cert_err)?;
            let mut p = CertificateParams::new(Vec::<String>::new()).map_err(cert_err)?;
            p.distinguished_name.push(DnType::CommonName, format!("agora fed site {s}"));
            let cert = p.signed_by(&key, &ca_cert, &ca_key).map_err(cert_err)?;
            write_private(&path, &format!("{}{}{}", cert.pem(), ca_pem, key.serialize_pem()))?;
        }
        out.push((s.clone(), path));
    }
    Ok(out)
}

fn ca_params() -> CertificateParams {
    let mut p = CertificateParams::new(Vec::<String>::new()).expect("no names");
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.distinguished_name.push(DnType::CommonName, "agora fed CA");
    p
}

fn first_cert_pem(text: &str) -> Result<String, NetError> {
    let end = "-----END CERTIFICATE-----";
    let i = text.find(end).ok_or_else(|| cert_err("no certificate in CA file"))?;
    Ok(format!("{}\n", &text[..i + end.len()]))
}

/// A PEM bundle: leaf certificate, CA certificate, private key.
pub struct Bundle {
    pub cert: CertificateDer<'static>,
    pub ca: CertificateDer<'static>,
    pub key: PrivateKeyDer<'static>,
}

pub fn load_bundle(path: &Path) -> Result<Bundle, NetError> {
    let text = std::fs::read(path).map_err(|e| cert_err(format!("{}: {e}", path.display())))?;
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&text)
        .collect::<Result<_, _>>()
        .map_err(|e| cert_err(format!("{}: {e}", path.display())))?;
    if certs.len() != 2 {
        return Err(cert_err(format!("{}: expected 2 certificates (own, CA), found {}", path.display(), certs.len())));
    }
    let key = PrivateKeyDer::from_pem_slice(&text).map_err(|e| cert_err(format!("{}: {e}", path.display())))?;
    let mut it = certs.into_iter();
    Ok(Bundle { cert: it.next().expect("2"), ca: it.next().expect("2"), key })
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn roots(ca: &CertificateDer<'static>) -> Result<RootCertStore, NetError> {
    let mut r = RootCertStore::empty();
    r.add(ca.clone())?;
    Ok(r)
}

/// Server side: only certificates issued by our CA are accepted.
pub fn server_config(b: &Bundle) -> Result<Arc<ServerConfig>, NetError> {
    let verifier =
        WebPkiClientVerifier::builder_with_provider(Arc::new(roots(&b.ca)?), provider()).build().map_err(cert_err)?;
    let cfg = ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .with_client_cert_verifier(verifier)
        .with_single_cert(vec![b.cert.clone(), b.ca.clone()], b.key.clone_key())?;
    Ok(Arc::new(cfg))
}

pub fn client_config(b: &Bundle) -> Result<Arc<ClientConfig>, NetError> {
    let cfg = ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .with_root_certificates(roots(&b.ca)?)
        .with_client_auth_cert(vec![b.cert.clone()], b.key.clone_key())?;
    Ok(Arc::new(cfg))
}
