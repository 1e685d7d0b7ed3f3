//! Messages → one Arrow record batch typed by the Kafka table's columns, with
//! its virtual columns, and what happens to messages that cannot be parsed.
//!
//! Payloads are parsed by the embedded ClickHouse engine (`engine`), so rows
//! are exactly what ClickHouse makes of the same bytes, in every format, with
//! every format setting and type; RawBLOB is the payload itself. JSONEachRow
//! tables of common types first try a faster decoder (`json`) that reads a
//! block only when it reads it exactly as ClickHouse would, and otherwise
//! leaves the block to the engine.

mod engine;
pub mod framing;
mod json;

use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, ListBuilder, RecordBatch, StringArray, StringBuilder,
    TimestampMillisecondArray, TimestampSecondArray, UInt64Array,
};
use arrow::datatypes::{DataType, Field, SchemaRef};
use datafusion::common::ScalarValue;

use catalog::kafka::ErrorMode;
use catalog::kafka::KafkaSettings;
use catalog::{ChType, ColumnDef};

use crate::chdb;
use crate::error::{codes, ChError};
use crate::failpoints::{self, Failpoint};

use engine::EngineParser;

/// One Kafka message, as the pipeline keeps it until its block is written.
#[derive(Debug, Clone)]
pub struct Message {
    pub payload: Vec<u8>,
    pub key: Option<Vec<u8>>,
    pub offset: i64,
    pub timestamp_ms: Option<i64>,
    pub headers: Vec<(String, Vec<u8>)>,
}

impl Message {
    /// Copies what the pipeline needs out of a consumed message.
    pub fn from_kafka(m: &rdkafka::message::BorrowedMessage<'_>) -> Message {
        use rdkafka::message::{Headers, Message as _};
        Message {
            payload: m.payload().map(<[u8]>::to_vec).unwrap_or_default(),
            key: m.key().map(<[u8]>::to_vec),
            offset: m.offset(),
            timestamp_ms: m.timestamp().to_millis(),
            headers: m
                .headers()
                .map(|h| {
                    h.iter()
                        .map(|h| {
                            (
                                h.key.to_string(),
                                h.value.map(<[u8]>::to_vec).unwrap_or_default(),
                            )
                        })
                        .collect()
                })
                .unwrap_or_default(),
        }
    }
}

/// The table's columns parsed from some messages.
pub struct Parsed {
    /// One array per table column, typed as `ChType::to_arrow`.
    pub columns: Vec<ArrayRef>,
    pub rows_per_message: Vec<usize>,
}

/// Why some messages could not be parsed.
#[derive(Debug)]
pub struct ParseFailure {
    /// The first broken message, when the parser knows it (an index into the
    /// messages it was given).
    pub index: Option<usize>,
    pub error: ChError,
}

/// Parses payloads into the table's columns.
pub trait Parse: Send + Sync {
    fn parse(&self, messages: &[&Message]) -> Result<Parsed, ParseFailure>;
}

/// A message that could not be parsed, routed by the table's error mode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadMessage {
    /// Index into the block's messages.
    pub index: usize,
    pub error: String,
}

/// A decoded block and the messages it left out or marked.
pub struct Decoded {
    pub batch: RecordBatch,
    /// Skipped (kafka_skip_broken_messages), streamed as error rows, or
    /// bound for the dead letter queue, by the table's error mode.
    pub bad: Vec<BadMessage>,
}

/// What decoders need from the server: the engine that parses formats
/// kafkahouse does not decode itself, and where format schemas live.
pub struct Parsing {
    pub engine: chdb::Engine,
    pub schema_path: std::path::PathBuf,
    /// Where blocks are written for the engine to read; emptied at start-up
    /// (a killed server leaves its files behind).
    pub scratch: std::path::PathBuf,
}

/// Decodes blocks of a Kafka table.
pub struct BlockDecoder {
    parser: Box<dyn Parse>,
    columns: Vec<ColumnDef>,
    mode: ErrorMode,
    /// The schema views read (see `planner::source_schema`).
    output_schema: SchemaRef,
}

