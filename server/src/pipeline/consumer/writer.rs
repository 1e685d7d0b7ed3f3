//! The writing half of a consumer: decodes the reader's blocks, inserts each
//! through every view (retrying with backoff until it is in), writes broken
//! messages to the dead letter queue, fires views into Kafka tables, runs
//! views into other Kafka tables and produces their rows, and
//! commits a block's offsets only after all of that succeeded.
//!
//! Uses the decoder, the view sinks, the dead letter queue, producing views,
//! the backend session and `backoff`; blocks come from `reader`.

use std::sync::Arc;
use std::time::Instant;

use futures::stream::FuturesUnordered;
use futures::StreamExt;
use tokio::sync::{mpsc, watch};

use catalog::kafka::ErrorMode;

use super::context::Ownership;
use super::offsets::{self, Range};
use super::reader::Block;
use super::{ConsumerTask, KafkaConsumer};
use crate::backend::BackendSession;
use crate::error::ChError;
use crate::pipeline::backoff::{Backoff, Stopped};
use crate::pipeline::dead_letters;
use crate::pipeline::decode::{BlockDecoder, Decoded};
use crate::pipeline::guarantee::Guarantee;
use crate::pipeline::producing::{ProducingView, Stage};
use crate::pipeline::sink::{Encoded, ViewSink};
use crate::pipeline::status::now;
use crate::session::SessionState;

/// Blocks whose recorded range a lane reads back at most, until the broker
/// answers whether it keeps commit metadata (one round trip each).
const METADATA_PROBES: u8 = 3;

/// How a write lane ended.
pub(super) enum LaneEnd {
    /// Its blocks ran out: the reader ended.
    Drained,
    /// Stopped, or failed in a way that ends the consumer (its supervisor
    /// starts a fresh one).
    Stopped,
}

impl ConsumerTask {
    /// Writes the reader's blocks through `sessions.len()` lanes, each with
    /// its own backend session, so that blocks of different partitions are
    /// decoded, inserted and committed at the same time. A partition always
    /// goes to the same lane: its blocks stay in order (each is recorded,
    /// inserted and committed before the next). Returns when the reader
    /// ended and every lane drained, on `stop`, or when a lane failed.
    pub(super) async fn write_blocks(
        &self,
        mut blocks: mpsc::Receiver<Block>,
        sessions: Vec<Box<dyn BackendSession>>,
        sinks: &[ViewSink],
        (consumer, ownership): (&KafkaConsumer, &Ownership),
        decoder: BlockDecoder,
        stop: &mut watch::Receiver<bool>,
    ) {
        let decoder = Arc::new(decoder);
        let mut senders = Vec::with_capacity(sessions.len());
        let mut lanes = FuturesUnordered::new();
        for session in sessions {
            // One block waiting per lane: the rest wait in the reader, which
            // pauses fetching when too much is held.
            let (tx, rx) = mpsc::channel::<Block>(1);
            senders.push(tx);
            lanes.push(self.lane(
                rx,
                session,
                sinks,
                (consumer, ownership),
                decoder.clone(),
                stop.clone(),
            ));
        }
        // A block whose lane had no room yet, and that lane.
        let mut waiting: Option<(usize, Block)> = None;
        let mut reading = true;
        loop {
            tokio::select! {
                biased;
                _ = stop.changed() => return,
                ended = lanes.next() => match ended {
                    None => return,
                    Some(LaneEnd::Drained) => {}
                    Some(LaneEnd::Stopped) => return,
                },
                permit = async {
                    match &waiting {
                        Some((lane, _)) => senders[*lane].clone().reserve_owned().await.ok(),
                        None => std::future::pending().await,
                    }
                }, if waiting.is_some() => match (permit, waiting.take()) {
                    (Some(permit), Some((_, block))) => {
                        permit.send(block);
                    }
                    // A lane that ended: so does the writer.
                    _ => return,
                },
                block = blocks.recv(), if reading && waiting.is_none() => match block {
                    Some(block) => {
                        let lane = lane_of(&block.topic, block.partition, senders.len());
                        waiting = Some((lane, block));
                    }
                    None => {
                        // The reader ended: the lanes finish what they hold.
                        reading = false;
                        senders.clear();
                    }
                },
            }
        }
    }

