//! Prometheus metrics, served as text at `GET /metrics`.

use prometheus::{
    Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, Opts, Registry,
};

/// Every metric the service exports.
pub struct Metrics {
    registry: Registry,
    /// Domain events committed to the log.
    pub events_written: IntCounter,
    /// Messages the sidecar accepted, by topic.
    pub events_published: IntCounterVec,
    /// Failed publish attempts, by reason (unreachable, timeout, HTTP status).
    pub publish_failures: IntCounterVec,
    /// Messages waiting in the outbox (set when scraped).
    pub outbox_pending: IntGauge,
    /// Write transactions waiting for SQLite's one writer (set when
    /// scraped; always 0 on PostgreSQL).
    pub db_writers_waiting: IntGauge,
    /// Publishing shards this replica holds (of 64).
    pub publisher_shards: IntGauge,
    /// Seconds per publish call.
    pub publish_latency: Histogram,
    /// Hand-offs dropped because the channel was full (recovered from the log).
    pub channel_full: IntCounter,
    /// Rows of the event log that could not be read (and were skipped).
    pub events_unreadable: IntCounter,
    /// CloudEvents Dapr delivered to us, by topic and outcome.
    pub events_received: IntCounterVec,
    /// HTTP requests by method, route pattern and status.
    pub http_requests: IntCounterVec,
    /// HTTP latency by method and route pattern.
    pub http_latency: HistogramVec,
    /// Webhook delivery attempts by outcome (delivered, failed, gone).
    pub webhook_deliveries: IntCounterVec,
    /// Seconds per webhook delivery attempt.
    pub webhook_latency: Histogram,
    /// Webhook endpoints disabled, by reason (gone, failing).
    pub webhook_endpoints_disabled: IntCounterVec,
    /// Events enabled webhook endpoints have still to deliver (set when
    /// scraped).
    pub webhook_backlog: IntGauge,
    /// Webhook shards this replica holds (of 64).
    pub webhook_shards: IntGauge,
}

impl Metrics {
    pub fn new() -> prometheus::Result<Self> {
        let registry = Registry::new_custom(Some("taskstream".into()), None)?;
        let metrics = Self {
            events_written: IntCounter::new(
                "events_written_total",
                "domain events committed to the event log",
            )?,
            events_published: counter_vec(
                "events_published_total",
                "messages accepted by the Dapr sidecar",
                &["topic"],
            )?,
            publish_failures: counter_vec(
                "publish_failures_total",
                "failed publish attempts",
                &["reason"],
            )?,
            outbox_pending: IntGauge::new("outbox_pending", "messages waiting to be published")?,
            db_writers_waiting: IntGauge::new(
                "db_writers_waiting",
                "write transactions queued for SQLite's single writer",
            )?,
            publisher_shards: IntGauge::new(
                "publisher_shards",
                "publishing shards this replica holds",
            )?,
            publish_latency: Histogram::with_opts(
                HistogramOpts::new(
                    "publish_duration_seconds",
                    "duration of publish calls to the sidecar",
                )
                .buckets(vec![
                    0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                ]),
            )?,
            channel_full: IntCounter::new(
                "event_channel_full_total",
                "hand-offs dropped on a full channel",
            )?,
            events_unreadable: IntCounter::new(
                "events_unreadable_total",
                "event log rows that could not be read and were skipped",
            )?,
            events_received: counter_vec(
                "events_received_total",
                "CloudEvents delivered by Dapr",
                &["topic", "outcome"],
            )?,
            http_requests: counter_vec(
                "http_requests_total",
                "HTTP requests",
                &["method", "route", "status"],
            )?,
            http_latency: HistogramVec::new(
                HistogramOpts::new("http_request_duration_seconds", "HTTP request latency")
                    .buckets(vec![
                        0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
                    ]),
                &["method", "route"],
            )?,
            webhook_deliveries: counter_vec(
                "webhook_deliveries_total",
                "webhook delivery attempts",
                &["outcome"],
            )?,
            webhook_latency: Histogram::with_opts(
                HistogramOpts::new(
                    "webhook_delivery_duration_seconds",
                    "duration of webhook delivery attempts",
                )
                .buckets(vec![
                    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
                ]),
            )?,
            webhook_endpoints_disabled: counter_vec(
                "webhook_endpoints_disabled_total",
                "webhook endpoints disabled",
                &["reason"],
            )?,
            webhook_backlog: IntGauge::new(
                "webhook_backlog",
                "events enabled webhook endpoints have still to deliver",
            )?,
            webhook_shards: IntGauge::new("webhook_shards", "webhook shards this replica holds")?,
            registry,
        };
        let collectors: [Box<dyn prometheus::core::Collector>; 17] = [
            Box::new(metrics.webhook_deliveries.clone()),
            Box::new(metrics.webhook_latency.clone()),
            Box::new(metrics.webhook_endpoints_disabled.clone()),
            Box::new(metrics.webhook_backlog.clone()),
            Box::new(metrics.webhook_shards.clone()),
            Box::new(metrics.publisher_shards.clone()),
            Box::new(metrics.db_writers_waiting.clone()),
            Box::new(metrics.events_written.clone()),
            Box::new(metrics.events_published.clone()),
            Box::new(metrics.publish_failures.clone()),
            Box::new(metrics.outbox_pending.clone()),
            Box::new(metrics.publish_latency.clone()),
            Box::new(metrics.channel_full.clone()),
            Box::new(metrics.events_unreadable.clone()),
            Box::new(metrics.events_received.clone()),
            Box::new(metrics.http_requests.clone()),
            Box::new(metrics.http_latency.clone()),
        ];
        for collector in collectors {
            metrics.registry.register(collector)?;
        }
        Ok(metrics)
    }

    /// The text exposition format.
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Encoding into a String cannot fail for well-formed metrics.
        let _ = prometheus::TextEncoder::new().encode_utf8(&self.registry.gather(), &mut out);
        out
    }
}

fn counter_vec(name: &str, help: &str, labels: &[&str]) -> prometheus::Result<IntCounterVec> {
    IntCounterVec::new(Opts::new(name, help), labels)
}
