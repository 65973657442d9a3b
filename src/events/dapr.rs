//! The Dapr sidecar's publish API, over `awc`: one event with `POST
//! {sidecar}/v1.0/publish/{pubsub}/{topic}?metadata.partitionKey={user}`,
//! several with the bulk publish API (`POST
//! {sidecar}/v1.0-alpha1/publish/bulk/{pubsub}/{topic}`, each entry with
//! its own partition key), and the Jobs API. This binary never talks to
//! Kafka itself.

use std::time::Duration;

use actix_web::http::StatusCode;

use crate::settings::Settings;

/// Why a publication failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum PublishError {
    /// Connection refused or reset: the sidecar is not there.
    #[error("sidecar unreachable: {0}")]
    Unreachable(String),
    /// No answer within DAPR_PUBLISH_TIMEOUT.
    #[error("sidecar did not answer in time")]
    Timeout,
    /// The sidecar answered with an error status (e.g. 500: the broker
    /// refused; 404: no such pub/sub component).
    #[error("sidecar answered {status}: {body}")]
    Status { status: u16, body: String },
}

impl PublishError {
    /// `dapr_status` for logs and the failure-reason metric label.
    pub fn reason(&self) -> String {
        match self {
            Self::Unreachable(_) => "unreachable".into(),
            Self::Timeout => "timeout".into(),
            Self::Status { status, .. } => status.to_string(),
        }
    }

    /// The error with its body cut to what is worth logging and storing.
    fn shortened(self) -> Self {
        match self {
            Self::Status { status, body } if body.chars().count() > ERROR_TEXT_LIMIT => {
                Self::Status {
                    status,
                    body: body.chars().take(ERROR_TEXT_LIMIT).collect(),
                }
            }
            other => other,
        }
    }

    /// Whether the sidecar itself is away (logged as a warning) rather than
    /// answering with an error (logged as an error).
    pub fn is_unavailable(&self) -> bool {
        matches!(self, Self::Unreachable(_) | Self::Timeout)
    }
}

/// Why a bulk publication failed as a whole.
#[derive(Debug, thiserror::Error)]
pub enum BulkError {
    /// The sidecar has no bulk publish API (404, 405 or 501 from a Dapr
    /// older than 1.10, or one that turned it off).
    #[error("the sidecar does not offer bulk publish ({0})")]
    Unsupported(u16),
    /// No entry was published.
    #[error(transparent)]
    Failed(#[from] PublishError),
}

/// One event of a bulk publication: a structured CloudEvent and the key
/// that picks its partition.
pub struct BulkEntry<'a> {
    /// Unique within the request (the event id).
    pub entry_id: &'a str,
    pub partition_key: &'a str,
    pub event: super::cloudevent::CloudEvent<'a>,
}

/// A bulk entry as Dapr reads it, serialized straight from the CloudEvent.
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct WireEntry<'a> {
    entry_id: &'a str,
    event: &'a super::cloudevent::CloudEvent<'a>,
    content_type: &'static str,
    metadata: WireMetadata<'a>,
}

#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct WireMetadata<'a> {
    partition_key: &'a str,
}

/// An entry the sidecar could not publish, and the broker's reason.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub struct FailedEntry {
    #[serde(rename = "entryId")]
    pub entry_id: String,
    #[serde(default)]
    pub error: String,
}

#[derive(serde::Deserialize)]
struct BulkFailure {
    #[serde(rename = "failedEntries", default)]
    failed_entries: Option<Vec<FailedEntry>>,
}

/// Largest error body read from the sidecar: a bulk answer lists every
/// failed entry.
const ERROR_BODY_LIMIT: usize = 4 * 1024 * 1024;
/// Characters of an error body kept in an error (logged, and stored with
/// the failed delivery).
const ERROR_TEXT_LIMIT: usize = 1024;

/// A client for one sidecar. `awc::Client` is `!Send`: build it on the task
/// that uses it.
pub struct DaprClient {
    client: awc::Client,
    base: String,
    pubsub: String,
    /// `{base}/{version}/jobs`.
    jobs: String,
    token: Option<String>,
}

impl DaprClient {
    pub fn new(settings: &Settings) -> Self {
        let timeout = Duration::from_secs_f64(settings.dapr_publish_timeout);
        let client = awc::Client::builder()
            .timeout(timeout)
            .connector(awc::Connector::new().timeout(timeout))
            .finish();
        let base = settings.dapr_base_url();
        Self {
            client,
            jobs: format!("{base}/{}/jobs", settings.dapr_jobs_api_version),
            base,
            pubsub: settings.dapr_pubsub_name.clone(),
            token: settings.dapr_api_token.clone(),
        }
    }