    /// One lane: decodes its blocks (on the blocking pool, the next while
    /// the current one is inserted), writes each through every view and
    /// commits it, one at a time and in the order they were read.
    async fn lane(
        &self,
        blocks: mpsc::Receiver<Block>,
        mut session: Box<dyn BackendSession>,
        sinks: &[ViewSink],
        (consumer, ownership): (&KafkaConsumer, &Ownership),
        decoder: Arc<BlockDecoder>,
        mut stop: watch::Receiver<bool>,
    ) -> LaneEnd {
        let stop = &mut stop;
        let session = session.as_mut();
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
        let mut metadata_probes = METADATA_PROBES;
        loop {
            let joined = tokio::select! {
                biased;
                _ = stop.changed() => return LaneEnd::Stopped,
                next = decoded.next() => match next {
                    Some(joined) => joined,
                    None => return LaneEnd::Drained,
                },
            };
            let (block, first_try, decode_ms) = match joined {
                Ok(decoded) => decoded,
                Err(e) => {
                    // A decode task that panicked: this consumer ends, its
                    // supervisor starts a fresh one that reads the block
                    // again; the panic's text is its exception.
                    let text = crate::pipeline::status::join_error_text(e);
                    tracing::error!(table = %self.table.name, error = %text, "a decode task panicked; stopping this consumer");
                    self.status
                        .exception(format!("decode task panicked: {text}"));
                    return LaneEnd::Stopped;
                }
            };
            let key = block.key();
            let (Some(range), true) = (block.range(), ownership.owns(&key, block.epoch)) else {
                // Revoked while it waited: the partition's new owner reads it.
                tracing::debug!(table = %self.table.name, topic = %block.topic, partition = block.partition, "block of a revoked partition dropped");
                continue;
            };
            let owned = || ownership.owns(&key, block.epoch);
            // Exactly once: the range is recorded before any insert, so
            // whoever reads the partition next replays exactly this block.
            if sinks.iter().any(|s| s.guarantee == Guarantee::ExactlyOnce) {
                let recorded = self
                    .commit_until(stop, &owned, || {
                        offsets::record_pending(consumer, &block.topic, block.partition, range)
                    })
                    .await;
                match recorded {
                    Err(Stopped) => return LaneEnd::Stopped,
                    Ok(false) => continue,
                    Ok(true) => {}
                }
                // Once per lane: does the broker keep what was recorded?
                if metadata_probes > 0 {
                    metadata_probes = self.probe_metadata(consumer, &block, range, metadata_probes);
                }
            }
            let written = self
                .write_block(
                    &block,
                    range,
                    (first_try, decode_ms),
                    &decoder,
                    sinks,
                    session,
                    stop,
                )
                .await;
            if let Err(Stopped) = written {
                return LaneEnd::Stopped;
            }
            let committing = Instant::now();
            let committed = self
                .commit_until(stop, &owned, || {
                    offsets::commit_next(consumer, &block.topic, block.partition, range.last + 1)
                })
                .await;
            tracing::debug!(topic = %block.topic, partition = block.partition, commit_ms = committing.elapsed().as_secs_f64() * 1e3, "block committed");
            match committed {
                Err(Stopped) => return LaneEnd::Stopped,
                Ok(true) => {
                    crate::metrics::commit_took(&self.table.name, committing.elapsed());
                    self.status.update(|s| {
                        s.num_commits += 1;
                        s.last_commit_time = now();
                    })
                }
                Ok(false) => {}
            }
        }
    }

    /// Reads back the pending range just recorded for `block`; when the
    /// broker dropped it, says so in the status (the views become at least
    /// once). Returns the probes left: 0 once the answer is known.
    fn probe_metadata(
        &self,
        consumer: &KafkaConsumer,
        block: &Block,
        range: Range,
        left: u8,
    ) -> u8 {
        match offsets::metadata_kept(consumer, &block.topic, block.partition, range) {
            None => left - 1,
            Some(true) => 0,
            Some(false) => {
                tracing::warn!(table = %self.table.name, "the broker drops offset-commit metadata: the block in flight is not recorded, so a crash may write a block twice (at least once)");
                self.status
                    .exception(crate::pipeline::guarantee::DROPPED_METADATA.to_string());
                self.status.update(|s| s.commit_metadata_dropped = true);
                0
            }
        }
    }

    /// Runs `commit` until it succeeds (`true`), retrying with backoff: a
    /// failed commit is never skipped. Gives up (`false`) once the partition
    /// is no longer this consumer's: its new owner takes over from what was
    /// committed, replaying the recorded block.
    async fn commit_until(
        &self,
        stop: &mut watch::Receiver<bool>,
        owned: &(dyn Fn() -> bool + Sync),
        commit: impl Fn() -> Result<(), ChError> + Sync,
    ) -> Result<bool, Stopped> {
        let mut backoff = Backoff::new();
        loop {
            if !owned() {
                return Ok(false);
            }
            match commit() {
                Ok(()) => return Ok(true),
                Err(e) => {
                    tracing::warn!(table = %self.table.name, error = %e, "offset commit failed; will retry");
                    self.status.exception(e.to_string());
                    backoff.wait(stop).await?;
                }
            }
        }
    }

