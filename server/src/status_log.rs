//! The service's status topic (`<catalog topic>-status`), as Kafka Connect
//! keeps its workers' status: every instance reports its consumers there
//! every `INTERVAL` (keyed by its id, so compaction keeps the latest) and
//! follows the others' reports into `Pipelines::peers`, for
//! `system.kafka_consumers`. An instance that stops cleanly writes a
//! tombstone; one that dies stops reporting and drops out after
//! `peers::STALE`.
//!
//! Uses rdkafka, the pipeline's consumer status and peers.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{Offset, TopicPartitionList};
use serde::{Deserialize, Serialize};

use catalog::QualifiedName;

use crate::pipeline::peers::{Peers, STALE};
use crate::pipeline::status::{ConsumerState, PartitionState};
use crate::pipeline::Pipelines;

/// How often an instance reports.
pub const INTERVAL: Duration = Duration::from_secs(2);
const PARTITION: i32 = 0;
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// Reports read back at start: enough for every live instance's latest.
const HISTORY: i64 = 1_000;

/// One consumer as reported.
#[derive(Debug, Serialize, Deserialize)]
struct Reported {
    database: String,
    table: String,
    consumer_id: String,
    /// (topic, partition, committed offset, lag)
    assignments: Vec<(String, i32, i64, i64)>,
    exceptions: VecDeque<(i64, String)>,
    last_poll_time: i64,
    num_messages_read: u64,
    last_commit_time: i64,
    num_commits: u64,
    rows_written: u64,
    broken_messages: u64,
    running: bool,
    restarts: u64,
    #[serde(default)]
    bytes_read: u64,
    #[serde(default)]
    rebalances: u64,
    #[serde(default)]
    commit_metadata_dropped: bool,
}

impl Reported {
    fn new(table: &QualifiedName, c: ConsumerState) -> Reported {
        Reported {
            database: table.database.clone(),
            table: table.name.clone(),
            consumer_id: c.consumer_id,
            assignments: c
                .assignments
                .into_iter()
                .map(|((t, p), s)| (t, p, s.committed_offset, s.lag))
                .collect(),
            exceptions: c.exceptions,
            last_poll_time: c.last_poll_time,
            num_messages_read: c.num_messages_read,
            last_commit_time: c.last_commit_time,
            num_commits: c.num_commits,
            rows_written: c.rows_written,
            broken_messages: c.broken_messages,
            running: c.running,
            restarts: c.restarts,
            bytes_read: c.bytes_read,
            rebalances: c.rebalances,
            commit_metadata_dropped: c.commit_metadata_dropped,
        }
    }

    fn state(self) -> (QualifiedName, ConsumerState) {
        let assignments: BTreeMap<_, _> = self
            .assignments
            .into_iter()
            .map(|(t, p, committed_offset, lag)| {
                (
                    (t, p),
                    PartitionState {
                        committed_offset,
                        lag,
                    },
                )
            })
            .collect();
        (
            QualifiedName::new(self.database, self.table),
            ConsumerState {
                consumer_id: self.consumer_id,
                assignments,
                exceptions: self.exceptions,
                last_poll_time: self.last_poll_time,
                num_messages_read: self.num_messages_read,
                last_commit_time: self.last_commit_time,
                num_commits: self.num_commits,
                rows_written: self.rows_written,
                broken_messages: self.broken_messages,
                running: self.running,
                restarts: self.restarts,
                bytes_read: self.bytes_read,
                rebalances: self.rebalances,
                commit_metadata_dropped: self.commit_metadata_dropped,
            },
        )
    }
}

/// This instance's side of the status topic.
pub struct StatusLog {
    topic: String,
    instance: String,
    producer: FutureProducer,
}

