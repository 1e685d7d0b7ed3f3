//! The reading half of a consumer: polls its librdkafka consumer and cuts
//! each partition's messages into [`Block`]s for the writer.
//!
//! A block is one partition's consecutive messages under one assignment.
//! When a partition is (re)assigned, the first block is the range the group
//! recorded as in flight, if any (see `offsets`), cut exactly there whatever
//! the timing, so a replay carries the same tokens as the first attempt.
//! Pending messages of a partition that was revoked, or assigned again, are
//! dropped. Every message held is counted against the consumer's budget
//! (`budget`) until its block is committed or dropped; `fetching` pauses
//! partitions by it (the reader keeps polling: the group keeps this
//! consumer as a member).
//!
//! Uses the consumer's settings, status, context, offsets, budget and
//! fetching, the decoder's `Message` and the stop-aware wait of `backoff`;
//! it never decodes, inserts or commits.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rdkafka::error::KafkaError;
use rdkafka::message::Message as _;
use tokio::sync::{mpsc, watch};

use catalog::kafka::KafkaSettings;

use super::budget::{Budget, Held};
use super::context::{Ownership, PartitionKey};
use super::fetching::{Fetching, Holding};
use super::offsets::{recorded_range, Range};
use super::KafkaConsumer;
use crate::pipeline::backoff;
use crate::pipeline::decode::Message;
use crate::pipeline::status::{now, ConsumerStatus};

/// Messages of one partition, cut for decoding, inserting and committing
/// as one unit.
pub(super) struct Block {
    pub(super) topic: String,
    pub(super) partition: i32,
    /// The assignment the messages were read under.
    pub(super) epoch: u64,
    pub(super) messages: Vec<Message>,
    /// The messages' bytes, counted against the consumer's budget until
    /// the block is dropped (committed, revoked or abandoned).
    pub(super) held: Held,
}

impl Block {
    /// The offsets the block holds (an empty block holds none).
    pub(super) fn range(&self) -> Option<Range> {
        Some(Range {
            first: self.messages.first()?.offset,
            last: self.messages.last()?.offset,
        })
    }

    pub(super) fn key(&self) -> PartitionKey {
        (self.topic.clone(), self.partition)
    }
}

/// Of the consumer's budget (`kafkahouse_max_consumer_bytes`): what one
/// partition's block may hold before it is cut, what the messages not yet
/// cut may hold before all are cut, and (all of it) what the consumer holds
/// before it pauses fetching, resuming at half.
pub(super) fn block_bytes(limit: usize) -> usize {
    limit / 8
}

fn pending_bytes(limit: usize) -> usize {
    limit / 2
}

/// How often a trickling partition's block is cut at most (unless
/// `kafka_flush_interval_ms` is shorter).
const EOF_CUT_EVERY: Duration = Duration::from_millis(400);

/// Messages of one partition waiting to become a block.
struct Pending {
    epoch: u64,
    messages: Vec<Message>,
    since: Instant,
    /// A recorded range being replayed: the block ends at this offset.
    replay_until: Option<i64>,
    held: Held,
}

/// What the reader keeps of a partition between messages.
#[derive(Default)]
struct Seen {
    /// The assignment whose first message was looked at (for a recorded
    /// range); a new epoch means a new look.
    epoch: u64,
    last_eof_cut: Option<Instant>,
}

/// Polls the consumer and cuts each partition's messages into blocks.
pub(super) struct BlockReader {
    pub(super) table: String,
    pub(super) settings: KafkaSettings,
    pub(super) status: Arc<ConsumerStatus>,
    pub(super) ownership: Arc<Ownership>,
    pub(super) budget: Arc<Budget>,
}

/// What woke the reader.
enum Event {
    Stop,
    /// Room in the writer's channel for the oldest cut block.
    Room(Result<mpsc::OwnedPermit<Block>, mpsc::error::SendError<()>>),
    Polled(Result<Result<Polled, KafkaError>, ()>),
}

