//! One consumer of a Kafka table: reads its share of the partitions, cuts
//! each partition's messages into blocks, writes every block through every
//! view, and commits a block's offsets only after all its inserts succeeded.
//!
//! This file holds the task itself: setting up (a backend session per write
//! lane, decoder, view sinks, librdkafka consumer under the group protocol
//! `protocol` picks, retried with `backoff` until it works) and running a
//! `reader` task (within the consumer's `budget`) beside the `writer`, and
//! starting over classic when a KIP-848 trial found no assignment. Uses the pipeline
//! modules below it (kafka_config, decode, sink, dead letters, producing,
//! producer, status, backoff)
//! and the backend; never statement handling.

mod budget;
mod context;
mod fetching;
mod offsets;
mod protocol;
mod reader;
mod writer;

pub use protocol::{choose as choose_group_protocol, Choice as GroupProtocol};

use std::sync::Arc;

use rdkafka::consumer::{Consumer, StreamConsumer};
use tokio::sync::{mpsc, watch};

use catalog::kafka::{ErrorMode, KafkaSettings};
use catalog::{KafkaTableDef, ViewDef};

use super::backoff::Backoff;
use super::dead_letters;
use super::decode::{BlockDecoder, Parsing};
use super::producer::Producers;
use super::producing::ProducingView;
use super::sink::ViewSink;
use super::status::{ConsumerStatus, StatsContext};
use crate::backend::{Backend, BackendSession};
use crate::error::ChError;
use context::{ConsumerCtx, Ownership};
use protocol::Protocol;
use reader::{Block, BlockReader};

use super::kafka_config::{client_id, consumer_config, kafka_error};

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
    /// Views from this table into other Kafka tables.
    pub producing: Vec<ProducingView>,
    pub producers: Arc<Producers>,
    pub parsing: Arc<Parsing>,
    /// Set once any of the table's consumers got partitions: under KIP-848
    /// a consumer left without any (more consumers than partitions) is
    /// then a member all the same, not a sign the broker lacks it.
    pub group_assigned: Arc<std::sync::atomic::AtomicBool>,
}

type KafkaConsumer = StreamConsumer<ConsumerCtx>;

/// How long one of the pipeline's backend requests (an insert of a block,
/// a check) may take.
const PIPELINE_REQUEST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// Blocks of different partitions written at the same time, each lane on
/// its own backend session (inserts into ClickHouse run in parallel; one
/// partition's blocks stay in one lane, in order).
const WRITE_LANES: usize = 2;

/// How consuming ended.
#[derive(Debug, PartialEq, Eq)]
enum Ended {
    /// Stopped, or failed (the supervisor decides what next).
    Done,
    /// Nothing was assigned under KIP-848: start again, classic.
    WithoutKip848,
}

/// What a consumer task sets up before it consumes.
struct Prepared {
    /// One per write lane.
    sessions: Vec<Box<dyn BackendSession>>,
    sinks: Vec<ViewSink>,
    consumer: KafkaConsumer,
    ownership: Arc<Ownership>,
    decoder: BlockDecoder,
    protocol: Protocol,
}

impl ConsumerTask {
    /// Runs until `stop` turns true. Errors are logged and retried; only a
    /// stop ends the task.
    pub async fn run(self, mut stop: watch::Receiver<bool>) {
        let table = self.table.name.to_string();
        let mut backoff = Backoff::new();
        loop {
            match self.prepare().await {
                Ok(prepared) => {
                    tracing::info!(%table, consumer = self.index, views = prepared.sinks.len(), group_protocol = prepared.protocol.name(), "consuming");
                    if self.consume(prepared, &mut stop).await == Ended::WithoutKip848 {
                        tracing::warn!(%table, brokers = %self.settings.broker_list, "no partition assigned under the consumer group protocol (KIP-848) within 5 s to any of the table's consumers: the broker does not have it (or the topic has no partitions yet); using the classic protocol");
                        Protocol::classic_from_now_on(&self.settings.broker_list);
                        continue;
                    }
                    return;
                }
                Err(e) => {
                    tracing::error!(%table, error = %e, "cannot start consuming; will retry");
                    self.status.exception(e.to_string());
                    if backoff.wait(&mut stop).await.is_err() {
                        return;
                    }
                }
            }
        }
    }

