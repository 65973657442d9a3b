//! `taskstream healthcheck [PATH|URL]`: asks the service running with the
//! same settings whether it is healthy, for container health checks in
//! images that have no shell and no curl. Exits 0 on a 2xx from `PATH`
//! (default `/healthz`) on the configured port, or from a full `URL` (a
//! Helm test pod checking the Service), and 1 otherwise.

use std::time::Duration;

use crate::settings::Settings;

/// How long the whole check may take.
const TIMEOUT: Duration = Duration::from_secs(3);

/// The URL the service answers on locally: the configured port, on
/// loopback when the service listens on every interface.
pub fn url(settings: &Settings, path: &str) -> String {
    let host = match settings.host.as_str() {
        "0.0.0.0" | "" => "127.0.0.1",
        "::" | "[::]" => "[::1]",
        host if host.contains(':') && !host.starts_with('[') => {
            return format!("http://[{host}]:{}{path}", settings.port);
        }
        host => host,
    };
    format!("http://{host}:{}{path}", settings.port)
}

/// Calls `target` (a path on the local service, or an http URL); `Ok` with
/// the status line on a 2xx.
pub fn check(settings: &Settings, target: &str) -> Result<String, String> {
    let url = if target.starts_with("http://") {
        target.to_owned()
    } else if target.starts_with('/') {
        url(settings, target)
    } else {
        return Err(format!(
            "{target:?} is neither a path such as /healthz nor an http:// URL"
        ));
    };
    actix_rt::System::new().block_on(async {
        let client = awc::Client::builder()
            .timeout(TIMEOUT)
            .connector(awc::Connector::new().timeout(TIMEOUT))
            .finish();
        let response = client
            .get(&url)
            .send()
            .await
            .map_err(|e| format!("{url}: {e}"))?;
        let status = response.status();
        if status.is_success() {
            Ok(format!("{url}: {status}"))
        } else {
            Err(format!("{url}: {status}"))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn on(host: &str) -> Settings {
        Settings {
            host: host.into(),
            port: 8080,
            ..Settings::default()
        }
    }

    #[test]
    fn every_interface_is_checked_on_loopback() {
        assert_eq!(
            url(&on("0.0.0.0"), "/healthz"),
            "http://127.0.0.1:8080/healthz"
        );
        assert_eq!(url(&on("::"), "/readyz"), "http://[::1]:8080/readyz");
        assert_eq!(
            url(&on("127.0.0.1"), "/healthz"),
            "http://127.0.0.1:8080/healthz"
        );
        assert_eq!(
            url(&on("fd00::1"), "/healthz"),
            "http://[fd00::1]:8080/healthz"
        );
    }

    #[test]
    fn a_service_that_is_not_there_fails_the_check() {
        let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = free.local_addr().unwrap().port();
        drop(free);
        let settings = Settings {
            port,
            ..on("127.0.0.1")
        };
        let err = check(&settings, "/healthz").unwrap_err();
        assert!(err.contains(&format!("127.0.0.1:{port}")), "{err}");
        assert!(check(&settings, "healthz").is_err());
        let err = check(&settings, &format!("http://127.0.0.1:{port}/readyz")).unwrap_err();
        assert!(err.contains("/readyz"), "{err}");
    }
}
