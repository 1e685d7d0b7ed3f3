//! A partition's place in its group, kept in Kafka's offset commits: the
//! next offset to read, and the block in flight.
//!
//! Exactly-once rests on two commits per block `[first, last]` of one
//! partition: before its inserts, offset `first` with metadata naming the
//! range (`kafkahouse:pending:first-last`); after them, `last + 1`. Whoever
//! owns the partition next (this process after a crash, another consumer
//! after a rebalance) starts at `first`, finds the range and cuts exactly
//! that block again, whose inserts carry the same deduplication tokens, so
//! the destination drops what it already has.
//!
//! Uses rdkafka's consumer and the server's errors.

use std::time::Duration;

use rdkafka::consumer::{CommitMode, Consumer, ConsumerContext};
use rdkafka::{Offset, TopicPartitionList};

use catalog::ViewDef;

use crate::error::ChError;
use crate::pipeline::kafka_config::kafka_error;

const PENDING: &str = "kafkahouse:pending:";

/// How long reading a committed offset may take before the reader goes on
/// without a recorded range (the block is then cut afresh).
const COMMITTED_TIMEOUT: Duration = Duration::from_secs(10);

/// A block's offsets, both included.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Range {
    pub first: i64,
    pub last: i64,
}

impl Range {
    fn metadata(&self) -> String {
        format!("{PENDING}{}-{}", self.first, self.last)
    }

    fn parse(metadata: &str) -> Option<Range> {
        let (first, last) = metadata.strip_prefix(PENDING)?.split_once('-')?;
        let range = Range {
            first: first.parse().ok()?,
            last: last.parse().ok()?,
        };
        (range.first <= range.last).then_some(range)
    }
}

/// The deduplication token of one view's insert of one block: the same on
/// every replay of the block, by any consumer of the group on any instance,
/// and different for every other block or view. A view is known by what it
/// does (its destination and a stable hash of its SELECT) rather than its
/// name, so that the same view defined on two instances writes the same
/// tokens.
pub(crate) fn token(
    view: &ViewDef,
    group: &str,
    topic: &str,
    partition: i32,
    range: Range,
) -> String {
    format!(
        "kafkahouse:{}:{:016x}:{group}:{topic}:{partition}:{}-{}",
        view.destination,
        fnv1a(view.select_sql.as_bytes()),
        range.first,
        range.last
    )
}

/// FNV-1a, 64 bits: a hash that never changes between builds or releases
/// (std's hasher may), as tokens must not.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, b| {
        (hash ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// Records `range` as the partition's block in flight (offset `first`).
pub(crate) fn record_pending<C: ConsumerContext>(
    consumer: &impl Consumer<C>,
    topic: &str,
    partition: i32,
    range: Range,
) -> Result<(), ChError> {
    commit(consumer, topic, partition, range.first, &range.metadata())
}

/// Commits `next` as the partition's position, with no block in flight.
pub(crate) fn commit_next<C: ConsumerContext>(
    consumer: &impl Consumer<C>,
    topic: &str,
    partition: i32,
    next: i64,
) -> Result<(), ChError> {
    commit(consumer, topic, partition, next, "")
}

fn commit<C: ConsumerContext>(
    consumer: &impl Consumer<C>,
    topic: &str,
    partition: i32,
    offset: i64,
    metadata: &str,
) -> Result<(), ChError> {
    let mut list = TopicPartitionList::new();
    let mut element = list.add_partition(topic, partition);
    element
        .set_offset(Offset::Offset(offset))
        .map_err(kafka_error)?;
    element.set_metadata(metadata);
    // A synchronous commit blocks on the broker: keep it off the async workers.
    tokio::task::block_in_place(|| consumer.commit(&list, CommitMode::Sync)).map_err(kafka_error)
}

/// The block in flight the group recorded for a partition whose committed
/// offset is `first`; `None` when there is none (or it cannot be read now).
pub(crate) fn recorded_range<C: ConsumerContext>(
    consumer: &impl Consumer<C>,
    topic: &str,
    partition: i32,
) -> Option<Range> {
    let mut list = TopicPartitionList::new();
    list.add_partition(topic, partition);
    let committed =
        tokio::task::block_in_place(|| consumer.committed_offsets(list, COMMITTED_TIMEOUT));
    let committed = match committed {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!(topic, partition, error = %e, "cannot read the committed offset; the next block is cut afresh");
            return None;
        }
    };
    let element = committed.find_partition(topic, partition)?;
    let range = Range::parse(element.metadata())?;
    (element.offset() == Offset::Offset(range.first)).then_some(range)
}

/// Whether the broker kept the metadata of the pending range just recorded
/// for the partition (`None`: it cannot be read now). A broker that drops
/// commit metadata (tansu 0.6) loses the record of the block in flight, so
/// a crash may cut that block afresh and write it twice.
pub(crate) fn metadata_kept<C: ConsumerContext>(
    consumer: &impl Consumer<C>,
    topic: &str,
    partition: i32,
    range: Range,
) -> Option<bool> {
    let mut list = TopicPartitionList::new();
    list.add_partition(topic, partition);
    let committed =
        tokio::task::block_in_place(|| consumer.committed_offsets(list, COMMITTED_TIMEOUT)).ok()?;
    let element = committed.find_partition(topic, partition)?;
    if element.offset() != Offset::Offset(range.first) {
        // Committed past it already (another owner): nothing to tell.
        return None;
    }
    Some(element.metadata() == range.metadata())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_round_trip_through_metadata() {
        let r = Range {
            first: 10,
            last: 59,
        };
        assert_eq!(r.metadata(), "kafkahouse:pending:10-59");
        assert_eq!(Range::parse(&r.metadata()), Some(r));
        assert_eq!(Range::parse(""), None);
        assert_eq!(Range::parse("kafkahouse:pending:9-3"), None);
        assert_eq!(Range::parse("someone else's metadata"), None);
    }

    fn view(name: &str, destination: &str, select: &str) -> ViewDef {
        ViewDef {
            name: catalog::QualifiedName::new("db", name),
            source: catalog::QualifiedName::new("db", "q"),
            destination: catalog::QualifiedName::new("db", destination),
            select_sql: select.to_string(),
            engine: Default::default(),
        }
    }

    #[test]
    fn tokens_name_what_the_view_does_and_the_block() {
        let r = Range { first: 0, last: 49 };
        let mv = view("mv", "t", "SELECT *");
        let a = token(&mv, "g", "t", 3, r);
        assert_eq!(
            a,
            format!("kafkahouse:db.t:{:016x}:g:t:3:0-49", fnv1a(b"SELECT *"))
        );
        // The same view under another name (on another instance): the same.
        assert_eq!(a, token(&view("mv_b", "t", "SELECT *"), "g", "t", 3, r));
        assert_ne!(a, token(&view("mv", "t", "SELECT a"), "g", "t", 3, r));
        assert_ne!(a, token(&view("mv", "t2", "SELECT *"), "g", "t", 3, r));
        assert_ne!(a, token(&mv, "g", "t", 3, Range { first: 0, last: 48 }));
        assert_ne!(a, token(&mv, "g2", "t", 3, r));
        // FNV-1a's published test vector: the hash must never change.
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
    }
}
