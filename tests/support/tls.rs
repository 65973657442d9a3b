//! A certificate authority of the tests' own: it issues a certificate for
//! 127.0.0.1 that an `https` receiver serves, and writes its own
//! certificate to a PEM file the service can be told to trust
//! (`WEBHOOK_CA_FILE`).

use std::path::PathBuf;
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, KeyUsagePurpose,
};
use rustls::ServerConfig;
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};

pub struct TestCa {
    /// The CA's certificate, PEM, in a file of its own.
    ca_file: tempfile::NamedTempFile,
    /// What a server presenting the 127.0.0.1 certificate serves with.
    server: Arc<ServerConfig>,
}

impl TestCa {
    pub fn new() -> Self {
        let mut ca = CertificateParams::new(Vec::<String>::new()).expect("CA parameters");
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.distinguished_name
            .push(DnType::CommonName, "taskstream test CA");
        ca.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let ca = CertifiedIssuer::self_signed(ca, KeyPair::generate().expect("CA key"))
            .expect("the CA's certificate");
        let key = KeyPair::generate().expect("server key");
        let leaf = CertificateParams::new(vec!["127.0.0.1".to_owned()])
            .expect("server parameters")
            .signed_by(&key, &ca)
            .expect("the server's certificate");
        let ca_file = tempfile::NamedTempFile::new().expect("a file for the CA");
        std::fs::write(ca_file.path(), ca.pem()).expect("the CA written");
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let server = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("protocol versions")
            .with_no_client_auth()
            .with_single_cert(
                vec![leaf.der().clone(), ca.der().clone()],
                PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
            )
            .expect("a server configuration");
        Self {
            ca_file,
            server: Arc::new(server),
        }
    }

    /// The PEM file holding the CA's certificate.
    pub fn ca_file(&self) -> PathBuf {
        self.ca_file.path().to_path_buf()
    }

    pub fn server_config(&self) -> ServerConfig {
        (*self.server).clone()
    }
}