impl BlockDecoder {
    /// The decoder for a table's format and settings (an engine-parsed
    /// format opens a connection to the embedded engine, off the async
    /// workers).
    pub async fn open(
        columns: &[ColumnDef],
        settings: &KafkaSettings,
        parsing: &Arc<Parsing>,
    ) -> Result<BlockDecoder, ChError> {
        let (columns, settings, parsing) = (columns.to_vec(), settings.clone(), parsing.clone());
        tokio::task::spawn_blocking(move || Self::new(&columns, &settings, &parsing))
            .await
            .map_err(|e| ChError::new(codes::UNKNOWN_EXCEPTION, e.to_string()))?
    }

    fn new(
        columns: &[ColumnDef],
        settings: &KafkaSettings,
        parsing: &Parsing,
    ) -> Result<BlockDecoder, ChError> {
        let parser: Box<dyn Parse> = if settings.format == "RawBLOB" {
            Box::new(RawBlob::new(columns)?)
        } else {
            let engine = EngineParser::new(
                vec![parsing.engine.connect()?, parsing.engine.connect()?],
                columns,
                settings,
                parsing,
            )?;
            if json::handles(&settings.format, columns, &settings.format_settings) {
                Box::new(FastOrEngine {
                    fast: json::JsonParser::new(columns),
                    engine,
                })
            } else {
                Box::new(engine)
            }
        };
        Ok(Self::with_parser(parser, columns, settings.error_mode()))
    }

    fn with_parser(parser: Box<dyn Parse>, columns: &[ColumnDef], mode: ErrorMode) -> Self {
        BlockDecoder {
            parser,
            columns: columns.to_vec(),
            output_schema: planner::source_schema(columns, mode == ErrorMode::Stream),
            mode,
        }
    }

    /// The schema of decoded blocks: what views read.
    pub fn schema(&self) -> SchemaRef {
        self.output_schema.clone()
    }

    /// Decodes `messages` (of `topic`/`partition`). A message may hold
    /// several rows; each gets the message's virtual column values. Messages
    /// that cannot be parsed fail the block (default mode), are skipped up
    /// to the limit, become error rows (stream) or are returned for the dead
    /// letter queue.
    pub fn decode(
        &self,
        topic: &str,
        partition: i32,
        messages: &[Message],
    ) -> Result<Decoded, ChError> {
        // A test-only fault (KAFKAHOUSE_FAILPOINTS): a consumer that panics.
        if !messages.is_empty() && failpoints::strikes(Failpoint::DecodePanicOnce) {
            panic!(
                "failpoint decode_panic_once: a panic injected while decoding {topic}[{partition}]"
            );
        }
        let all: Vec<&Message> = messages.iter().collect();
        let located = |f: &ParseFailure| match f.index.and_then(|i| messages.get(i)) {
            Some(m) => ChError::new(
                f.error.code,
                format!(
                    "{} (message at offset {} of {topic}[{partition}])",
                    f.error.message, m.offset
                ),
            ),
            None => ChError::new(
                f.error.code,
                format!(
                    "{} (a message at offsets {}..{} of {topic}[{partition}])",
                    f.error.message,
                    messages.first().map_or(0, |m| m.offset),
                    messages.last().map_or(0, |m| m.offset)
                ),
            ),
        };
        let pieces = match self.parser.parse(&all) {
            Ok(parsed) => vec![Piece::Good(parsed)],
            Err(f) if self.mode == ErrorMode::Default => {
                // The first broken message is the one to name, as ClickHouse
                // names it: a parse of several messages may stop at any.
                let (_, index, error) = self.first_broken(&all, f)?;
                let first = ParseFailure {
                    index: Some(index),
                    error,
                };
                return Err(located(&first));
            }
            Err(f) => self.separate(&all, f)?,
        };
        let bad: Vec<BadMessage> = pieces
            .iter()
            .filter_map(|p| match p {
                Piece::Bad(b) => Some(b.clone()),
                Piece::Good(_) => None,
            })
            .collect();
        let batch = self.assemble(topic, partition, messages, &pieces)?;
        Ok(Decoded { batch, bad })
    }

