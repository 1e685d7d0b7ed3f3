//! What each consumer is doing, for `system.kafka_consumers`: its partitions
//! with committed offsets and lag (from librdkafka's statistics), recent
//! exceptions, whether it runs or waits to be restarted, and counters. Also
//! the text of a panic, for the exception a crashed task leaves.
//!
//! Uses rdkafka (the statistics and rebalance callbacks) and tokio's
//! `JoinError`; nothing else of the pipeline.

use std::any::Any;
use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};

use rdkafka::client::ClientContext;
use rdkafka::consumer::{BaseConsumer, ConsumerContext, Rebalance};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::statistics::Statistics;

/// Exceptions kept per consumer (ClickHouse keeps the last 10 as well).
const MAX_EXCEPTIONS: usize = 10;

/// One assigned partition.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PartitionState {
    /// The next offset the group will read (committed); -1 before any commit.
    pub committed_offset: i64,
    /// Messages in the partition past the committed offset.
    pub lag: i64,
}

/// A snapshot of one consumer.
#[derive(Debug, Clone, Default)]
pub struct ConsumerState {
    pub consumer_id: String,
    pub assignments: BTreeMap<(String, i32), PartitionState>,
    /// (Unix seconds, text), oldest first.
    pub exceptions: VecDeque<(i64, String)>,
    pub last_poll_time: i64,
    pub num_messages_read: u64,
    pub last_commit_time: i64,
    pub num_commits: u64,
    pub rows_written: u64,
    /// Messages that could not be parsed (skipped, streamed as error rows
    /// or sent to the dead letter queue): kafkahouse's, not ClickHouse's.
    pub broken_messages: u64,
    /// Whether a consumer task runs now; false before the first start and
    /// while a crashed one waits to be restarted.
    pub running: bool,
    /// Times the consumer was restarted after it ended or panicked.
    pub restarts: u64,
    /// Payload bytes of the messages read.
    pub bytes_read: u64,
    /// Partition assignments and revocations this consumer saw.
    pub rebalances: u64,
    /// The broker dropped the offset-commit metadata the block in flight is
    /// recorded in (checked once per consumer): exactly once cannot hold.
    pub commit_metadata_dropped: bool,
}

/// Shared between a consumer task (which writes) and queries (which read).
#[derive(Debug, Default)]
pub struct ConsumerStatus(Mutex<ConsumerState>);

impl ConsumerStatus {
    pub fn new(consumer_id: String) -> Arc<Self> {
        Arc::new(ConsumerStatus(Mutex::new(ConsumerState {
            consumer_id,
            ..ConsumerState::default()
        })))
    }

    pub fn snapshot(&self) -> ConsumerState {
        self.lock().clone()
    }

    pub fn update(&self, f: impl FnOnce(&mut ConsumerState)) {
        f(&mut self.lock());
    }

    pub fn exception(&self, text: String) {
        self.update(|s| {
            s.exceptions.push_back((now(), text));
            while s.exceptions.len() > MAX_EXCEPTIONS {
                s.exceptions.pop_front();
            }
        });
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ConsumerState> {
        // The state is plain data: a panic elsewhere cannot leave it invalid.
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// What a panic said: its message when it had one (`panic!` with a string
/// or format arguments), else a placeholder.
pub fn panic_text(payload: &(dyn Any + Send)) -> String {
    if let Some(text) = payload.downcast_ref::<&str>() {
        (*text).to_string()
    } else if let Some(text) = payload.downcast_ref::<String>() {
        text.clone()
    } else {
        "a panic without a message".to_string()
    }
}

/// Why a task ended without returning: its panic's text, or that it was
/// cancelled (at runtime shutdown).
pub fn join_error_text(error: tokio::task::JoinError) -> String {
    match error.try_into_panic() {
        Ok(payload) => panic_text(payload.as_ref()),
        Err(error) => error.to_string(),
    }
}

pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// The consumer's librdkafka context: turns its periodic statistics into
/// the partition list with committed offsets and lag.
pub struct StatsContext {
    pub status: Arc<ConsumerStatus>,
}

impl ClientContext for StatsContext {
    fn error(&self, error: KafkaError, reason: &str) {
        // Reaching a partition's end is how blocks get cut (the pipeline
        // asks for these events), not an error worth a log line.
        if matches!(
            error,
            KafkaError::PartitionEOF(_) | KafkaError::Global(RDKafkaErrorCode::PartitionEOF)
        ) {
            return;
        }
        tracing::warn!(consumer = %self.consumer_id(), error = %error, reason, "librdkafka reported an error");
    }

    fn stats(&self, statistics: Statistics) {
        let mut assignments = BTreeMap::new();
        for (topic, t) in &statistics.topics {
            for (partition, p) in &t.partitions {
                // -1 is librdkafka's internal "unassigned" partition.
                if *partition >= 0 && p.desired {
                    assignments.insert(
                        (topic.clone(), *partition),
                        PartitionState {
                            committed_offset: p.committed_offset,
                            lag: p.consumer_lag.max(0),
                        },
                    );
                }
            }
        }
        self.status.update(|s| s.assignments = assignments);
    }
}

impl ConsumerContext for StatsContext {
    fn post_rebalance(&self, _consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        let (event, partitions) = match rebalance {
            Rebalance::Assign(list) => ("partitions assigned", list.count()),
            Rebalance::Revoke(list) => ("partitions revoked", list.count()),
            Rebalance::Error(e) => {
                tracing::warn!(consumer = %self.consumer_id(), error = %e, "rebalance failed");
                return;
            }
        };
        tracing::info!(consumer = %self.consumer_id(), partitions, "{event}");
    }
}

impl StatsContext {
    fn consumer_id(&self) -> String {
        self.status.lock().consumer_id.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_panic_is_told_by_its_message() {
        let formatted = tokio::spawn(async { panic!("block {} of {}", 3, "t") }).await;
        let literal = tokio::spawn(async { panic!("plain") }).await;
        let other = tokio::spawn(async { std::panic::panic_any(7_u8) }).await;
        let text = |r: Result<(), tokio::task::JoinError>| match r {
            Ok(()) => "no panic".to_string(),
            Err(e) => join_error_text(e),
        };
        assert_eq!(text(formatted), "block 3 of t");
        assert_eq!(text(literal), "plain");
        assert_eq!(text(other), "a panic without a message");
    }
}
