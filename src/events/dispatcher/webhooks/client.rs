//! The HTTP client that delivers webhooks: signed as Standard Webhooks
//! prescribes, bounded in time and in what it reads, never following a
//! redirect, and refusing to connect to an address the policy does not
//! permit — checked at every resolution, so a name that resolves inside the
//! network (now, or after the endpoint was registered) is never reached.
//! `https` receivers are verified against the system's CA certificates
//! (`SSL_CERT_FILE`/`SSL_CERT_DIR` name others) and `WEBHOOK_CA_FILE`.

use std::error::Error as StdError;
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_tls::connect::{ConnectError, Connector as TcpConnector, Resolve, Resolver};
use awc::error::SendRequestError;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use futures_util::StreamExt;
use futures_util::future::LocalBoxFuture;
use hmac::{Hmac, KeyInit, Mac};
use rustls::{ClientConfig, RootCertStore};
use sha2::Sha256;
use slog::{Logger, warn};

use crate::domain::webhook::AddressPolicy;
use crate::settings::Settings;

/// How much of a receiver's answer is read (kept as the attempt's error).
const ANSWER_LIMIT: usize = 1024;
const USER_AGENT: &str = concat!("taskstream-webhooks/", env!("CARGO_PKG_VERSION"));

/// What a receiver made of one delivery.
#[derive(Debug, Clone)]
pub struct Answer {
    /// Its HTTP status; `None` when it never answered.
    pub status: Option<u16>,
    pub latency: Duration,
    /// Why it failed (the start of the answer's body, or the connection
    /// error); `None` for a 2xx.
    pub error: Option<String>,
}

impl Answer {
    pub fn delivered(&self) -> bool {
        self.status.is_some_and(|s| (200..300).contains(&s))
    }

    /// `410 Gone`: the receiver asks for no more deliveries.
    pub fn gone(&self) -> bool {
        self.status == Some(410)
    }
}

/// One signed delivery.
pub struct Delivery<'a> {
    pub url: &'a str,
    /// `webhook-id`: the event's id, the same on every retry.
    pub id: &'a str,
    pub body: Vec<u8>,
    /// Signs with every secret that signs now (two while a rotated one is
    /// in its grace).
    pub signer: &'a Signer,
}

/// Delivers webhooks. `awc::Client` is `!Send`: build it on the thread
/// that uses it.
pub struct Client {
    http: awc::Client,
    policy: Rc<AddressPolicy>,
}

impl Client {
    pub fn new(settings: &Settings, log: &Logger) -> Result<Self, String> {
        let policy = Rc::new(settings.webhook_policy()?);
        let resolver = Resolver::custom(Guard(policy.clone()));
        let connector = awc::Connector::new()
            .connector(TcpConnector::new(resolver).service())
            .rustls_0_23(Arc::new(tls(settings, log)?))
            .timeout(Duration::from_secs_f64(settings.webhook_connect_timeout))
            // Many receivers at once, each with a connection or two.
            .limit(256);
        let http = awc::Client::builder()
            .connector(connector)
            .timeout(Duration::from_secs_f64(settings.webhook_timeout))
            .disable_redirects()
            .add_default_header(("User-Agent", USER_AGENT))
            .finish();
        Ok(Self { http, policy })
    }

    /// POSTs one event, signed; never fails, the answer says how it went.
    pub async fn deliver(&self, delivery: Delivery<'_>) -> Answer {
        let started = Instant::now();
        let refused = |why: String| Answer {
            status: None,
            latency: started.elapsed(),
            error: Some(why),
        };
        // An address written in the URL is never resolved: judged here.
        let host = delivery
            .url
            .parse::<awc::http::Uri>()
            .ok()
            .and_then(|uri| uri.host().map(str::to_owned));
        match host {
            None => return refused("the URL has no host".into()),
            Some(host) => {
                if let Some(why) = self.policy.refuses_host(&host) {
                    return refused(format!("not delivered: {why}"));
                }
            }
        }
        let timestamp = chrono::Utc::now().timestamp();
        let signature = match delivery.signer.sign(delivery.id, timestamp, &delivery.body) {
            Ok(signature) => signature,
            Err(why) => return refused(why),
        };
        let sent = self
            .http
            .post(delivery.url)
            .insert_header(("Content-Type", crate::events::cloudevent::CONTENT_TYPE))
            .insert_header(("webhook-id", delivery.id))
            .insert_header(("webhook-timestamp", timestamp.to_string()))
            .insert_header(("webhook-signature", signature))
            .send_body(delivery.body)
            .await;
        let mut response = match sent {
            Ok(response) => response,
            Err(e) => return refused(describe(&e)),
        };
        let status = response.status().as_u16();
        // Read a little of the answer (for the record, and so a small one
        // leaves the connection reusable); never all of a large one.
        let mut excerpt = Vec::new();
        while excerpt.len() < ANSWER_LIMIT {
            match response.next().await {
                Some(Ok(chunk)) => excerpt.extend_from_slice(&chunk),
                _ => break,
            }
        }
        excerpt.truncate(ANSWER_LIMIT);
        let latency = started.elapsed();
        let error = (!(200..300).contains(&status)).then(|| {
            let text = String::from_utf8_lossy(&excerpt);
            let text = text.trim();
            match status {
                300..400 => format!("HTTP {status}: redirects are not followed"),
                _ if text.is_empty() => format!("HTTP {status}"),
                _ => format!("HTTP {status}: {text}"),
            }
        });
        Answer {
            status: Some(status),
            latency,
            error,
        }
    }
}

