//! Bulk publishing: a round's events go out with one request per topic
//! (Dapr's bulk publish API) instead of one per event and topic.
//!
//! Within a request each user's entries keep their sequence order, and each
//! carries the user's partition key, so Dapr's Kafka component writes them
//! to the user's partition in that order. Results are per entry: what was
//! published is recorded per topic and never sent again; an event counts as
//! published only once it is on every topic and every earlier event of its
//! user is, so a failure holds its user at that event (retried with backoff,
//! as in single publishing) while every other user moves on.

use std::collections::HashMap;

use futures_util::future::join_all;
use slog::warn;

use super::{ByUser, Item, Outcome, Publisher, backoff};
use crate::db::events::DeliveryRow;
use crate::db::now;
use crate::events::cloudevent::CloudEvent;
use crate::events::dapr::{BulkEntry, BulkError, DaprClient, PublishError};

/// Entries per bulk request; a topic with more is sent in several, in order.
const MAX_ENTRIES: usize = 500;

/// How each event fared on each topic this round, by `(event id, topic)`.
type Results<'a> = HashMap<(&'a str, &'a str), Result<(), PublishError>>;

impl Publisher {
    /// Publishes the round's events (`by_user`: each user's, in sequence
    /// order) with one bulk request per topic. `None` when the sidecar has
    /// no bulk API: nothing was published, and the caller publishes one
    /// event at a time.
    pub(super) async fn publish_bulk(
        &self,
        dapr: &DaprClient,
        by_user: &ByUser,
        states: &[DeliveryRow],
    ) -> Option<Vec<(String, Outcome)>> {
        let state: HashMap<(&str, &str), &DeliveryRow> = states
            .iter()
            .map(|d| ((d.event_id.as_str(), d.topic.as_str()), d))
            .collect();
        let published = |id: &str, topic: &str| {
            state
                .get(&(id, topic))
                .is_some_and(|d| d.published_at.is_some())
        };

        let mut outcomes = Vec::new();
        let mut round: Vec<(&str, &[Item])> = Vec::new();
        for (user, items) in by_user {
            if let Some((head, at)) = self.head_retry(items, states) {
                outcomes.push((user.clone(), Outcome::waiting(head, at)));
                continue;
            }
            round.push((user, items));
        }

        // Each topic's entries, user by user, each user's in order.
        let mut results: Results = HashMap::new();
        let mut by_topic: Vec<(&str, Vec<BulkEntry<'_>>)> = Vec::new();
        for (user, items) in &round {
            for Item { id, event, .. } in *items {
                let Some(event) = event else { continue };
                for (topic, projection) in self.topics.for_event(event) {
                    if published(id, topic) {
                        continue;
                    }
                    let entry = BulkEntry {
                        entry_id: id,
                        partition_key: user,
                        event: CloudEvent::new(event, projection, &self.settings.event_source),
                    };
                    match by_topic.iter_mut().find(|(t, _)| *t == topic) {
                        Some((_, entries)) => entries.push(entry),
                        None => by_topic.push((topic, vec![entry])),
                    }
                }
            }
        }

        let sent = join_all(
            by_topic
                .iter()
                .map(|(topic, entries)| self.send_topic(dapr, topic, entries)),
        )
        .await;
        for topic_results in sent {
            results.extend(topic_results?);
        }

        for (user, items) in &round {
            outcomes.push(((*user).to_owned(), self.settle(items, &results, &state)));
        }
        Some(outcomes)
    }

    /// Sends one topic's entries (one plain publish when there is only
    /// one); `None` when the sidecar has no bulk API.
    async fn send_topic<'a>(
        &self,
        dapr: &DaprClient,
        topic: &'a str,
        entries: &[BulkEntry<'a>],
    ) -> Option<Results<'a>> {
        let mut results = Results::new();
        let key = |entry: &BulkEntry<'a>| (entry.entry_id, topic);
        if let [entry] = entries {
            let body = entry.event.to_vec();
            let result = self.send_one(dapr, topic, entry.partition_key, body).await;
            results.insert(key(entry), result);
            return Some(results);
        }
        for chunk in entries.chunks(MAX_ENTRIES) {
            let timer = self.metrics.publish_latency.start_timer();
            let answer = dapr.publish_bulk(topic, chunk).await;
            timer.observe_duration();
            match answer {
                Ok(failed) => {
                    let mut why: HashMap<&str, &str> = failed
                        .iter()
                        .map(|f| (f.entry_id.as_str(), f.error.as_str()))
                        .collect();
                    for entry in chunk {
                        let result = match why.remove(entry.entry_id) {
                            None => Ok(()),
                            Some(error) => Err(PublishError::Status {
                                status: 500,
                                body: error.to_owned(),
                            }),
                        };
                        self.count(topic, &result);
                        results.insert(key(entry), result);
                    }
                }
                Err(BulkError::Unsupported(status)) => {
                    self.bulk_unsupported(status);
                    return None;
                }
                Err(BulkError::Failed(err)) => {
                    for entry in chunk {
                        let result = Err(err.clone());
                        self.count(topic, &result);
                        results.insert(key(entry), result);
                    }
                }
            }
        }
        Some(results)
    }

    /// One user's round: which events are now published, which topics of
    /// events that are not, and the failure that holds the user up.
    fn settle(
        &self,
        items: &[Item],
        results: &Results<'_>,
        state: &HashMap<(&str, &str), &DeliveryRow>,
    ) -> Outcome {
        let mut outcome = Outcome::default();
        for Item { id, seq, event } in items {
            let Some(event) = event else {
                if outcome.failed.is_none() {
                    outcome.done.push((id.clone(), *seq));
                }
                continue;
            };
            let mut newly = Vec::new();
            let mut failure: Option<(&str, PublishError, i32)> = None;
            for (topic, _) in self.topics.for_event(event) {
                let previous = state.get(&(id.as_str(), topic));
                if previous.is_some_and(|d| d.published_at.is_some()) {
                    continue;
                }
                match results.get(&(id.as_str(), topic)) {
                    Some(Ok(())) => newly.push(topic.to_owned()),
                    Some(Err(err)) => {
                        let attempts = previous.map_or(0, |d| d.attempts);
                        failure = failure.or(Some((topic, err.clone(), attempts)));
                    }
                    // Not sent this round (it cannot happen: every topic
                    // not yet published got an entry or an error).
                    None => {
                        let err = PublishError::Status {
                            status: 0,
                            body: "not sent".into(),
                        };
                        failure = failure.or(Some((topic, err, 0)));
                    }
                }
            }
            let held = outcome.failed.is_some();
            match failure {
                // Marked as a whole: its topic rows are not needed.
                None if !held => {
                    outcome.done.push((id.clone(), *seq));
                    continue;
                }
                Some((topic, err, attempts)) if !held => {
                    self.report(event, topic, &err, attempts);
                    let retry = now() + backoff(attempts + 1, self.retry_cap());
                    outcome.failed = Some((id.clone(), topic.to_owned(), err.to_string(), retry));
                }
                // After the event that holds the user up: only the topics
                // it reached are recorded, so they are not sent again.
                _ => {}
            }
            outcome
                .partial
                .extend(newly.into_iter().map(|topic| (id.clone(), topic)));
        }
        outcome
    }

    fn bulk_unsupported(&self, status: u16) {
        use std::sync::atomic::Ordering;
        if !self.bulk_unsupported.swap(true, Ordering::Relaxed) {
            warn!(self.log, "the Dapr sidecar has no bulk publish API: publishing one event per call";
                "dapr_status" => status);
        }
    }
}
