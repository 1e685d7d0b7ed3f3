//! The writing half of a consumer: decodes the reader's blocks, inserts each
//! through every view (retrying with backoff until it is in), writes broken
//! messages to the dead letter queue, fires views into Kafka tables, and
//! commits a block's offsets only after all of that succeeded.
//!
//! Uses the decoder, the view sinks, the dead letter queue, producing views,
//! the backend session and `backoff`; blocks come from `reader`.

use std::sync::Arc;
use std::time::Instant;

use futures::StreamExt;
use rdkafka::consumer::{CommitMode, Consumer};
use rdkafka::{Offset, TopicPartitionList};
use tokio::sync::{mpsc, watch};

use catalog::kafka::ErrorMode;

use crate::pipeline::kafka_config::kafka_error;
use super::reader::Block;
use super::{ConsumerTask, KafkaConsumer};
use crate::backend::BackendSession;
use crate::error::ChError;
use crate::pipeline::backoff::{Backoff, Stopped};
use crate::pipeline::dead_letters;
use crate::pipeline::decode::{BlockDecoder, Decoded};
use crate::pipeline::producing::{ProducingView, Stage};
use crate::pipeline::sink::{Encoded, ViewSink};
use crate::pipeline::status::now;
use crate::session::SessionState;

impl ConsumerTask {
    /// Decodes blocks (on the blocking pool, the next while the current one
    /// is inserted), writes each through every view and commits it, one at a
    /// time and in the order they were read.
    pub(super) async fn write_blocks(
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
            if let Err(Stopped) = written {
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
    ) -> Result<(), Stopped> {
        let (topic, partition, messages) = (block.topic.as_str(), block.partition, &block.messages);
        let first = messages.first().map(|m| m.offset).unwrap_or(0);
        let last = messages.last().map(|m| m.offset).unwrap_or(0);
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
        // Inserting failures are a new run: they start from the first delay.
        backoff.reset();
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

/// Commits `next` as the group's position in `topic[partition]`.
fn commit(consumer: &KafkaConsumer, topic: &str, partition: i32, next: i64) -> Result<(), ChError> {
    let mut list = TopicPartitionList::new();
    list.add_partition_offset(topic, partition, Offset::Offset(next))
        .map_err(kafka_error)?;
    // A synchronous commit blocks on the broker: keep it off the async workers.
    tokio::task::block_in_place(|| consumer.commit(&list, CommitMode::Sync)).map_err(kafka_error)
}