    /// Splits a block that failed to parse into runs of good messages and
    /// the broken ones between them. Each broken message is found with the
    /// parser's hint when it has one (checked), else by bisection.
    fn separate(&self, all: &[&Message], first: ParseFailure) -> Result<Vec<Piece>, ChError> {
        let mut pieces = Vec::new();
        let mut start = 0;
        let mut failure = first;
        // kafka_skip_broken_messages = N is no limit per block: ClickHouse
        // allows N errors in each message (its error count restarts with
        // every message), so every broken message is skipped, wherever the
        // block was cut. A message is skipped whole (ClickHouse would keep
        // the good rows of a message of several).
        loop {
            let (prefix, bad, error) = self.first_broken(&all[start..], failure)?;
            if let Some(prefix) = prefix {
                pieces.push(Piece::Good(prefix));
            }
            pieces.push(Piece::Bad(BadMessage {
                index: start + bad,
                error: error.to_string(),
            }));
            start += bad + 1;
            if start >= all.len() {
                return Ok(pieces);
            }
            match self.parser.parse(&all[start..]) {
                Ok(rest) => {
                    pieces.push(Piece::Good(rest));
                    return Ok(pieces);
                }
                Err(f) => failure = f,
            }
        }
    }

    /// In `messages`, whose parse failed with `failure`: the parsed messages
    /// before the first broken one, its index and its error.
    fn first_broken(
        &self,
        messages: &[&Message],
        failure: ParseFailure,
    ) -> Result<(Option<Parsed>, usize, ChError), ChError> {
        if let Some(i) = failure.index.filter(|i| *i < messages.len()) {
            if let Err(alone) = self.parser.parse(&messages[i..=i]) {
                if i == 0 {
                    return Ok((None, 0, alone.error));
                }
                if let Ok(prefix) = self.parser.parse(&messages[..i]) {
                    return Ok((Some(prefix), i, alone.error));
                }
            }
        }
        // Bisect: the shortest failing prefix ends with the first broken
        // message. `good` is the longest prefix known to parse.
        let (mut good, mut failing) = (0, messages.len());
        let mut good_parse: Option<Parsed> = None;
        while failing - good > 1 {
            let mid = good + (failing - good) / 2;
            match self.parser.parse(&messages[..mid]) {
                Ok(p) => {
                    good = mid;
                    good_parse = Some(p);
                }
                Err(_) => failing = mid,
            }
        }
        let bad = failing - 1;
        let error = match self.parser.parse(&messages[bad..=bad]) {
            Err(f) => f.error,
            // Broken only after the ones before it: still the culprit.
            Ok(_) => failure.error,
        };
        Ok((good_parse.filter(|_| good > 0), bad, error))
    }

    /// The block's batch: good rows, error rows in stream mode, in message
    /// order, with their virtual columns.
    fn assemble(
        &self,
        topic: &str,
        partition: i32,
        messages: &[Message],
        pieces: &[Piece],
    ) -> Result<RecordBatch, ChError> {
        let stream = self.mode == ErrorMode::Stream;
        let mut rows_per_message = Vec::with_capacity(messages.len());
        let mut errors: Vec<(usize, &str)> = Vec::new();
        let mut parts: Vec<Vec<ArrayRef>> = vec![Vec::new(); self.columns.len()];
        for piece in pieces {
            match piece {
                Piece::Good(parsed) => {
                    rows_per_message.extend_from_slice(&parsed.rows_per_message);
                    for (part, column) in parts.iter_mut().zip(&parsed.columns) {
                        part.push(column.clone());
                    }
                }
                Piece::Bad(bad) if stream => {
                    errors.push((rows_per_message.len(), &bad.error));
                    rows_per_message.push(1);
                    for (part, column) in parts.iter_mut().zip(&self.columns) {
                        part.push(default_array(&column.ty, 1)?);
                    }
                }
                Piece::Bad(_) => rows_per_message.push(0),
            }
        }
        let mut arrays = Vec::with_capacity(self.output_schema.fields().len());
        for (part, column) in parts.iter().zip(&self.columns) {
            arrays.push(match part.len() {
                0 => default_array(&column.ty, 0)?,
                1 => part[0].clone(),
                _ => {
                    let refs: Vec<&dyn Array> = part.iter().map(|a| a.as_ref()).collect();
                    arrow::compute::concat(&refs).map_err(|e| broken(e.to_string()))?
                }
            });
        }
        let rows = rows_per_message.iter().sum();
        arrays.extend(virtual_arrays(
            topic,
            partition,
            messages,
            &rows_per_message,
            rows,
        ));
        if stream {
            arrays.extend(error_arrays(messages, &rows_per_message, &errors));
        }
        RecordBatch::try_new(self.output_schema.clone(), arrays)
            .map_err(|e| broken(format!("block of {topic}[{partition}]: {e}")))
    }
}

