//! The consumer's librdkafka context: the status statistics (delegated to
//! `status::StatsContext`) and which partitions this consumer owns now.
//!
//! Ownership changes in librdkafka's rebalance callbacks, which run inside
//! the reader's poll; the reader and the writer read it to drop what they
//! hold of a partition that was taken away (nothing is inserted or committed
//! for a partition another consumer owns now), and to know that a partition
//! assigned again must start over from its committed offset. Each
//! assignment gets a new epoch, so a partition revoked and assigned back
//! between two looks is still seen as new.
//!
//! Uses rdkafka's context traits and the pipeline's status.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use rdkafka::client::ClientContext;
use rdkafka::consumer::{BaseConsumer, ConsumerContext, Rebalance};
use rdkafka::error::KafkaError;
use rdkafka::statistics::Statistics;
use rdkafka::TopicPartitionList;

use crate::pipeline::status::StatsContext;

/// A partition: topic and number.
pub(super) type PartitionKey = (String, i32);

/// The partitions a consumer owns, each with the epoch of its assignment.
#[derive(Default)]
pub(super) struct Ownership {
    owned: Mutex<HashMap<PartitionKey, u64>>,
    next_epoch: AtomicU64,
    /// Bumped on every change, so readers look again only when it moved.
    version: AtomicU64,
    /// Set when any partition is assigned (shared by a table's consumers).
    assigned: Arc<AtomicBool>,
}

impl Ownership {
    /// Ownership that also sets `assigned` when partitions are assigned.
    pub(super) fn sharing(assigned: Arc<AtomicBool>) -> Ownership {
        Ownership {
            assigned,
            ..Ownership::default()
        }
    }

    /// Changes so far: compare with an earlier value to see a change.
    pub(super) fn version(&self) -> u64 {
        self.version.load(Ordering::Acquire)
    }

    /// The epoch of `key`'s current assignment; `None` when not owned.
    pub(super) fn epoch(&self, key: &PartitionKey) -> Option<u64> {
        self.lock().get(key).copied()
    }

    /// Whether `key` is still owned under the assignment of `epoch`.
    pub(super) fn owns(&self, key: &PartitionKey, epoch: u64) -> bool {
        self.epoch(key) == Some(epoch)
    }

    fn assign(&self, list: &TopicPartitionList) {
        let mut owned = self.lock();
        for p in list.elements() {
            let epoch = self.next_epoch.fetch_add(1, Ordering::Relaxed) + 1;
            owned.insert((p.topic().to_string(), p.partition()), epoch);
        }
        if list.count() > 0 {
            self.assigned.store(true, Ordering::Release);
        }
        self.version.fetch_add(1, Ordering::Release);
    }

    fn revoke(&self, list: &TopicPartitionList) {
        let mut owned = self.lock();
        for p in list.elements() {
            owned.remove(&(p.topic().to_string(), p.partition()));
        }
        self.version.fetch_add(1, Ordering::Release);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<PartitionKey, u64>> {
        // Plain data: still consistent after a panic elsewhere.
        self.owned.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The context a table's consumer runs with.
pub(super) struct ConsumerCtx {
    pub(super) stats: StatsContext,
    pub(super) ownership: Arc<Ownership>,
}

impl ClientContext for ConsumerCtx {
    fn error(&self, error: KafkaError, reason: &str) {
        self.stats.error(error, reason);
    }

    fn stats(&self, statistics: Statistics) {
        self.stats.stats(statistics);
    }
}

impl ConsumerContext for ConsumerCtx {
    fn pre_rebalance(&self, _consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        // Before the partitions go: from here on nothing of theirs is
        // inserted or committed by this consumer.
        if let Rebalance::Revoke(list) = rebalance {
            self.ownership.revoke(list);
            tracing::info!(partitions = list.count(), "partitions revoked");
        }
    }

    fn post_rebalance(&self, _consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if !matches!(rebalance, Rebalance::Error(_)) {
            self.stats.status.update(|s| s.rebalances += 1);
        }
        match rebalance {
            Rebalance::Assign(list) => {
                self.ownership.assign(list);
                tracing::info!(partitions = list.count(), "partitions assigned");
            }
            Rebalance::Revoke(_) => {}
            Rebalance::Error(e) => tracing::warn!(error = %e, "rebalance failed"),
        }
    }
}
