//! One consumer of a Kafka table: reads its share of the partitions, cuts
//! each partition's messages into blocks, writes every block through every
//! view, and commits a block's offsets only after all its inserts succeeded.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow::array::RecordBatch;
use futures::StreamExt;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{CommitMode, Consumer, StreamConsumer};
use rdkafka::message::Message as _;
use rdkafka::{Offset, TopicPartitionList};
use tokio::sync::watch;

use catalog::kafka::KafkaSettings;
use catalog::{KafkaTableDef, ViewDef};

use super::decode::{BlockDecoder, Message};
use super::sink::ViewSink;
use super::status::{now, ConsumerStatus, StatsContext};
use crate::backend::{Backend, BackendSession};
use crate::error::ChError;

/// Longest wait between retries of a failing insert or preparation.
const MAX_BACKOFF: Duration = Duration::from_secs(30);
const FIRST_BACKOFF: Duration = Duration::from_millis(200);

/// What one consumer task needs.
pub struct ConsumerTask {
    pub table: KafkaTableDef,
    pub views: Vec<ViewDef>,
    pub settings: KafkaSettings,
    pub backend: Arc<dyn Backend>,
    /// 0-based number among the table's consumers, for the client id.
    pub index: u64,
    pub status: Arc<ConsumerStatus>,
}

type KafkaConsumer = StreamConsumer<StatsContext>;

/// Messages of one partition waiting to become a block.
struct Pending {
    messages: Vec<Message>,
    since: Instant,
}

/// Why the task ended early.
enum Interrupted {
    Stopped,
}