/// Part of a block: a run of parsed messages, or one broken message.
enum Piece {
    Good(Parsed),
    Bad(BadMessage),
}

/// The fast JSON decoder where it is sure, the engine everywhere else: a
/// block the fast path declines is parsed again by the engine, which alone
/// decides what is broken.
struct FastOrEngine {
    fast: json::JsonParser,
    engine: EngineParser,
}

impl Parse for FastOrEngine {
    fn parse(&self, messages: &[&Message]) -> Result<Parsed, ParseFailure> {
        self.fast
            .parse(messages)
            .or_else(|_| self.engine.parse(messages))
    }
}

/// RawBLOB: the whole payload is the value of the table's single column.
struct RawBlob;

impl RawBlob {
    fn new(columns: &[ColumnDef]) -> Result<RawBlob, ChError> {
        match columns {
            [c] if matches!(c.ty.value_type(), ChType::String) => Ok(RawBlob),
            _ => Err(ChError::new(
                codes::BAD_ARGUMENTS,
                "This input format is only suitable for tables with a single column of type String (RawBLOB)",
            )),
        }
    }
}

impl Parse for RawBlob {
    fn parse(&self, messages: &[&Message]) -> Result<Parsed, ParseFailure> {
        let mut values = StringBuilder::new();
        let mut rows_per_message = Vec::with_capacity(messages.len());
        for (i, m) in messages.iter().enumerate() {
            // ClickHouse reads nothing from an empty message.
            rows_per_message.push(usize::from(!m.payload.is_empty()));
            if m.payload.is_empty() {
                continue;
            }
            // Arrow strings are UTF-8; ClickHouse's are bytes (see README).
            let text = std::str::from_utf8(&m.payload).map_err(|e| ParseFailure {
                index: Some(i),
                error: broken(format!("RawBLOB: the message is not valid UTF-8: {e}")),
            })?;
            values.append_value(text);
        }
        Ok(Parsed {
            columns: vec![Arc::new(values.finish())],
            rows_per_message,
        })
    }
}

pub(crate) fn broken(message: String) -> ChError {
    ChError::new(codes::INCORRECT_DATA, message)
}

/// `n` copies of ClickHouse's default value of a type: zero, empty, the
/// epoch, an enum's lowest value, or NULL for a Nullable.
pub(crate) fn default_array(ty: &ChType, n: usize) -> Result<ArrayRef, ChError> {
    let data_type = ty.to_arrow();
    let value = if ty.is_nullable() {
        ScalarValue::try_from(&data_type).map_err(|e| broken(e.to_string()))?
    } else {
        default_value(ty, &data_type)?
    };
    let array = value
        .to_array_of_size(n)
        .map_err(|e| broken(e.to_string()))?;
    // Nested fields (list items, struct members) must match to_arrow's.
    arrow::compute::cast(&array, &data_type).map_err(|e| broken(e.to_string()))
}

