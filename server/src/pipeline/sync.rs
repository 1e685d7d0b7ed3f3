//! `SYSTEM SYNC KAFKA q [TIMEOUT n]`: waits until the table's group has
//! committed every partition of its topics up to the partition's end offset
//! as of the call, which (offsets being committed after every view's insert)
//! means every message produced before the call is in every destination.

use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{Offset, TopicPartitionList};

use catalog::kafka::KafkaSettings;

use super::kafka_config::{consumer_config, kafka_error};
use crate::error::{codes, ChError};

/// How often committed offsets are read again while waiting.
const RECHECK: Duration = Duration::from_millis(100);
/// Each broker request's own time limit.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// One partition the group has not caught up with yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Behind {
    pub topic: String,
    pub partition: i32,
    /// The group's next offset (`None` before its first commit).
    pub committed: Option<i64>,
    pub target: i64,
}

/// Waits until the group of `settings` has committed every partition up to
/// its end offset as of now, or `timeout` passes. `exception` gives the
/// consumers' latest error, for the timeout message.
pub async fn wait_caught_up(
    table: &str,
    settings: &KafkaSettings,
    timeout: Duration,
    exception: impl Fn() -> Option<String>,
) -> Result<(), ChError> {
    let started = Instant::now();
    let settings = settings.clone();
    let client_id = format!("kafkahouse-{table}-sync");
    // The targets: end offsets as of the call (blocking broker requests).
    let (consumer, targets) = tokio::task::spawn_blocking(move || {
        let consumer: BaseConsumer = consumer_config(&settings, &client_id)
            .create()
            .map_err(kafka_error)?;
        let targets = end_offsets(&consumer, &settings.topics)?;
        Ok::<_, ChError>((consumer, targets))
    })
    .await
    .map_err(|e| ChError::new(codes::UNKNOWN_EXCEPTION, format!("SYSTEM SYNC KAFKA: {e}")))??;
    let consumer = std::sync::Arc::new(consumer);
    loop {
        let behind = {
            let consumer = consumer.clone();
            let targets = targets.clone();
            tokio::task::spawn_blocking(move || behind(&consumer, &targets))
                .await
                .map_err(|e| {
                    ChError::new(codes::UNKNOWN_EXCEPTION, format!("SYSTEM SYNC KAFKA: {e}"))
                })??
        };
        if behind.is_empty() {
            return Ok(());
        }
        if started.elapsed() >= timeout {
            return Err(timed_out(table, timeout, &behind, exception()));
        }
        tokio::time::sleep(RECHECK).await;
    }
}

/// `(topic, partition, low, high)` for every partition of `topics`.
fn end_offsets(
    consumer: &BaseConsumer,
    topics: &[String],
) -> Result<Vec<(String, i32, i64, i64)>, ChError> {
    let mut targets = Vec::new();
    for topic in topics {
        let metadata = consumer
            .fetch_metadata(Some(topic), REQUEST_TIMEOUT)
            .map_err(kafka_error)?;
        for t in metadata.topics() {
            // A topic that does not exist yet has nothing to wait for.
            if t.error().is_some() {
                continue;
            }
            for p in t.partitions() {
                let (low, high) = consumer
                    .fetch_watermarks(topic, p.id(), REQUEST_TIMEOUT)
                    .map_err(kafka_error)?;
                targets.push((topic.clone(), p.id(), low, high));
            }
        }
    }
    Ok(targets)
}

/// The partitions whose committed offset is short of its target.
fn behind(
    consumer: &BaseConsumer,
    targets: &[(String, i32, i64, i64)],
) -> Result<Vec<Behind>, ChError> {
    let mut list = TopicPartitionList::new();
    for (topic, partition, _, _) in targets {
        list.add_partition(topic, *partition);
    }
    let committed = consumer
        .committed_offsets(list, REQUEST_TIMEOUT)
        .map_err(kafka_error)?;
    let mut behind = Vec::new();
    for (topic, partition, low, high) in targets {
        let offset = committed
            .find_partition(topic, *partition)
            .and_then(|e| match e.offset() {
                Offset::Offset(o) => Some(o),
                _ => None,
            });
        // An empty partition (or one emptied by retention) needs nothing.
        let done = high <= low || offset.is_some_and(|o| o >= *high);
        if !done {
            behind.push(Behind {
                topic: topic.clone(),
                partition: *partition,
                committed: offset,
                target: *high,
            });
        }
    }
    Ok(behind)
}

fn timed_out(
    table: &str,
    timeout: Duration,
    behind: &[Behind],
    exception: Option<String>,
) -> ChError {
    let lag: i64 = behind
        .iter()
        .map(|b| b.target - b.committed.unwrap_or(0).max(0))
        .sum();
    let first = &behind[0];
    let mut message = format!(
        "SYSTEM SYNC KAFKA {table}: not caught up within {} s: {} partition(s) behind by {lag} message(s) in all (e.g. {}[{}] committed {} of {})",
        timeout.as_secs(),
        behind.len(),
        first.topic,
        first.partition,
        first
            .committed
            .map_or_else(|| "nothing".to_string(), |c| c.to_string()),
        first.target,
    );
    if let Some(e) = exception {
        message.push_str(&format!("; last consumer exception: {e}"));
    }
    ChError::new(codes::TIMEOUT_EXCEEDED, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_timeout_message_names_the_lag_and_the_last_exception() {
        let e = timed_out(
            "db.q",
            Duration::from_secs(5),
            &[
                Behind {
                    topic: "t".into(),
                    partition: 1,
                    committed: None,
                    target: 10,
                },
                Behind {
                    topic: "t".into(),
                    partition: 2,
                    committed: Some(4),
                    target: 6,
                },
            ],
            Some("view db.mv: Code: 60".into()),
        );
        assert_eq!(e.code, codes::TIMEOUT_EXCEEDED);
        assert!(
            e.message.contains("2 partition(s) behind by 12 message(s)"),
            "{e}"
        );
        assert!(e.message.contains("t[1] committed nothing of 10"), "{e}");
        assert!(
            e.message.contains("last consumer exception: view db.mv"),
            "{e}"
        );
    }
}