    /// Publishes one structured CloudEvent; Ok on any 2xx.
    pub async fn publish(
        &self,
        topic: &str,
        partition_key: &str,
        body: Vec<u8>,
    ) -> Result<(), PublishError> {
        let url = format!("{}/v1.0/publish/{}/{}", self.base, self.pubsub, topic);
        let request = self
            .client
            .post(url)
            .query(&[("metadata.partitionKey", partition_key)])
            .map_err(|e| PublishError::Unreachable(e.to_string()))?
            .insert_header(("Content-Type", super::cloudevent::CONTENT_TYPE));
        self.call(request, Body::Raw(body)).await
    }

    /// Publishes several CloudEvents on `topic` in one request. Ok lists the
    /// entries that failed (none: all were published); an error means none
    /// was.
    pub async fn publish_bulk(
        &self,
        topic: &str,
        entries: &[BulkEntry<'_>],
    ) -> Result<Vec<FailedEntry>, BulkError> {
        let url = format!(
            "{}/v1.0-alpha1/publish/bulk/{}/{}",
            self.base, self.pubsub, topic
        );
        let wire: Vec<WireEntry<'_>> = entries
            .iter()
            .map(|entry| WireEntry {
                entry_id: entry.entry_id,
                event: &entry.event,
                content_type: super::cloudevent::CONTENT_TYPE,
                metadata: WireMetadata {
                    partition_key: entry.partition_key,
                },
            })
            .collect();
        // Sized up front: growing by doubling would copy a large body
        // several times over and fault in fresh pages each round.
        let mut body = Vec::with_capacity(entries.len() * super::cloudevent::SIZE_HINT);
        serde_json::to_writer(&mut body, &wire).map_err(|e| PublishError::Status {
            status: 0,
            body: e.to_string(),
        })?;
        let request = self
            .client
            .post(url)
            .insert_header(("Content-Type", "application/json"));
        match self.send(request, Body::Raw(body)).await {
            Ok(()) => Ok(Vec::new()),
            Err(PublishError::Status { status, body }) => {
                // A missing pub/sub component is an error of this sidecar's
                // configuration, not a sidecar without the API.
                let no_route =
                    matches!(status, 404 | 405 | 501) && !body.contains("ERR_PUBSUB_NOT_FOUND");
                if no_route {
                    return Err(BulkError::Unsupported(status));
                }
                match serde_json::from_str::<BulkFailure>(&body) {
                    Ok(BulkFailure {
                        failed_entries: Some(failed),
                    }) if status == 500 && !failed.is_empty() => Ok(failed),
                    _ => Err(PublishError::Status { status, body }.shortened().into()),
                }
            }
            Err(other) => Err(other.into()),
        }
    }

    /// Schedules (or replaces) the one-shot job `name` for `due` with the
    /// Dapr Jobs API; Dapr calls `POST /job/{name}` then.
    pub async fn schedule_job(
        &self,
        name: &str,
        due: chrono::DateTime<chrono::Utc>,
        data: serde_json::Value,
    ) -> Result<(), PublishError> {
        let url = format!("{}/{name}", self.jobs);
        let body = serde_json::json!({
            "dueTime": due.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            "data": data,
        });
        self.call(self.client.post(url), Body::Json(body)).await
    }

    /// Deletes the job `name` (a missing job is fine).
    pub async fn delete_job(&self, name: &str) -> Result<(), PublishError> {
        let url = format!("{}/{name}", self.jobs);
        match self.call(self.client.delete(url), Body::Empty).await {
            Err(PublishError::Status { status: 404, .. }) => Ok(()),
            other => other,
        }
    }

    /// Sends a request to the sidecar with the API token; Ok on any 2xx.
    async fn call(&self, request: awc::ClientRequest, body: Body) -> Result<(), PublishError> {
        self.send(request, body)
            .await
            .map_err(PublishError::shortened)
    }

    /// [`Self::call`] with the whole error body (up to `ERROR_BODY_LIMIT`),
    /// for answers that list something.
    async fn send(&self, mut request: awc::ClientRequest, body: Body) -> Result<(), PublishError> {
        if let Some(token) = &self.token {
            request = request.insert_header(("dapr-api-token", token.as_str()));
        }
        let sent = match body {
            Body::Empty => request.send().await,
            Body::Json(value) => request.send_json(&value).await,
            Body::Raw(bytes) => request.send_body(bytes).await,
        };
        let mut response = sent.map_err(|e| match e {
            awc::error::SendRequestError::Timeout
            | awc::error::SendRequestError::Connect(awc::error::ConnectError::Timeout) => {
                PublishError::Timeout
            }
            other => PublishError::Unreachable(other.to_string()),
        })?;
        let status: StatusCode = response.status();
        if status.is_success() {
            return Ok(());
        }
        let body = response
            .body()
            .limit(ERROR_BODY_LIMIT)
            .await
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default();
        Err(PublishError::Status {
            status: status.as_u16(),
            body,
        })
    }
}

/// What a sidecar call sends.
enum Body {
    Empty,
    Json(serde_json::Value),
    /// Already encoded, with its content type set on the request.
    Raw(Vec<u8>),
}
