//! Which of a consumer's partitions librdkafka fetches now.
//!
//! All of them, normally. None while the consumer holds its whole budget
//! (the writer is behind), until it holds half. And during a backlog, only
//! the few partitions whose blocks are being filled: a block is one
//! partition's messages and one insert (one part in the destination), and a
//! broker may serve every partition a little in each fetch, so a bounded
//! consumer reading all partitions at once would cut many small blocks.
//! Filling a few at a time makes blocks of `block_bytes` (or a partition's
//! whole backlog) in the same memory. A paused partition keeps what the
//! reader holds of it; librdkafka fetches it again from the next message.
//!
//! Uses rdkafka's consumer and the reader's partition keys.

use std::collections::HashSet;

use rdkafka::consumer::Consumer;
use rdkafka::TopicPartitionList;

use super::context::PartitionKey;
use super::KafkaConsumer;

/// The reader's view of what it holds, for deciding what to fetch.
pub(super) struct Holding<'a> {
    /// Everything the consumer holds (pending and cut), in bytes.
    pub(super) total: usize,
    /// Pending (not yet cut) bytes.
    pub(super) pending: usize,
    /// Pending bytes per partition; read only when the filled set changes.
    pub(super) per_partition: &'a dyn Fn() -> Vec<(PartitionKey, usize)>,
    /// Whether blocks were cut since the last call.
    pub(super) cut: bool,
}

#[derive(Default)]
pub(super) struct Fetching {
    /// What this consumer paused, as librdkafka has it.
    paused: HashSet<PartitionKey>,
    behind: bool,
    /// During a backlog: the partitions being filled.
    filling: Option<HashSet<PartitionKey>>,
}

impl Fetching {
    /// Brings the paused partitions in line with what the consumer holds
    /// against `limit` (see the module's comment); `block_bytes` is what one
    /// block may hold, `pending_limit` what pending messages may.
    pub(super) fn update(
        &mut self,
        consumer: &KafkaConsumer,
        table: &str,
        (limit, block_bytes, pending_limit): (usize, usize, usize),
        holding: Holding<'_>,
    ) {
        let behind = if self.behind {
            holding.total > limit / 2
        } else {
            holding.total > limit
        };
        let mut changed = behind != self.behind;
        self.behind = behind;
        let backlog = match &self.filling {
            None => holding.pending >= pending_limit,
            Some(_) => holding.pending >= pending_limit / 2,
        };
        if !backlog {
            changed |= self.filling.take().is_some();
        } else if self.filling.is_none() || holding.cut {
            // The largest pending blocks are filled first; as many as
            // pending messages may hold in full blocks.
            let slots = (pending_limit / block_bytes.max(1)).max(1);
            let mut sizes = (holding.per_partition)();
            sizes.sort_unstable_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
            let filling: HashSet<PartitionKey> =
                sizes.into_iter().take(slots).map(|(k, _)| k).collect();
            changed |= self.filling.as_ref() != Some(&filling);
            self.filling = Some(filling);
        }
        if changed {
            self.apply(consumer, table);
        }
    }

    /// Pauses what should be paused now and resumes the rest.
    fn apply(&mut self, consumer: &KafkaConsumer, table: &str) {
        let assigned = match consumer.assignment() {
            Ok(assigned) => assigned,
            Err(e) => {
                tracing::warn!(table, error = %e, "cannot read the assignment");
                return;
            }
        };
        let want: HashSet<PartitionKey> = assigned
            .elements()
            .iter()
            .map(|e| (e.topic().to_string(), e.partition()))
            .filter(|key| self.behind || self.filling.as_ref().is_some_and(|f| !f.contains(key)))
            .collect();
        let (mut pause, mut resume) = (TopicPartitionList::new(), TopicPartitionList::new());
        for key in want.difference(&self.paused) {
            pause.add_partition(&key.0, key.1);
        }
        for key in self.paused.difference(&want) {
            resume.add_partition(&key.0, key.1);
        }
        let mut done = Ok(());
        if pause.count() > 0 {
            done = consumer.pause(&pause);
        }
        if resume.count() > 0 && done.is_ok() {
            done = consumer.resume(&resume);
        }
        match done {
            Ok(()) => {
                tracing::debug!(
                    table,
                    paused = want.len(),
                    behind = self.behind,
                    filling = self.filling.as_ref().map_or(0, HashSet::len),
                    "fetching changed"
                );
                self.paused = want;
            }
            Err(e) => tracing::warn!(table, error = %e, "cannot pause or resume partitions"),
        }
    }
}