impl BlockReader {
    /// A partition's block is cut when it holds `kafka_max_block_size`
    /// messages or an eighth of the consumer's budget, when the partition
    /// has been read to its end for now (EOF; at most every 400 ms), when
    /// its first message is `kafka_flush_interval_ms` old, or when a whole
    /// poll brought nothing; a replayed range is cut at its end only. Like
    /// ClickHouse, a consumer holds at most `kafka_max_block_size` messages
    /// across its partitions before cutting; and at most half its budget
    /// in pending messages (a backlog is read a few partitions at a time,
    /// see `fetching`).
    pub(super) async fn run(
        self,
        consumer: Arc<KafkaConsumer>,
        blocks: mpsc::Sender<Block>,
        mut stop: watch::Receiver<bool>,
    ) {
        let s = &self.settings;
        let poll_timeout = Duration::from_millis(s.poll_timeout_ms);
        let flush_interval = Duration::from_millis(s.flush_interval_ms);
        // A partition read to its end is cut at most this often: a trickle
        // reaches ClickHouse within about this, in at most a few inserts a
        // second per partition (ClickHouse waits the flush interval).
        let eof_every = flush_interval.min(EOF_CUT_EVERY);
        let max_block = (s.max_block_size as usize).max(1);
        let mut pending: HashMap<PartitionKey, Pending> = HashMap::new();
        let mut seen: HashMap<PartitionKey, Seen> = HashMap::new();
        // Cut blocks the writer has no room for yet, oldest first.
        let mut outbound: VecDeque<Block> = VecDeque::new();
        let mut fetching = Fetching::default();
        let mut unreported = 0u64;
        let mut unreported_bytes = 0u64;
        // Messages in `pending`, and when the oldest pending block began.
        let mut held = 0usize;
        // Their payload bytes.
        let mut pending_held = 0usize;
        let limit = self.budget.limit();
        let mut oldest: Option<Instant> = None;
        let mut ownership_seen = self.ownership.version();
        loop {
            let event = tokio::select! {
                biased;
                _ = stop.changed() => Event::Stop,
                // The writer ended (it failed): nothing more to read for,
                // and the consumer's supervisor starts it over.
                () = blocks.closed() => Event::Stop,
                room = blocks.clone().reserve_owned(), if !outbound.is_empty() => Event::Room(room),
                polled = tokio::time::timeout(poll_timeout, recv(&consumer)) => Event::Polled(polled.map_err(|_| ())),
            };
            // Partitions whose block is cut now, and why (for the log).
            let mut ready: Vec<(PartitionKey, &str)> = Vec::new();
            match event {
                Event::Stop => return,
                Event::Room(Err(_)) => return, // the writer is gone
                Event::Room(Ok(permit)) => {
                    if let Some(block) = outbound.pop_front() {
                        permit.send(block);
                    }
                }
                Event::Polled(Ok(Ok(m))) => {
                    unreported += 1;
                    unreported_bytes += m.message.payload.len() as u64;
                    let key = (m.topic.clone(), m.partition);
                    let Some(epoch) = self.ownership.epoch(&key) else {
                        // A message of a partition taken away meanwhile.
                        continue;
                    };
                    // Looked up before inserting: no key copied per message.
                    let entry = match seen.get_mut(&key) {
                        Some(entry) => entry,
                        None => seen.entry(key.clone()).or_default(),
                    };
                    let fresh = entry.epoch != epoch;
                    if fresh {
                        entry.epoch = epoch;
                        entry.last_eof_cut = None;
                    }
                    let stale = pending.get(&key).is_some_and(|p| p.epoch != epoch);
                    if stale {
                        if let Some(p) = pending.remove(&key) {
                            held -= p.messages.len();
                            pending_held -= p.held.bytes();
                        }
                    }
                    let replay = if fresh {
                        self.replay_of(&consumer, &key, m.message.offset)
                    } else {
                        None
                    };
                    // A replayed range that the partition no longer holds
                    // whole (deleted, compacted): cut what there is.
                    if let Some(p) = pending.get_mut(&key) {
                        if p.replay_until.is_some_and(|last| m.message.offset > last) {
                            p.replay_until = None;
                            if let Some(block) = take_block(&mut pending, &key) {
                                held -= block.messages.len();
                                pending_held -= block.held.bytes();
                                outbound.push_back(block);
                            }
                        }
                    }
                    if !pending.contains_key(&key) {
                        let since = Instant::now();
                        oldest = Some(oldest.map_or(since, |o| o.min(since)));
                        let started = Pending {
                            epoch,
                            messages: Vec::new(),
                            since,
                            replay_until: replay,
                            held: self.budget.share(),
                        };
                        pending.insert(key.clone(), started);
                    }
                    let Some(entry) = pending.get_mut(&key) else {
                        continue;
                    };
                    let offset = m.message.offset;
                    let size = m.message.payload.len() + m.message.key.as_ref().map_or(0, Vec::len);
                    entry.held.add(size);
                    pending_held += size;
                    entry.messages.push(m.message);
                    held += 1;
                    match entry.replay_until {
                        Some(last) if offset >= last => {
                            entry.replay_until = None;
                            ready.push((key, "replayed"));
                        }
                        Some(_) => {}
                        None => {
                            let full = entry.messages.len() >= max_block
                                || entry.held.bytes() >= block_bytes(limit);
                            if held >= max_block {
                                ready.extend(pending.keys().map(|k| (k.clone(), "max_block_size")));
                            } else if full {
                                ready.push((key, "full"));
                            } else if pending_held >= limit {
                                // Past what filling a few partitions at a
                                // time should ever let it reach.
                                ready.extend(pending.keys().map(|k| (k.clone(), "budget")));
                            }
                        }
                    }
                }
                Event::Polled(Ok(Err(KafkaError::PartitionEOF(partition)))) => {
                    // A backlog is cut partition by partition as each is
                    // read to its end, so inserting starts while the rest is
                    // read; a trickling partition at most every 400 ms
                    // (`EOF_CUT_EVERY`). The EOF names no topic: every topic's
                    // partition of that number counts (at worst a smaller
                    // block).
                    let now = Instant::now();
                    for key in pending.keys().filter(|(_, p)| *p == partition) {
                        let entry = seen.entry(key.clone()).or_default();
                        let due = entry
                            .last_eof_cut
                            .is_none_or(|t| now.duration_since(t) >= eof_every);
                        if due {
                            entry.last_eof_cut = Some(now);
                            ready.push((key.clone(), "end of partition"));
                        }
                    }
                }
                Event::Polled(Ok(Err(e))) => {
                    tracing::warn!(table = %self.table, error = %e, "kafka poll failed");
                    self.status.exception(format!("Kafka: {e}"));
                    // A short fixed pause, only so that a persistent error
                    // does not spin; the next poll is the retry.
                    if backoff::wait(&mut stop, backoff::FIRST).await.is_err() {
                        return;
                    }
                }
                // Nothing arrived for a whole poll: what is pending is all
                // there is for now, so it goes out (as ClickHouse ends a
                // block on an empty poll).
                Event::Polled(Err(())) => {
                    ready.extend(pending.keys().map(|k| (k.clone(), "idle poll")))
                }
            }
            // Whether `oldest` may be stale (blocks went): looked for again
            // then only, not for every message (it scans every partition).
            let mut look_again = false;
            if oldest.is_some_and(|o| o.elapsed() >= flush_interval) {
                look_again = true;
                ready.extend(
                    pending
                        .iter()
                        .filter(|(_, p)| p.since.elapsed() >= flush_interval)
                        .map(|(k, _)| (k.clone(), "kafka_flush_interval_ms")),
                );
            }
            // Whatever was revoked (or assigned anew) meanwhile goes.
            let version = self.ownership.version();
            if version != ownership_seen {
                ownership_seen = version;
                pending.retain(|key, p| self.ownership.owns(key, p.epoch));
                outbound.retain(|b| self.ownership.owns(&b.key(), b.epoch));
                held = pending.values().map(|p| p.messages.len()).sum();
                pending_held = pending.values().map(|p| p.held.bytes()).sum();
                look_again = true;
            }
            if !ready.is_empty() || unreported >= 4096 {
                self.status.update(|s| {
                    s.num_messages_read += unreported;
                    s.bytes_read += unreported_bytes;
                    s.last_poll_time = now();
                });
                unreported = 0;
                unreported_bytes = 0;
            }
            ready.sort_by(|a, b| a.0.cmp(&b.0));
            ready.dedup_by(|a, b| a.0 == b.0);
            let cut = !ready.is_empty();
            for (key, why) in ready {
                // A recorded range is cut at its end only.
                if pending.get(&key).is_some_and(|p| p.replay_until.is_some()) {
                    continue;
                }
                if let Some(block) = take_block(&mut pending, &key) {
                    held -= block.messages.len();
                    pending_held -= block.held.bytes();
                    tracing::debug!(table = %self.table, topic = %key.0, partition = key.1, messages = block.messages.len(), bytes = block.held.bytes(), why, "block cut");
                    outbound.push_back(block);
                }
            }
            if cut || look_again {
                oldest = pending.values().map(|p| p.since).min();
            }
            // The writer is behind, or a backlog is read a few partitions
            // at a time (see `fetching`); the group is polled all the same.
            let per_partition = || {
                pending
                    .iter()
                    .filter(|(_, p)| p.replay_until.is_none())
                    .map(|(k, p)| (k.clone(), p.held.bytes()))
                    .collect()
            };
            fetching.update(
                &consumer,
                &self.table,
                (limit, block_bytes(limit), pending_bytes(limit)),
                Holding {
                    total: self.budget.held(),
                    pending: pending_held,
                    per_partition: &per_partition,
                    cut,
                },
            );
        }
    }

