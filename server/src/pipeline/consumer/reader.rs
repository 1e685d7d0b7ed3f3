//! The reading half of a consumer: polls its librdkafka consumer and cuts
//! each partition's messages into [`Block`]s for the writer.
//!
//! Uses the consumer's settings and status, the decoder's `Message` and the
//! stop-aware wait of `backoff`; it never decodes, inserts or commits.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rdkafka::error::KafkaError;
use rdkafka::message::Message as _;
use tokio::sync::{mpsc, watch};

use catalog::kafka::KafkaSettings;

use super::KafkaConsumer;
use crate::pipeline::backoff;
use crate::pipeline::decode::Message;
use crate::pipeline::status::{now, ConsumerStatus};

/// Messages of one partition, cut for decoding, inserting and committing
/// as one unit.
pub(super) struct Block {
    pub(super) topic: String,
    pub(super) partition: i32,
    pub(super) messages: Vec<Message>,
}

/// Messages of one partition waiting to become a block.
struct Pending {
    messages: Vec<Message>,
    since: Instant,
}

/// Polls the consumer and cuts each partition's messages into blocks.
pub(super) struct BlockReader {
    pub(super) table: String,
    pub(super) settings: KafkaSettings,
    pub(super) status: Arc<ConsumerStatus>,
}

impl BlockReader {
    /// A partition's block is cut when it holds `kafka_max_block_size`
    /// messages, when the partition has been read to its end for now (EOF),
    /// when its first message is `kafka_flush_interval_ms` old, or when a
    /// whole poll brought nothing. Like ClickHouse, a consumer holds at most
    /// `kafka_max_block_size` messages across its partitions.
    pub(super) async fn run(
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
                    // A short fixed pause, only so that a persistent error
                    // does not spin; the next poll is the retry.
                    if backoff::wait(&mut stop, backoff::FIRST).await.is_err() {
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
