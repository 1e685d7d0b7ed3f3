//! `SELECT ... FROM kafka_table` with `stream_like_engine_allow_direct_select
//! = 1`: reads what the topic has for the table's group, runs the SELECT over
//! it (with DataFusion when everything it uses runs there exactly as in
//! ClickHouse, else in the embedded ClickHouse engine, as views choose), and
//! commits the offsets only with `kafka_commit_on_select = 1` (ClickHouse's
//! behaviour: otherwise the messages are read again later).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow::array::RecordBatch;
use rdkafka::consumer::{CommitMode, Consumer, StreamConsumer};
use rdkafka::message::Message as _;
use rdkafka::{Offset, TopicPartitionList};

use catalog::kafka::KafkaSettings;
use catalog::KafkaTableDef;
use planner::ViewPlan;

use super::decode::{BlockDecoder, Message, Parsing};
use super::kafka_config::{consumer_config, kafka_error};
use crate::error::{codes, ChError};

/// How long a direct SELECT waits for the first message (a group join
/// alone takes seconds).
const FIRST_MESSAGE_WAIT: Duration = Duration::from_secs(15);

/// A direct SELECT's answer: DataFusion's batches, or the engine's rows
/// as `TabSeparatedWithNamesAndTypes`.
pub enum DirectAnswer {
    Batches(Vec<RecordBatch>),
    Text(Vec<u8>),
}

/// What runs the SELECT.
enum Runner {
    DataFusion(ViewPlan),
    /// The SELECT's text, for the embedded engine.
    ClickHouse(String),
}

/// The columns `sql` gives over the table, planned without reading a
/// message (a client's Describe of a direct SELECT).
pub async fn describe(
    table: &KafkaTableDef,
    settings: &KafkaSettings,
    sql: &str,
    parsing: &Arc<Parsing>,
) -> Result<DirectAnswer, ChError> {
    let (decoder, runner) = planned(table, settings, sql, parsing).await?;
    let empty = RecordBatch::new_empty(decoder.schema());
    match runner {
        Runner::DataFusion(plan) => Ok(DirectAnswer::Batches(vec![RecordBatch::new_empty(
            plan.output_schema(),
        )])),
        // Over no rows: only the header comes back.
        Runner::ClickHouse(sql) => in_engine(table, &sql, empty, parsing).await,
    }
}

/// The table's decoder and what runs `sql` over what it decodes.
async fn planned(
    table: &KafkaTableDef,
    settings: &KafkaSettings,
    sql: &str,
    parsing: &Arc<Parsing>,
) -> Result<(BlockDecoder, Runner), ChError> {
    let decoder = BlockDecoder::open(&table.columns, settings, parsing).await?;
    let plan = ViewPlan::over(
        sql,
        &table.name.database,
        &table.name.name,
        decoder.schema(),
    )
    .await;
    let inexact = planner::exact::inexact_in_text(sql);
    let runner = match plan {
        Ok(plan) if inexact.is_empty() => Runner::DataFusion(plan),
        Err(e) if e.code == codes::TOO_DEEP_RECURSION => {
            return Err(ChError::new(e.code, e.message))
        }
        _ => Runner::ClickHouse(sql.to_string()),
    };
    Ok((decoder, runner))
}

/// `sql` run by the embedded engine over `block` (the table's columns and
/// virtual columns).
async fn in_engine(
    table: &KafkaTableDef,
    sql: &str,
    block: RecordBatch,
    parsing: &Arc<Parsing>,
) -> Result<DirectAnswer, ChError> {
    let sql = planner::without_output_format(sql);
    let body =
        super::engine_view::run_once(parsing, table, sql, block, crate::backend::RESULT_FORMAT)
            .await?;
    Ok(DirectAnswer::Text(body))
}

/// Reads up to `max_messages` available messages and runs `sql` over them.
pub async fn run(
    table: &KafkaTableDef,
    settings: &KafkaSettings,
    sql: &str,
    parsing: &Arc<Parsing>,
) -> Result<DirectAnswer, ChError> {
    let consumer: StreamConsumer =
        consumer_config(settings, &format!("kafkahouse-{}-select", table.name))
            // A short-lived member: if it cannot leave cleanly, it should not
            // hold the group's partitions for long.
            .set("session.timeout.ms", "6000")
            .set("heartbeat.interval.ms", "1000")
            .create()
            .map_err(kafka_error)?;
    let topics: Vec<&str> = settings.topics.iter().map(String::as_str).collect();
    consumer.subscribe(&topics).map_err(kafka_error)?;

    let poll = Duration::from_millis(settings.poll_timeout_ms);
    let max_messages = settings.max_block_size as usize;
    let started = Instant::now();
    let mut by_partition: BTreeMap<(String, i32), Vec<Message>> = BTreeMap::new();
    let mut read = 0usize;
    while read < max_messages {
        let wait = if read == 0 {
            FIRST_MESSAGE_WAIT.saturating_sub(started.elapsed())
        } else {
            poll
        };
        if wait.is_zero() {
            break;
        }
        match tokio::time::timeout(wait, consumer.recv()).await {
            Ok(Ok(m)) => {
                read += 1;
                by_partition
                    .entry((m.topic().to_string(), m.partition()))
                    .or_default()
                    .push(Message::from_kafka(&m));
            }
            Ok(Err(e)) => return Err(kafka_error(e)),
            // Nothing more for now: the SELECT answers with what it has.
            Err(_) => break,
        }
    }

    let (decoder, runner) = planned(table, settings, sql, parsing).await?;
    // Every partition's messages decoded, then one run of the SELECT over
    // all of them: an aggregate is over everything read, as in ClickHouse.
    let mut blocks = Vec::with_capacity(by_partition.len().max(1));
    for ((topic, partition), messages) in &by_partition {
        blocks.push(
            tokio::task::block_in_place(|| decoder.decode(topic, *partition, messages))?.batch,
        );
    }
    if blocks.is_empty() {
        blocks.push(decoder.decode("", 0, &[])?.batch);
    }
    let all = arrow::compute::concat_batches(&decoder.schema(), &blocks)
        .map_err(|e| ChError::new(codes::UNKNOWN_EXCEPTION, e.to_string()))?;
    drop(blocks);
    let out = match runner {
        Runner::DataFusion(plan) => DirectAnswer::Batches(
            plan.run(all)
                .await
                .map_err(|e| ChError::new(e.code, e.message))?,
        ),
        Runner::ClickHouse(sql) => in_engine(table, &sql, all, parsing).await?,
    };

    if settings.commit_on_select && !by_partition.is_empty() {
        let mut list = TopicPartitionList::new();
        for ((topic, partition), messages) in &by_partition {
            if let Some(last) = messages.last() {
                list.add_partition_offset(topic, *partition, Offset::Offset(last.offset + 1))
                    .map_err(kafka_error)?;
            }
        }
        tokio::task::block_in_place(|| consumer.commit(&list, CommitMode::Sync))
            .map_err(kafka_error)?;
    }
    Ok(out)
}