/// ClickHouse's default value of a non-nullable type.
fn default_value(ty: &ChType, data_type: &DataType) -> Result<ScalarValue, ChError> {
    let enum_default = |names: Vec<(&String, i64)>| {
        names
            .into_iter()
            .min_by_key(|(_, v)| *v)
            .map(|(n, _)| ScalarValue::Utf8(Some(n.clone())))
    };
    let value = match ty.value_type() {
        ChType::Enum8(values) => {
            enum_default(values.iter().map(|(n, v)| (n, i64::from(*v))).collect())
        }
        ChType::Enum16(values) => {
            enum_default(values.iter().map(|(n, v)| (n, i64::from(*v))).collect())
        }
        _ => None,
    };
    match value {
        Some(v) => Ok(v),
        None => ScalarValue::new_default(data_type)
            .map_err(|e| broken(format!("no default for {ty}: {e}"))),
    }
}

/// `_topic, _key, _offset, _partition, _timestamp, _timestamp_ms,
/// _headers.name, _headers.value`, one value per row.
fn virtual_arrays(
    topic: &str,
    partition: i32,
    messages: &[Message],
    rows_per_message: &[usize],
    rows: usize,
) -> Vec<ArrayRef> {
    let mut topics = StringBuilder::with_capacity(rows, rows * topic.len());
    let mut keys = StringBuilder::new();
    let mut offsets = Vec::with_capacity(rows);
    let mut seconds = Vec::with_capacity(rows);
    let mut millis = Vec::with_capacity(rows);
    let item = Arc::new(Field::new("item", DataType::Utf8, false));
    let mut header_names = ListBuilder::new(StringBuilder::new()).with_field(item.clone());
    let mut header_values = ListBuilder::new(StringBuilder::new()).with_field(item);
    for m in rows_of(messages, rows_per_message) {
        topics.append_value(topic);
        keys.append_value(
            m.key
                .as_deref()
                .map(String::from_utf8_lossy)
                .unwrap_or_default(),
        );
        offsets.push(m.offset.max(0) as u64);
        seconds.push(m.timestamp_ms.map(|t| t.div_euclid(1000)));
        millis.push(m.timestamp_ms);
        for (name, value) in &m.headers {
            header_names.values().append_value(name);
            header_values
                .values()
                .append_value(String::from_utf8_lossy(value));
        }
        header_names.append(true);
        header_values.append(true);
    }
    let partitions = UInt64Array::from(vec![partition.max(0) as u64; offsets.len()]);
    vec![
        Arc::new(topics.finish()),
        Arc::new(keys.finish()),
        Arc::new(UInt64Array::from(offsets)),
        Arc::new(partitions),
        Arc::new(TimestampSecondArray::from(seconds)),
        Arc::new(TimestampMillisecondArray::from(millis)),
        Arc::new(header_names.finish()),
        Arc::new(header_values.finish()),
    ]
}

/// The message that produced 0-based row `row`.
fn message_of_row(rows_per_message: &[usize], row: usize) -> Option<usize> {
    let mut end = 0;
    rows_per_message.iter().position(|n| {
        end += n;
        row < end
    })
}

/// Each message once per row it produced.
fn rows_of<'m>(
    messages: &'m [Message],
    rows_per_message: &'m [usize],
) -> impl Iterator<Item = &'m Message> {
    messages
        .iter()
        .zip(rows_per_message)
        .flat_map(|(m, n)| std::iter::repeat_n(m, *n))
}

/// Stream mode's `_raw_message` and `_error`: empty for parsed rows; the
/// payload and the parse error for each broken message's row.
/// `errors` holds (message index, error) in message order.
fn error_arrays(
    messages: &[Message],
    rows_per_message: &[usize],
    errors: &[(usize, &str)],
) -> Vec<ArrayRef> {
    let mut raw = StringBuilder::new();
    let mut error = StringBuilder::new();
    let mut next = errors.iter().peekable();
    for (i, (m, n)) in messages.iter().zip(rows_per_message).enumerate() {
        match next.peek() {
            Some((index, text)) if *index == i => {
                raw.append_value(String::from_utf8_lossy(&m.payload));
                error.append_value(text);
                next.next();
            }
            _ => {
                for _ in 0..*n {
                    raw.append_value("");
                    error.append_value("");
                }
            }
        }
    }
    let raw: StringArray = raw.finish();
    vec![Arc::new(raw), Arc::new(error.finish())]
}

#[cfg(test)]
mod tests;