/// How `https` receivers are verified: by the system's CA certificates and
/// those of `WEBHOOK_CA_FILE`. A system store that cannot be read is
/// logged, not fatal: plain `http` receivers still work.
fn tls(settings: &Settings, log: &Logger) -> Result<ClientConfig, String> {
    let mut roots = RootCertStore::empty();
    let system = rustls_native_certs::load_native_certs();
    for error in &system.errors {
        warn!(log, "reading the system's CA certificates failed"; "error" => error.to_string());
    }
    let (added, _) = roots.add_parsable_certificates(system.certs);
    let extra = settings.webhook_ca_certs()?;
    if added == 0 && extra.is_empty() {
        warn!(
            log,
            "no CA certificates found: https webhook receivers cannot be verified"
        );
    }
    for cert in extra {
        roots
            .add(cert)
            .map_err(|e| format!("WEBHOOK_CA_FILE: {e}"))?;
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
}

/// Signs deliveries as Standard Webhooks prescribes: for each secret, `v1,`
/// and the base64 HMAC-SHA256 of `{id}.{timestamp}.{body}` under the
/// secret's key (the base64 after `whsec_`), space-separated. The keys are
/// set up once, for every delivery of a batch.
pub struct Signer {
    keys: Result<Vec<Hmac<Sha256>>, String>,
}

impl Signer {
    /// A secret that is not base64 (never one this service made) makes
    /// every signature fail with the reason.
    pub fn new(secrets: &[&str]) -> Self {
        let keys = secrets
            .iter()
            .map(|secret| {
                let encoded = secret.strip_prefix("whsec_").unwrap_or(secret);
                let key = BASE64
                    .decode(encoded)
                    .map_err(|e| format!("the endpoint's secret is not base64: {e}"))?;
                Hmac::<Sha256>::new_from_slice(&key).map_err(|e| e.to_string())
            })
            .collect();
        Self { keys }
    }

    /// The `webhook-signature` header.
    pub fn sign(&self, id: &str, timestamp: i64, body: &[u8]) -> Result<String, String> {
        let keys = self.keys.as_ref().map_err(Clone::clone)?;
        let timestamp = timestamp.to_string();
        let mut header = String::with_capacity(keys.len() * 48);
        for key in keys {
            let mut mac = key.clone();
            for part in [id.as_bytes(), b".", timestamp.as_bytes(), b".", body] {
                mac.update(part);
            }
            if !header.is_empty() {
                header.push(' ');
            }
            header.push_str("v1,");
            BASE64.encode_string(mac.finalize().into_bytes(), &mut header);
        }
        Ok(header)
    }
}

fn describe(error: &SendRequestError) -> String {
    match error {
        SendRequestError::Timeout => "no answer in time".into(),
        SendRequestError::Connect(awc::error::ConnectError::Timeout) => {
            "could not connect in time".into()
        }
        SendRequestError::Connect(awc::error::ConnectError::Resolver(why)) => {
            format!("not delivered: {why}")
        }
        other => format!("could not deliver: {other}"),
    }
}

/// Resolves names, keeping only the addresses the policy permits (all of
/// them for a name it lists).
struct Guard(Rc<AddressPolicy>);

impl Resolve for Guard {
    fn lookup<'a>(
        &'a self,
        host: &'a str,
        port: u16,
    ) -> LocalBoxFuture<'a, Result<Vec<SocketAddr>, Box<dyn StdError>>> {
        Box::pin(async move {
            let found: Vec<SocketAddr> = tokio::net::lookup_host((host, port))
                .await
                .map_err(|e| Box::new(ConnectError::Io(e)) as Box<dyn StdError>)?
                .collect();
            if self.0.names(host) {
                return Ok(found);
            }
            let permitted: Vec<SocketAddr> = found
                .iter()
                .copied()
                .filter(|addr| self.0.permits(addr.ip()))
                .collect();
            if permitted.is_empty() && !found.is_empty() {
                return Err(
                    format!("{host} resolves to an internal address ({})", found[0].ip()).into(),
                );
            }
            Ok(permitted)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sign(id: &str, timestamp: i64, body: &[u8], secrets: &[&str]) -> Result<String, String> {
        Signer::new(secrets).sign(id, timestamp, body)
    }

    #[test]
    fn signs_as_the_standard_webhooks_reference_does() {
        // The reference vector of the Standard Webhooks specification.
        let signature = sign(
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1_614_265_330,
            br#"{"test": 2432232314}"#,
            &["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"],
        )
        .unwrap();
        assert_eq!(signature, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
        let two = sign(
            "id",
            1,
            b"{}",
            &["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whsec_AAAA"],
        )
        .unwrap();
        assert_eq!(two.split(' ').count(), 2);
        assert!(two.split(' ').all(|s| s.starts_with("v1,")));
        let err = sign("id", 1, b"{}", &["whsec_not*base64"]).unwrap_err();
        assert!(err.contains("not base64"), "{err}");
    }

    proptest::proptest! {
        /// Whatever the id, time, body and secrets, the header is what the
        /// `standardwebhooks` crate (the specification's own) signs, and
        /// its verifier takes it with any one of the secrets.
        #[test]
        fn signs_as_the_standardwebhooks_crate_does(
            id in "[A-Za-z0-9_-]{1,40}",
            timestamp in 1_600_000_000i64..2_000_000_000,
            // Bodies are JSON, UTF-8 (the crate signs nothing else).
            body in "\\PC{0,600}",
            keys in proptest::collection::vec(proptest::collection::vec(proptest::num::u8::ANY, 24..64), 1..3),
        ) {
            let secrets: Vec<String> = keys
                .iter()
                .map(|k| format!("whsec_{}", BASE64.encode(k)))
                .collect();
            let secrets: Vec<&str> = secrets.iter().map(String::as_str).collect();
            let ours = sign(&id, timestamp, body.as_bytes(), &secrets).unwrap();
            let theirs: Vec<String> = secrets
                .iter()
                .map(|s| standardwebhooks::Webhook::new(s).unwrap().sign(&id, timestamp, body.as_bytes()).unwrap())
                .collect();
            proptest::prop_assert_eq!(&ours, &theirs.join(" "));
            // Its verifier takes a fresh delivery's header with any secret
            // (it refuses old timestamps, so this one is signed now).
            let now = chrono::Utc::now().timestamp();
            let header = sign(&id, now, body.as_bytes(), &secrets).unwrap();
            let mut headers = http::HeaderMap::new();
            headers.insert("webhook-id", id.parse().unwrap());
            headers.insert("webhook-timestamp", now.to_string().parse().unwrap());
            headers.insert("webhook-signature", header.parse().unwrap());
            for secret in &secrets {
                let verifier = standardwebhooks::Webhook::new(secret).unwrap();
                proptest::prop_assert!(verifier.verify(body.as_bytes(), &headers).is_ok());
            }
        }
    }

    #[actix_rt::test]
    async fn names_that_resolve_inside_are_refused_unless_listed() {
        let guard = Guard(Rc::new(AddressPolicy::default()));
        let err = guard.lookup("localhost", 80).await.expect_err("loopback");
        assert!(err.to_string().contains("internal address"), "{err}");
        let listed = Guard(Rc::new(
            AddressPolicy::parse(["localhost"].into_iter()).unwrap(),
        ));
        assert!(!listed.lookup("localhost", 80).await.unwrap().is_empty());
        let by_range = Guard(Rc::new(
            AddressPolicy::parse(["127.0.0.0/8", "::1"].into_iter()).unwrap(),
        ));
        assert!(!by_range.lookup("localhost", 80).await.unwrap().is_empty());
    }
}