    /// Decodes a block and inserts it through every view, retrying failures
    /// with backoff; a view that already wrote the block is not written again.
    #[allow(clippy::too_many_arguments)]
    async fn write_block(
        &self,
        block: &Block,
        range: Range,
        first_try: (Result<Decoded, ChError>, f64),
        decoder: &BlockDecoder,
        sinks: &[ViewSink],
        session: &mut dyn BackendSession,
        stop: &mut watch::Receiver<bool>,
    ) -> Result<(), Stopped> {
        let (topic, partition, messages) = (block.topic.as_str(), block.partition, &block.messages);
        let (first, last) = (range.first, range.last);
        let mut backoff = Backoff::new();
        let (mut attempt, decode_ms) = first_try;
        let decoded = loop {
            match attempt {
                Ok(decoded) => break decoded,
                Err(e) => {
                    tracing::error!(table = %self.table.name, topic, partition, first, last, error = %e, "cannot decode block; nothing past it is committed");
                    self.status.exception(e.to_string());
                    backoff.wait(stop).await?;
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
        // Per view: the views into Kafka tables that read its destination.
        let chained: Vec<Vec<ProducingView>> = sinks
            .iter()
            .map(|sink| {
                self.chained
                    .iter()
                    .filter(|p| p.view.source == sink.view.destination)
                    .cloned()
                    .collect()
            })
            .collect();
        // Per view into another Kafka table: produced.
        let mut produced = vec![false; self.producing.len()];
        // Inserting failures are a new run: they start from the first delay.
        backoff.reset();
        loop {
            for (i, sink) in sinks.iter().enumerate() {
                if inserted[i].is_none() {
                    let writing = Instant::now();
                    let token = offsets::token(
                        &sink.view,
                        &self.settings.group_name,
                        topic,
                        partition,
                        range,
                    );
                    // Views into Kafka tables read the inserted rows again.
                    let keep = !chained[i].is_empty();
                    match sink.write(&batch, session, &token, keep).await {
                        Ok(encoded) => {
                            let rows = encoded.as_ref().map_or(0, |e| e.rows);
                            self.status.update(|s| s.rows_written += rows as u64);
                            crate::metrics::insert_took(&self.table.name, writing.elapsed());
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
                match &inserted[i] {
                    Some(Some(encoded)) if !chained[i].is_empty() => {
                        match self.fire(sink, encoded, &chained[i], session).await {
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
            if produced.contains(&false) {
                self.produce(&batch, &mut produced, session).await;
            }
            if inserted.iter().all(Option::is_some)
                && fired.iter().all(|f| *f)
                && produced.iter().all(|p| *p)
            {
                return Ok(());
            }
            backoff.wait(stop).await?;
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
    ) -> Result<(), Stopped> {
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
        let mut backoff = Backoff::new();
        loop {
            match dead_letters::insert(session, rows.clone()).await {
                Ok(()) => return Ok(()),
                Err(e) => {
                    tracing::error!(table = %self.table.name, error = %e, "cannot write to the dead letter queue; will retry");
                    self.status.exception(format!("dead letter queue: {e}"));
                    backoff.wait(stop).await?;
                }
            }
        }
    }

    /// Runs the views from this Kafka table into others that are not
    /// `produced` yet over `batch` (staged once in the backend, which runs
    /// their SELECTs as ClickHouse) and produces their rows in the other
    /// tables' formats, marking each that succeeded.
    async fn produce(
        &self,
        batch: &arrow::array::RecordBatch,
        produced: &mut [bool],
        session: &mut dyn BackendSession,
    ) {
        let state = SessionState::new(&self.table.name.database);
        let format = self.backend.insert_format();
        let stage = match Stage::holding_block(session, &state, &self.table, batch, format).await {
            Ok(stage) => stage,
            Err(e) => {
                tracing::error!(table = %self.table.name, error = %e, "cannot stage a block for views into Kafka tables; will retry");
                self.status
                    .exception(format!("views into Kafka tables: {e}"));
                return;
            }
        };
        for (view, done) in self.producing.iter().zip(produced.iter_mut()) {
            if *done {
                continue;
            }
            match stage
                .fire(session, &state, &self.table.name, view, &self.producers)
                .await
            {
                Ok(()) => *done = true,
                Err(e) => {
                    tracing::error!(view = %view.view.name, error = %e, "producing failed; will retry");
                    self.status.exception(e.to_string());
                }
            }
        }
        stage.drop(session, &state).await;
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
                &state,
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

/// The lane a partition's blocks go through: always the same one.
fn lane_of(topic: &str, partition: i32, lanes: usize) -> usize {
    let hash = topic.bytes().fold(partition as u64, |h, b| {
        h.wrapping_mul(31).wrapping_add(u64::from(b))
    });
    (hash % lanes.max(1) as u64) as usize
}

#[cfg(test)]
mod tests {
    use super::lane_of;

    #[test]
    fn a_partition_always_takes_the_same_lane_and_partitions_spread() {
        assert_eq!(lane_of("github", 7, 2), lane_of("github", 7, 2));
        let lanes: Vec<usize> = (0..8).map(|p| lane_of("github", p, 2)).collect();
        assert!(lanes.iter().all(|l| *l < 2));
        assert_eq!(lanes.iter().filter(|l| **l == 0).count(), 4, "{lanes:?}");
        assert_eq!(lane_of("t", 3, 1), 0);
        assert_eq!(lane_of("t", 3, 0), 0);
    }
}