    /// The recorded range to replay when a partition's first message under
    /// a new assignment is at `offset`.
    fn replay_of(&self, consumer: &KafkaConsumer, key: &PartitionKey, offset: i64) -> Option<i64> {
        let range = recorded_range(consumer, &key.0, key.1)?;
        if offset != range.first {
            return None;
        }
        tracing::info!(table = %self.table, topic = %key.0, partition = key.1, first = range.first, last = range.last, "replaying the block in flight");
        Some(range.last)
    }
}

/// One polled message with its partition, or a poll error.
struct Polled {
    topic: String,
    partition: i32,
    message: Message,
}

async fn recv(consumer: &KafkaConsumer) -> Result<Polled, KafkaError> {
    let m = consumer.recv().await?;
    Ok(Polled {
        topic: m.topic().to_string(),
        partition: m.partition(),
        message: Message::from_kafka(&m),
    })
}

/// `key`'s pending messages as a block (none when it holds nothing).
fn take_block(pending: &mut HashMap<PartitionKey, Pending>, key: &PartitionKey) -> Option<Block> {
    let p = pending.remove(key)?;
    if p.messages.is_empty() {
        return None;
    }
    Some(Block {
        topic: key.0.clone(),
        partition: key.1,
        epoch: p.epoch,
        messages: p.messages,
        held: p.held,
    })
}