impl ConsumerTask {
    /// Runs until `stop` turns true. Errors are logged and retried; only a
    /// stop ends the task.
    pub async fn run(self, mut stop: watch::Receiver<bool>) {
        let table = self.table.name.to_string();
        let mut backoff = FIRST_BACKOFF;
        loop {
            match self.prepare().await {
                Ok((session, sinks, consumer)) => {
                    tracing::info!(%table, consumer = self.index, views = sinks.len(), "consuming");
                    self.consume(session, sinks, consumer, &mut stop).await;
                    return;
                }
                Err(e) => {
                    tracing::error!(%table, error = %e, "cannot start consuming; will retry");
                    self.status.exception(e.to_string());
                    if wait(&mut stop, backoff).await.is_err() {
                        return;
                    }
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
            }
        }
    }

    async fn prepare(
        &self,
    ) -> Result<(Box<dyn BackendSession>, Vec<ViewSink>, KafkaConsumer), ChError> {
        let mut session = self.backend.open_session().await?;
        let mut sinks = Vec::with_capacity(self.views.len());
        for view in &self.views {
            sinks.push(
                ViewSink::prepare(
                    view,
                    &self.table,
                    session.as_mut(),
                    self.backend.insert_format(),
                )
                .await?,
            );
        }
        let consumer = self.consumer()?;
        Ok((session, sinks, consumer))
    }

    fn consumer(&self) -> Result<KafkaConsumer, ChError> {
        let s = &self.settings;
        let mut config = consumer_config(s, &client_id(&self.table, s, self.index));
        config
            // A consumer that died (SIGKILL) holds its partitions until the
            // session times out: 10 s instead of librdkafka's 45 s lets a
            // restarted server resume sooner.
            .set("session.timeout.ms", "10000")
            .set("heartbeat.interval.ms", "1000")
            // Committed offsets and lag for system.kafka_consumers.
            .set("statistics.interval.ms", "1000");
        let consumer: KafkaConsumer = config
            .create_with_context(StatsContext {
                status: self.status.clone(),
            })
            .map_err(kafka_error)?;
        let topics: Vec<&str> = s.topics.iter().map(String::as_str).collect();
        consumer.subscribe(&topics).map_err(kafka_error)?;
        Ok(consumer)
    }

    async fn consume(
        &self,
        mut session: Box<dyn BackendSession>,
        sinks: Vec<ViewSink>,
        consumer: KafkaConsumer,
        stop: &mut watch::Receiver<bool>,
    ) {
        let s = &self.settings;
        let decoder = Arc::new(BlockDecoder::new(&self.table.columns));
        let poll_timeout = Duration::from_millis(s.poll_timeout_ms);
        let flush_interval = Duration::from_millis(s.flush_interval_ms);
        let max_block = s.max_block_size as usize;
        let mut pending: HashMap<(String, i32), Pending> = HashMap::new();
        // Messages held in `pending`.
        let mut waiting = 0usize;
        loop {
            let received = tokio::select! {
                biased;
                _ = stop.changed() => return,
                r = tokio::time::timeout(poll_timeout, consumer.recv()) => r,
            };
            let mut ready: Vec<(String, i32)> = Vec::new();
            self.status.update(|s| s.last_poll_time = now());
            match received {
                Ok(Ok(m)) => {
                    self.status.update(|s| s.num_messages_read += 1);
                    let key = (m.topic().to_string(), m.partition());
                    let entry = pending.entry(key.clone()).or_insert_with(|| Pending {
                        messages: Vec::new(),
                        since: Instant::now(),
                    });
                    entry.messages.push(Message::from_kafka(&m));
                    waiting += 1;
                    // kafka_max_block_size bounds what one consumer holds, as
                    // in ClickHouse: across its partitions, not per partition.
                    if waiting >= max_block {
                        ready.extend(pending.keys().cloned());
                    }
                }
                Ok(Err(e)) => {
                    tracing::warn!(table = %self.table.name, error = %e, "kafka poll failed");
                    self.status.exception(format!("Kafka: {e}"));
                    if wait(stop, FIRST_BACKOFF).await.is_err() {
                        return;
                    }
                }
                // Nothing arrived for a whole poll: what is pending is all
                // there is for now, so it goes out (as ClickHouse ends a block
                // on an empty poll).
                Err(_) => {
                    tracing::trace!(table = %self.table.name, pending = pending.len(), "poll timed out");
                    ready.extend(pending.keys().cloned())
                }
            }
            ready.extend(
                pending
                    .iter()
                    .filter(|(_, p)| p.since.elapsed() >= flush_interval)
                    .map(|(k, _)| k.clone()),
            );
            ready.sort();
            ready.dedup();
            if !ready.is_empty() {
                tracing::debug!(table = %self.table.name, blocks = ready.len(), "blocks ready");
            }
            let jobs: Vec<((String, i32), Vec<Message>)> = ready
                .into_iter()
                .filter_map(|key| pending.remove(&key).map(|p| (key, p.messages)))
                .inspect(|(_, messages)| waiting -= messages.len())
                .filter(|(_, messages)| !messages.is_empty())
                .collect();
            // Blocks are decoded on the blocking pool, the next one while the
            // current one is inserted; they are still written and committed
            // one at a time, in order.
            let skip = self.settings.skip_broken_messages;
            let mut decoded = futures::stream::iter(jobs)
                .map(|(key, messages)| {
                    let decoder = decoder.clone();
                    async move {
                        tokio::task::spawn_blocking(move || {
                            let started = Instant::now();
                            let result = decoder.decode_skipping(&key.0, key.1, &messages, skip);
                            let ms = started.elapsed().as_secs_f64() * 1e3;
                            (key, messages, result, ms)
                        })
                        .await
                    }
                })
                .buffered(2);
            while let Some(joined) = decoded.next().await {
                let Ok((key, messages, first_try, decode_ms)) = joined else {
                    // A decode task that panicked: its block is read again later.
                    tracing::error!(table = %self.table.name, "a decode task failed; stopping this consumer");
                    return;
                };
                let written = self
                    .write_block(
                        &key.0,
                        key.1,
                        &messages,
                        (first_try, decode_ms),
                        &decoder,
                        &sinks,
                        session.as_mut(),
                        stop,
                    )
                    .await;
                match written {
                    Ok(()) => {
                        let next = messages.last().map(|m| m.offset + 1).unwrap_or(0);
                        match commit(&consumer, &key.0, key.1, next) {
                            Ok(()) => self.status.update(|s| {
                                s.num_commits += 1;
                                s.last_commit_time = now();
                            }),
                            Err(e) => {
                                // The rows are in; the offsets will be committed with
                                // the next block, or the block read again (at least once).
                                tracing::warn!(table = %self.table.name, error = %e, "offset commit failed");
                                self.status.exception(e.to_string());
                            }
                        }
                    }
                    Err(Interrupted::Stopped) => return,
                }
            }
        }
    }

    /// Decodes a block and inserts it through every view, retrying failures
    /// with backoff; a view that already wrote the block is not written again.
    #[allow(clippy::too_many_arguments)]
    async fn write_block(
        &self,
        topic: &str,
        partition: i32,
        messages: &[Message],
        first_try: (Result<(RecordBatch, usize), ChError>, f64),
        decoder: &BlockDecoder,
        sinks: &[ViewSink],
        session: &mut dyn BackendSession,
        stop: &mut watch::Receiver<bool>,
    ) -> Result<(), Interrupted> {
        let first = messages.first().map(|m| m.offset).unwrap_or(0);
        let last = messages.last().map(|m| m.offset).unwrap_or(0);
        let mut backoff = FIRST_BACKOFF;
        let skip = self.settings.skip_broken_messages;
        let (mut attempt, decode_ms) = first_try;
        let block = loop {
            match attempt {
                Ok((block, skipped)) => {
                    if skipped > 0 {
                        tracing::warn!(table = %self.table.name, topic, partition, first, last, skipped, "skipped broken messages (kafka_skip_broken_messages)");
                    }
                    break block;
                }
                Err(e) => {
                    tracing::error!(table = %self.table.name, topic, partition, first, last, error = %e, "cannot decode block; nothing past it is committed");
                    self.status.exception(e.to_string());
                    wait(stop, backoff).await?;
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                    attempt = decoder.decode_skipping(topic, partition, messages, skip);
                }
            }
        };
        let mut done = vec![false; sinks.len()];
        backoff = FIRST_BACKOFF;
        loop {
            for (sink, done) in sinks.iter().zip(done.iter_mut()) {
                if *done {
                    continue;
                }
                let writing = Instant::now();
                match sink.write(&block, session).await {
                    Ok(rows) => {
                        *done = true;
                        self.status.update(|s| s.rows_written += rows as u64);
                        let write_ms = writing.elapsed().as_secs_f64() * 1e3;
                        tracing::debug!(view = %sink.view.name, topic, partition, first, last, rows, decode_ms, write_ms, "block inserted");
                    }
                    Err(e) => {
                        tracing::error!(view = %sink.view.name, topic, partition, first, last, error = %e, "insert failed; will retry");
                        self.status
                            .exception(format!("view {}: {e}", sink.view.name));
                    }
                }
            }
            if done.iter().all(|d| *d) {
                return Ok(());
            }
            wait(stop, backoff).await?;
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
    }
}

/// What every consumer of a Kafka table is configured with: its brokers,
/// group and security settings, manual commits, and a new group starting at
/// the earliest offset (as ClickHouse does).
pub fn consumer_config(settings: &KafkaSettings, client_id: &str) -> ClientConfig {
    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", &settings.broker_list)
        .set("group.id", &settings.group_name)
        .set("client.id", client_id)
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("auto.offset.reset", "earliest");
    for (key, value) in [
        ("security.protocol", &settings.security_protocol),
        ("sasl.mechanism", &settings.sasl_mechanism),
        ("sasl.username", &settings.sasl_username),
        ("sasl.password", &settings.sasl_password),
    ] {
        if !value.is_empty() {
            config.set(key, value);
        }
    }
    config
}

/// `kafka_client_id`, or one naming the table and the consumer's number.
pub fn client_id(table: &KafkaTableDef, settings: &KafkaSettings, index: u64) -> String {
    if settings.client_id.is_empty() {
        format!("kafkahouse-{}-{index}", table.name)
    } else {
        settings.client_id.clone()
    }
}

/// Commits `next` as the group's position in `topic[partition]`.
fn commit(consumer: &KafkaConsumer, topic: &str, partition: i32, next: i64) -> Result<(), ChError> {
    let mut list = TopicPartitionList::new();
    list.add_partition_offset(topic, partition, Offset::Offset(next))
        .map_err(kafka_error)?;
    // A synchronous commit blocks on the broker: keep it off the async workers.
    tokio::task::block_in_place(|| consumer.commit(&list, CommitMode::Sync)).map_err(kafka_error)
}

/// Waits `duration`, unless a stop comes first.
async fn wait(stop: &mut watch::Receiver<bool>, duration: Duration) -> Result<(), Interrupted> {
    if *stop.borrow() {
        return Err(Interrupted::Stopped);
    }
    tokio::select! {
        _ = stop.changed() => Err(Interrupted::Stopped),
        () = tokio::time::sleep(duration) => Ok(()),
    }
}

pub(crate) fn kafka_error(e: rdkafka::error::KafkaError) -> ChError {
    ChError::new(crate::error::codes::KAFKA_ERROR, format!("Kafka: {e}"))
}
