//! One consumer of a Kafka table: reads its share of the partitions, cuts
//! each partition's messages into blocks, writes every block through every
//! view, and commits a block's offsets only after all its inserts succeeded.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{CommitMode, Consumer, StreamConsumer};
use rdkafka::error::KafkaError;
use rdkafka::message::Message as _;
use rdkafka::{Offset, TopicPartitionList};
use tokio::sync::{mpsc, watch};

use catalog::kafka::{ErrorMode, KafkaSettings};
use catalog::{KafkaTableDef, ViewDef};

use super::dead_letters;
use super::decode::{BlockDecoder, Decoded, Message, Parsing};
use super::producer::Producers;
use super::producing::{ProducingView, Stage};
use super::sink::{Encoded, ViewSink};
use super::status::{now, ConsumerStatus, StatsContext};
use crate::backend::{Backend, BackendSession};
use crate::error::ChError;
use crate::session::SessionState;

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
    /// Views into Kafka tables that read the destinations of `views`.
    pub chained: Vec<ProducingView>,
    pub producers: Arc<Producers>,
    pub parsing: Arc<Parsing>,
}

type KafkaConsumer = StreamConsumer<StatsContext>;

/// What a consumer task sets up before it consumes.
struct Prepared {
    session: Box<dyn BackendSession>,
    sinks: Vec<ViewSink>,
    consumer: KafkaConsumer,
    decoder: BlockDecoder,
}

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
                Ok(prepared) => {
                    tracing::info!(%table, consumer = self.index, views = prepared.sinks.len(), "consuming");
                    self.consume(prepared, &mut stop).await;
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

    async fn prepare(&self) -> Result<Prepared, ChError> {
        let mut session = self.backend.open_session().await?;
        let decoder =
            BlockDecoder::open(&self.table.columns, &self.settings, &self.parsing).await?;
        let mut sinks = Vec::with_capacity(self.views.len());
        for view in &self.views {
            sinks.push(
                ViewSink::prepare(
                    view,
                    &self.table,
                    decoder.schema(),
                    session.as_mut(),
                    self.backend.insert_format(),
                )
                .await?,
            );
        }
        if self.settings.error_mode() == ErrorMode::DeadLetterQueue {
            dead_letters::ensure_table(session.as_mut()).await?;
        }
        let consumer = self.consumer()?;
        Ok(Prepared {
            session,
            sinks,
            consumer,
            decoder,
        })
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
            // A partition read to its end cuts its block at once, without
            // waiting for a poll over all partitions to come back empty.
            .set("enable.partition.eof", "true")
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

    async fn consume(&self, prepared: Prepared, stop: &mut watch::Receiver<bool>) {
        let Prepared {
            mut session,
            sinks,
            consumer,
            decoder,
        } = prepared;
        let consumer = Arc::new(consumer);
        // Bounded: when inserts fall behind, the reader stops polling and
        // librdkafka's own bounded queue stops fetching.
        let (blocks_tx, blocks_rx) = mpsc::channel::<Block>(2);
        let reader = BlockReader {
            table: self.table.name.to_string(),
            settings: self.settings.clone(),
            status: self.status.clone(),
        };
        // Reading runs as its own task so that polling and cutting the next
        // blocks overlaps decoding and inserting the current ones.
        let reading = tokio::spawn(reader.run(consumer.clone(), blocks_tx, stop.clone()));
        self.write_blocks(
            blocks_rx,
            session.as_mut(),
            &sinks,
            &consumer,
            decoder,
            stop,
        )
        .await;
        // The reader ends on the stop, or when the writer dropped its end.
        drop(consumer);
        if let Err(e) = reading.await {
            tracing::error!(table = %self.table.name, error = %e, "the Kafka reader task failed");
        }
    }

    /// Decodes blocks (on the blocking pool, the next while the current one
    /// is inserted), writes each through every view and commits it, one at a
    /// time and in the order they were read.
    async fn write_blocks(
        &self,
        blocks: mpsc::Receiver<Block>,
        session: &mut dyn BackendSession,
        sinks: &[ViewSink],
        consumer: &KafkaConsumer,
        decoder: BlockDecoder,
        stop: &mut watch::Receiver<bool>,
    ) {
        let decoder = Arc::new(decoder);
        let decode = |block: Block| {
            let decoder = decoder.clone();
            async move {
                tokio::task::spawn_blocking(move || {
                    let started = Instant::now();
                    let result = decoder.decode(&block.topic, block.partition, &block.messages);
                    let ms = started.elapsed().as_secs_f64() * 1e3;
                    (block, result, ms)
                })
                .await
            }
        };
        let mut blocks = blocks;
        let mut decoded = futures::stream::poll_fn(move |cx| blocks.poll_recv(cx))
            .map(decode)
            .buffered(2);
        loop {
            let joined = tokio::select! {
                biased;
                _ = stop.changed() => return,
                next = decoded.next() => match next {
                    Some(joined) => joined,
                    None => return,
                },
            };
            let Ok((block, first_try, decode_ms)) = joined else {
                // A decode task that panicked: its block is read again later.
                tracing::error!(table = %self.table.name, "a decode task failed; stopping this consumer");
                return;
            };
            let written = self
                .write_block(
                    &block,
                    (first_try, decode_ms),
                    &decoder,
                    sinks,
                    session,
                    stop,
                )
                .await;
            if let Err(Interrupted::Stopped) = written {
                return;
            }
            let next = block.messages.last().map(|m| m.offset + 1).unwrap_or(0);
            match commit(consumer, &block.topic, block.partition, next) {
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
    }

    /// Decodes a block and inserts it through every view, retrying failures
    /// with backoff; a view that already wrote the block is not written again.
    async fn write_block(
        &self,
        block: &Block,
        first_try: (Result<Decoded, ChError>, f64),
        decoder: &BlockDecoder,
        sinks: &[ViewSink],
        session: &mut dyn BackendSession,
        stop: &mut watch::Receiver<bool>,
    ) -> Result<(), Interrupted> {
        let (topic, partition, messages) = (block.topic.as_str(), block.partition, &block.messages);
        let first = messages.first().map(|m| m.offset).unwrap_or(0);
        let last = messages.last().map(|m| m.offset).unwrap_or(0);
        let mut backoff = FIRST_BACKOFF;
        let (mut attempt, decode_ms) = first_try;
        let decoded = loop {
            match attempt {
                Ok(decoded) => break decoded,
                Err(e) => {
                    tracing::error!(table = %self.table.name, topic, partition, first, last, error = %e, "cannot decode block; nothing past it is committed");
                    self.status.exception(e.to_string());
                    wait(stop, backoff).await?;
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                    attempt = decoder.decode(topic, partition, messages);
                }
            }
        };
        self.report_bad_messages(block, &decoded, session, stop)
            .await?;
        let batch = decoded.batch;
        // Per view: inserted (with what), and its producing views fired.
        let mut inserted: Vec<Option<Option<Encoded>>> = vec![None; sinks.len()];
        let mut fired = vec![false; sinks.len()];
        backoff = FIRST_BACKOFF;
        loop {
            for (i, sink) in sinks.iter().enumerate() {
                if inserted[i].is_none() {
                    let writing = Instant::now();
                    match sink.write(&batch, session).await {
                        Ok(encoded) => {
                            let rows = encoded.as_ref().map_or(0, |e| e.rows);
                            self.status.update(|s| s.rows_written += rows as u64);
                            let write_ms = writing.elapsed().as_secs_f64() * 1e3;
                            tracing::debug!(view = %sink.view.name, topic, partition, first, last, rows, decode_ms, write_ms, "block inserted");
                            inserted[i] = Some(encoded);
                        }
                        Err(e) => {
                            tracing::error!(view = %sink.view.name, topic, partition, first, last, error = %e, "insert failed; will retry");
                            self.status
                                .exception(format!("view {}: {e}", sink.view.name));
                            continue;
                        }
                    }
                }
                if fired[i] {
                    continue;
                }
                let chained: Vec<ProducingView> = self
                    .chained
                    .iter()
                    .filter(|p| p.view.source == sink.view.destination)
                    .cloned()
                    .collect();
                match &inserted[i] {
                    Some(Some(encoded)) if !chained.is_empty() => {
                        match self.fire(sink, encoded, &chained, session).await {
                            Ok(()) => fired[i] = true,
                            Err(e) => {
                                // Only the views into Kafka are retried: the
                                // destination already has the block.
                                tracing::error!(view = %sink.view.name, topic, partition, first, last, error = %e, "views into Kafka failed; will retry");
                                self.status.exception(e.to_string());
                            }
                        }
                    }
                    _ => fired[i] = true,
                }
            }
            if inserted.iter().all(Option::is_some) && fired.iter().all(|f| *f) {
                return Ok(());
            }
            wait(stop, backoff).await?;
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
    }

    /// Makes a block's broken messages visible: counted and logged, and in
    /// the dead letter queue (retried until written: its rows must be in
    /// before the block's offsets are committed).
    async fn report_bad_messages(
        &self,
        block: &Block,
        decoded: &Decoded,
        session: &mut dyn BackendSession,
        stop: &mut watch::Receiver<bool>,
    ) -> Result<(), Interrupted> {
        if decoded.bad.is_empty() {
            return Ok(());
        }
        let (topic, partition) = (block.topic.as_str(), block.partition);
        let count = decoded.bad.len() as u64;
        self.status.update(|s| s.broken_messages += count);
        let first = &decoded.bad[0];
        let offset = block.messages.get(first.index).map(|m| m.offset);
        let mode = self.settings.error_mode();
        tracing::warn!(table = %self.table.name, topic, partition, count, first_offset = ?offset, first_error = %first.error, ?mode, "messages that cannot be parsed");
        if mode != ErrorMode::DeadLetterQueue {
            return Ok(());
        }
        let rows = dead_letters::rows(
            &self.table.name,
            topic,
            partition,
            &block.messages,
            &decoded.bad,
        );
        let mut backoff = FIRST_BACKOFF;
        loop {
            match dead_letters::insert(session, rows.clone()).await {
                Ok(()) => return Ok(()),
                Err(e) => {
                    tracing::error!(table = %self.table.name, error = %e, "cannot write to the dead letter queue; will retry");
                    self.status.exception(format!("dead letter queue: {e}"));
                    wait(stop, backoff).await?;
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
            }
        }
    }

    /// Runs the views into Kafka tables that read `sink`'s destination over
    /// the rows the sink just inserted there, and produces their output.
    async fn fire(
        &self,
        sink: &ViewSink,
        encoded: &Encoded,
        views: &[ProducingView],
        session: &mut dyn BackendSession,
    ) -> Result<(), ChError> {
        let destination = &sink.view.destination;
        let state = SessionState::new(&destination.database);
        let stage = Stage::create(session, &state, destination).await?;
        let staged = session
            .insert(
                &format!("INSERT INTO {} {}", stage.name, sink.columns_sql()),
                encoded.format,
                encoded.data.clone(),
            )
            .await;
        if let Err(e) = staged {
            stage.drop(session, &state).await;
            return Err(e);
        }
        stage
            .fire_and_drop(session, &state, destination, views, &self.producers)
            .await
    }
}

/// Messages of one partition, cut for decoding, inserting and committing
/// as one unit.
struct Block {
    topic: String,
    partition: i32,
    messages: Vec<Message>,
}

/// Polls the consumer and cuts each partition's messages into blocks.
struct BlockReader {
    table: String,
    settings: KafkaSettings,
    status: Arc<ConsumerStatus>,
}

impl BlockReader {
    /// A partition's block is cut when it holds `kafka_max_block_size`
    /// messages, when the partition has been read to its end for now (EOF),
    /// when its first message is `kafka_flush_interval_ms` old, or when a
    /// whole poll brought nothing. Like ClickHouse, a consumer holds at most
    /// `kafka_max_block_size` messages across its partitions.
    async fn run(
        self,
        consumer: Arc<KafkaConsumer>,
        blocks: mpsc::Sender<Block>,
        mut stop: watch::Receiver<bool>,
    ) {
        let s = &self.settings;
        let poll_timeout = Duration::from_millis(s.poll_timeout_ms);
        let flush_interval = Duration::from_millis(s.flush_interval_ms);
        let max_block = (s.max_block_size as usize).max(1);
        let mut pending: HashMap<(String, i32), Pending> = HashMap::new();
        // Messages held in `pending`, and the time the oldest of them arrived.
        let mut waiting = 0usize;
        let mut oldest: Option<Instant> = None;
        // Counted here and handed to the status now and then: a lock per
        // message would cost more than reading it.
        let mut unreported = 0u64;
        let mut last_eof_cut: HashMap<(String, i32), Instant> = HashMap::new();
        loop {
            let received = tokio::select! {
                biased;
                _ = stop.changed() => return,
                r = tokio::time::timeout(poll_timeout, consumer.recv()) => r,
            };
            let mut ready: Vec<(String, i32)> = Vec::new();
            let mut eof = None;
            match received {
                Ok(Ok(m)) => {
                    unreported += 1;
                    let key = (m.topic().to_string(), m.partition());
                    let entry = pending.entry(key).or_insert_with(|| {
                        let since = Instant::now();
                        oldest = Some(oldest.map_or(since, |o| o.min(since)));
                        Pending {
                            messages: Vec::new(),
                            since,
                        }
                    });
                    entry.messages.push(Message::from_kafka(&m));
                    waiting += 1;
                    if waiting >= max_block {
                        ready.extend(pending.keys().cloned());
                    }
                }
                Ok(Err(KafkaError::PartitionEOF(partition))) => eof = Some(partition),
                Ok(Err(e)) => {
                    tracing::warn!(table = %self.table, error = %e, "kafka poll failed");
                    self.status.exception(format!("Kafka: {e}"));
                    if wait(&mut stop, FIRST_BACKOFF).await.is_err() {
                        return;
                    }
                }
                // Nothing arrived for a whole poll: what is pending is all
                // there is for now, so it goes out (as ClickHouse ends a block
                // on an empty poll).
                Err(_) => ready.extend(pending.keys().cloned()),
            }
            if let Some(partition) = eof {
                // A backlog is cut partition by partition as each is read to
                // its end, so inserting starts while the rest is read. A
                // trickling partition reaches its end after every message:
                // it is cut this way at most once per flush interval, and
                // otherwise waits for an empty poll or the interval, as in
                // ClickHouse. The EOF names no topic: every topic's partition
                // of that number counts (at worst a smaller block).
                let now = Instant::now();
                for key in pending.keys().filter(|(_, p)| *p == partition) {
                    let due = last_eof_cut
                        .get(key)
                        .is_none_or(|t: &Instant| now.duration_since(*t) >= flush_interval);
                    if due {
                        last_eof_cut.insert(key.clone(), now);
                        ready.push(key.clone());
                    }
                }
            }
            if oldest.is_some_and(|o| o.elapsed() >= flush_interval) {
                ready.extend(
                    pending
                        .iter()
                        .filter(|(_, p)| p.since.elapsed() >= flush_interval)
                        .map(|(k, _)| k.clone()),
                );
            }
            if ready.is_empty() && unreported < 4096 {
                continue;
            }
            self.status.update(|s| {
                s.num_messages_read += unreported;
                s.last_poll_time = now();
            });
            unreported = 0;
            if ready.is_empty() {
                continue;
            }
            ready.sort();
            ready.dedup();
            tracing::debug!(table = %self.table, blocks = ready.len(), "blocks ready");
            for key in ready {
                let Some(p) = pending.remove(&key) else {
                    continue;
                };
                waiting -= p.messages.len();
                if p.messages.is_empty() {
                    continue;
                }
                let block = Block {
                    topic: key.0,
                    partition: key.1,
                    messages: p.messages,
                };
                let sent = tokio::select! {
                    biased;
                    _ = stop.changed() => return,
                    sent = blocks.send(block) => sent,
                };
                if sent.is_err() {
                    // The writer is gone (it stopped): nothing more to read for.
                    return;
                }
            }
            oldest = pending.values().map(|p| p.since).min();
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
    set_security(&mut config, settings);
    config
}

/// The table's security settings (SASL), for consumers and producers alike.
pub fn set_security(config: &mut ClientConfig, settings: &KafkaSettings) {
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