    async fn prepare(&self) -> Result<Prepared, ChError> {
        let mut session = self.backend.open_session().await?;
        // A stalled backend shows as an exception within this, and the
        // block is retried, rather than after a client's 300 s.
        session.set_request_timeout(PIPELINE_REQUEST_TIMEOUT);
        let decoder =
            BlockDecoder::open(&self.table.columns, &self.settings, &self.parsing).await?;
        let mut sinks = Vec::with_capacity(self.views.len());
        for view in &self.views {
            let mut sink = ViewSink::prepare(
                view,
                &self.table,
                decoder.schema(),
                session.as_mut(),
                self.backend.insert_format(),
                &self.parsing,
            )
            .await?;
            // On the embedded engine this gives a MergeTree destination its
            // deduplication window.
            sink.guarantee = super::guarantee::prepare(
                session.as_mut(),
                &view.destination,
                self.backend.is_embedded(),
            )
            .await?;
            tracing::info!(view = %view.name, guarantee = sink.guarantee.name(), reason = sink.guarantee.reason(), "delivery");
            sinks.push(sink);
        }
        if self.settings.error_mode() == ErrorMode::DeadLetterQueue {
            dead_letters::ensure_table(session.as_mut()).await?;
        }
        let mut sessions = vec![session];
        while sessions.len() < WRITE_LANES {
            let mut session = self.backend.open_session().await?;
            session.set_request_timeout(PIPELINE_REQUEST_TIMEOUT);
            sessions.push(session);
        }
        let ownership = Arc::new(Ownership::sharing(self.group_assigned.clone()));
        let protocol = Protocol::for_brokers(&self.settings.broker_list);
        let consumer = self.consumer(ownership.clone(), protocol)?;
        Ok(Prepared {
            sessions,
            sinks,
            consumer,
            ownership,
            decoder,
            protocol,
        })
    }

    fn consumer(
        &self,
        ownership: Arc<Ownership>,
        protocol: Protocol,
    ) -> Result<KafkaConsumer, ChError> {
        let s = &self.settings;
        let mut config = consumer_config(s, &client_id(&self.table, s, self.index));
        protocol.configure(&mut config);
        config
            // A partition read to its end cuts its block at once, without
            // waiting for a poll over all partitions to come back empty.
            .set("enable.partition.eof", "true")
            // Committed offsets and lag for system.kafka_consumers.
            .set("statistics.interval.ms", "1000");
        // librdkafka's own prefetch queue is part of the consumer's budget
        // (a quarter of it; its default is 64 MiB whatever the budget).
        let prefetch = (s.max_consumer_bytes / 4).max(1 << 20);
        // One partition's fetch may bring a whole block's worth, so that a
        // backlog makes large blocks (each block is one insert, one part).
        let partition_fetch = reader::block_bytes(s.max_consumer_bytes as usize).max(1 << 20);
        config
            .set("queued.max.messages.kbytes", (prefetch / 1024).to_string())
            .set(
                "fetch.max.bytes",
                prefetch.max(partition_fetch as u64).to_string(),
            )
            .set("max.partition.fetch.bytes", partition_fetch.to_string())
            // With a bounded queue a full one is usual: fetch again as soon
            // as the reader has taken from it, not a second later (the
            // default), which would stall a backlog every time.
            .set("fetch.queue.backoff.ms", "10")
            .set("fetch.wait.max.ms", "50");
        let consumer: KafkaConsumer = config
            .create_with_context(ConsumerCtx {
                stats: StatsContext {
                    status: self.status.clone(),
                },
                ownership,
            })
            .map_err(kafka_error)?;
        let topics: Vec<&str> = s.topics.iter().map(String::as_str).collect();
        consumer.subscribe(&topics).map_err(kafka_error)?;
        Ok(consumer)
    }

    async fn consume(&self, prepared: Prepared, stop: &mut watch::Receiver<bool>) -> Ended {
        let Prepared {
            sessions,
            sinks,
            consumer,
            ownership,
            decoder,
            protocol,
        } = prepared;
        let consumer = Arc::new(consumer);
        // Bounded: when inserts fall behind, the reader pauses the
        // partitions (and keeps polling the group) until there is room.
        let (blocks_tx, blocks_rx) = mpsc::channel::<Block>(2);
        let reader = BlockReader {
            table: self.table.name.to_string(),
            settings: self.settings.clone(),
            status: self.status.clone(),
            ownership: ownership.clone(),
            budget: budget::Budget::new(
                usize::try_from(self.settings.max_consumer_bytes).unwrap_or(usize::MAX),
            ),
        };
        // Reading runs as its own task so that polling and cutting the next
        // blocks overlaps decoding and inserting the current ones.
        let reading = tokio::spawn(reader.run(consumer.clone(), blocks_tx, stop.clone()));
        // On trial under KIP-848: a consumer never assigned anything (so
        // holding and having written nothing) ends, to start over classic.
        let trial = async {
            if protocol == Protocol::Consumer && protocol::on_trial() {
                tokio::time::sleep(protocol::PROBE).await;
                let anyone = self
                    .group_assigned
                    .load(std::sync::atomic::Ordering::Acquire);
                if ownership.version() == 0 && !anyone {
                    return;
                }
                tracing::info!(table = %self.table.name, consumer = self.index, "the broker has the consumer group protocol (KIP-848): staying on it");
            }
            std::future::pending::<()>().await
        };
        let ended = tokio::select! {
            () = self.write_blocks(
                blocks_rx,
                sessions,
                &sinks,
                (&consumer, &ownership),
                decoder,
                stop,
            ) => Ended::Done,
            () = trial => Ended::WithoutKip848,
        };
        // The reader ends on the stop, or when the writer dropped its end.
        drop(consumer);
        if ended == Ended::WithoutKip848 {
            reading.abort();
        }
        match reading.await {
            Err(e) if !e.is_cancelled() => {
                tracing::error!(table = %self.table.name, error = %e, "the Kafka reader task failed")
            }
            _ => {}
        }
        ended
    }
}