impl StatusLog {
    /// Starts reporting `pipelines`' consumers and following the others'.
    pub fn start(
        catalog_topic: &str,
        brokers: &str,
        instance: &str,
        pipelines: Arc<Pipelines>,
    ) -> Result<Arc<StatusLog>, String> {
        let topic = format!("{catalog_topic}-status");
        let client = |role: &str| {
            let mut c = ClientConfig::new();
            c.set("bootstrap.servers", brokers)
                .set("client.id", format!("kafkahouse-{instance}-status-{role}"));
            c
        };
        let producer: FutureProducer = client("writer").create().map_err(|e| e.to_string())?;
        let consumer: BaseConsumer = client("reader")
            .set("group.id", format!("kafkahouse-status-{instance}"))
            .set("enable.auto.commit", "false")
            .create()
            .map_err(|e| e.to_string())?;
        let log = Arc::new(StatusLog {
            topic,
            instance: instance.to_string(),
            producer,
        });
        let (peers, me, topic) = (
            pipelines.peers().clone(),
            log.instance.clone(),
            log.topic.clone(),
        );
        std::thread::Builder::new()
            .name("status-log".into())
            .spawn(move || follow(consumer, &topic, &me, &peers))
            .map_err(|e| e.to_string())?;
        let reporter = log.clone();
        tokio::spawn(async move {
            loop {
                reporter.report(Some(&pipelines)).await;
                tokio::time::sleep(INTERVAL).await;
            }
        });
        Ok(log)
    }

    /// Reports this instance's consumers; `None`: it leaves (a tombstone).
    pub async fn report(&self, pipelines: Option<&Pipelines>) {
        let payload = match pipelines {
            Some(p) => {
                let consumers: Vec<Reported> = p
                    .consumers()
                    .into_iter()
                    .map(|(t, c)| Reported::new(&t, c))
                    .collect();
                match serde_json::to_vec(&consumers) {
                    Ok(bytes) => Some(bytes),
                    Err(e) => {
                        tracing::warn!(error = %e, "cannot encode the status report");
                        return;
                    }
                }
            }
            None => None,
        };
        let mut record = FutureRecord::<str, Vec<u8>>::to(&self.topic)
            .partition(PARTITION)
            .key(&self.instance);
        if let Some(payload) = &payload {
            record = record.payload(payload);
        }
        if let Err((e, _)) = self.producer.send(record, REQUEST_TIMEOUT).await {
            tracing::debug!(error = %e, topic = %self.topic, "status report not sent");
        }
    }
}

/// Reads the others' reports into `peers`, for ever.
fn follow(consumer: BaseConsumer, topic: &str, me: &str, peers: &Peers) {
    let start = match consumer.fetch_watermarks(topic, PARTITION, REQUEST_TIMEOUT) {
        Ok((low, high)) => Offset::Offset(low.max(high - HISTORY)),
        Err(_) => Offset::Beginning,
    };
    let mut assignment = TopicPartitionList::new();
    if let Err(e) = assignment
        .add_partition_offset(topic, PARTITION, start)
        .and_then(|()| consumer.assign(&assignment))
    {
        tracing::warn!(error = %e, %topic, "cannot follow the status topic");
        return;
    }
    let stale_ms = i64::try_from(STALE.as_millis()).unwrap_or(i64::MAX);
    loop {
        let Some(message) = consumer.poll(Duration::from_millis(500)) else {
            continue;
        };
        let Ok(message) = message else {
            std::thread::sleep(Duration::from_millis(200));
            continue;
        };
        let Some(instance) = message.key().and_then(|k| std::str::from_utf8(k).ok()) else {
            continue;
        };
        if instance == me {
            continue;
        }
        let old = message
            .timestamp()
            .to_millis()
            .is_some_and(|t| crate::pipeline::status::now() * 1000 - t > stale_ms);
        match message.payload() {
            None => peers.report(instance, None),
            Some(_) if old => {}
            Some(bytes) => match serde_json::from_slice::<Vec<Reported>>(bytes) {
                Ok(reported) => peers.report(
                    instance,
                    Some(reported.into_iter().map(Reported::state).collect()),
                ),
                Err(e) => tracing::debug!(%instance, error = %e, "unreadable status report"),
            },
        }
    }
}
