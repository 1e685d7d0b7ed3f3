//! Messages → one Arrow record batch typed by the Kafka table's columns, with
//! its virtual columns. Bytes are decoded once, straight into Arrow (arrow's
//! JSON tape decoder); no per-row JSON values.

use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, ListBuilder, RecordBatch, StringBuilder, TimestampMillisecondArray,
    TimestampSecondArray, UInt64Array,
};
use arrow::compute::{is_not_null, kernels::zip::zip};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use arrow::json::reader::Decoder;
use datafusion::common::ScalarValue;

use catalog::{ChType, ColumnDef};

use crate::error::{codes, ChError};

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

/// Decodes blocks of one partition of one topic.
pub struct BlockDecoder {
    columns: Vec<ColumnDef>,
    /// Columns read as text and converted by `parse_datetimes`: ClickHouse's
    /// `YYYY-MM-DD hh:mm:ss` has a fixed layout that parses far faster by
    /// hand than through the general timestamp parser.
    datetime_as_text: Vec<bool>,
    /// The table's columns, all nullable: missing fields decode to NULL and
    /// are then replaced by the column's default.
    decode_schema: SchemaRef,
    /// The schema views read (see `planner::source_schema`).
    output_schema: SchemaRef,
}

impl BlockDecoder {
    pub fn new(columns: &[ColumnDef]) -> BlockDecoder {
        let datetime_as_text: Vec<bool> = columns
            .iter()
            .map(|c| matches!(c.ty.value_type(), ChType::DateTime { timezone: None }))
            .collect();
        let decode_schema = Arc::new(Schema::new(
            columns
                .iter()
                .zip(&datetime_as_text)
                .map(|(c, text)| {
                    let ty = if *text {
                        DataType::Utf8
                    } else {
                        c.ty.to_arrow()
                    };
                    Field::new(&c.name, ty, true)
                })
                .collect::<Vec<_>>(),
        ));
        BlockDecoder {
            columns: columns.to_vec(),
            datetime_as_text,
            decode_schema,
            output_schema: planner::source_schema(columns),
        }
    }

    /// Decodes `messages` (of `topic`/`partition`) as JSONEachRow. A message
    /// may hold several rows; each gets the message's virtual column values.
    pub fn decode(
        &self,
        topic: &str,
        partition: i32,
        messages: &[Message],
    ) -> Result<RecordBatch, ChError> {
        let range = || {
            format!(
                "a message at offsets {}..{} of {topic}[{partition}]",
                messages.first().map(|m| m.offset).unwrap_or(0),
                messages.last().map(|m| m.offset).unwrap_or(0)
            )
        };
        // Usually one row per message; the decoder hands out a batch whenever
        // it holds this many rows, and decoding goes on.
        let mut decoder = arrow::json::ReaderBuilder::new(self.decode_schema.clone())
            .with_batch_size(messages.len().max(1))
            // A DateTime read as text may be a Unix timestamp number.
            .with_coerce_primitive(true)
            .build_decoder()
            .map_err(|e| broken(e.to_string()))?;
        let mut batches = Vec::new();
        let mut flushed = 0;
        let mut rows_per_message = Vec::with_capacity(messages.len());
        for m in messages {
            let before = flushed + decoder.len();
            feed(&mut decoder, &m.payload, &mut batches, &mut flushed).map_err(|e| {
                broken(format!(
                    "message at offset {} of {topic}[{partition}]: {e}",
                    m.offset
                ))
            })?;
            rows_per_message.push(flushed + decoder.len() - before);
        }
        if let Some(batch) = decoder
            .flush()
            .map_err(|e| broken(format!("{}: {e}", range())))?
        {
            batches.push(batch);
        }
        let decoded = arrow::compute::concat_batches(&self.decode_schema, &batches)
            .map_err(|e| broken(format!("{}: {e}", range())))?;
        let rows = decoded.num_rows();

        let mut arrays: Vec<ArrayRef> = Vec::with_capacity(self.output_schema.fields().len());
        for ((column, array), as_text) in self
            .columns
            .iter()
            .zip(decoded.columns())
            .zip(&self.datetime_as_text)
        {
            let array = if *as_text {
                parse_datetimes(&column.name, array)?
            } else {
                array.clone()
            };
            arrays.push(with_defaults(&column.ty, array)?);
        }
        arrays.extend(virtual_arrays(
            topic,
            partition,
            messages,
            &rows_per_message,
            rows,
        ));
        RecordBatch::try_new(self.output_schema.clone(), arrays)
            .map_err(|e| broken(format!("block of {topic}[{partition}]: {e}")))
    }
}

/// Feeds one message to the decoder, moving full batches to `batches`.
impl BlockDecoder {
    /// `decode`, skipping up to `max_broken` messages that cannot be parsed
    /// (ClickHouse's `kafka_skip_broken_messages`, counted per block). Returns
    /// the block and how many messages were skipped.
    pub fn decode_skipping(
        &self,
        topic: &str,
        partition: i32,
        messages: &[Message],
        max_broken: u64,
    ) -> Result<(RecordBatch, usize), ChError> {
        let whole = self.decode(topic, partition, messages);
        if whole.is_ok() || max_broken == 0 {
            return whole.map(|b| (b, 0));
        }
        // Only on failure: find the broken messages one by one.
        let (good, broken): (Vec<&Message>, Vec<&Message>) = messages.iter().partition(|m| {
            self.decode(topic, partition, std::slice::from_ref(*m))
                .is_ok()
        });
        if broken.len() as u64 > max_broken {
            return whole.map(|b| (b, 0));
        }
        let good: Vec<Message> = good.into_iter().cloned().collect();
        let batch = self.decode(topic, partition, &good)?;
        Ok((batch, broken.len()))
    }
}

fn feed(
    decoder: &mut Decoder,
    payload: &[u8],
    batches: &mut Vec<RecordBatch>,
    flushed: &mut usize,
) -> Result<(), arrow::error::ArrowError> {
    let mut rest = payload;
    while !rest.is_empty() {
        let read = decoder.decode(rest)?;
        rest = &rest[read..];
        if !rest.is_empty() && read == 0 {
            // The decoder is full: hand out what it has and go on.
            if let Some(batch) = decoder.flush()? {
                *flushed += batch.num_rows();
                batches.push(batch);
            }
        }
    }
    // Messages are separate documents: one cut short is broken, not continued
    // by the next message.
    decoder.decode(b"\n")?;
    if decoder.has_partial_record() {
        return Err(arrow::error::ArrowError::JsonError(
            "the message ends in the middle of a row".into(),
        ));
    }
    Ok(())
}

/// DateTime text → seconds: `YYYY-MM-DD hh:mm:ss` by hand, a Unix timestamp
/// as a number, anything else through arrow's general parser.
fn parse_datetimes(column: &str, array: &ArrayRef) -> Result<ArrayRef, ChError> {
    let Some(text) = array.as_any().downcast_ref::<arrow::array::StringArray>() else {
        return Err(broken(format!(
            "column {column}: DateTime was not read as text"
        )));
    };
    let mut seconds = Vec::with_capacity(text.len());
    for value in text.iter() {
        seconds.push(match value {
            None => None,
            Some(v) => Some(parse_datetime(v).ok_or_else(|| {
                broken(format!("column {column}: cannot parse DateTime from '{v}'"))
            })?),
        });
    }
    Ok(Arc::new(TimestampSecondArray::from(seconds)))
}

fn parse_datetime(text: &str) -> Option<i64> {
    let b = text.as_bytes();
    let digits = |range: std::ops::Range<usize>| -> Option<i64> {
        b.get(range)?.iter().try_fold(0i64, |acc, c| {
            c.is_ascii_digit().then(|| acc * 10 + i64::from(c - b'0'))
        })
    };
    if b.len() == 19
        && b[4] == b'-'
        && b[7] == b'-'
        && b[10] == b' '
        && b[13] == b':'
        && b[16] == b':'
    {
        let (y, m, d) = (digits(0..4)?, digits(5..7)?, digits(8..10)?);
        let (h, mi, s) = (digits(11..13)?, digits(14..16)?, digits(17..19)?);
        // ClickHouse's zero date.
        if (y, m, d) == (0, 0, 0) {
            return Some(0);
        }
        if !(1..=12).contains(&m) || !(1..=31).contains(&d) || h > 23 || mi > 59 || s > 59 {
            return None;
        }
        return Some(days_from_civil(y, m, d) * 86_400 + h * 3_600 + mi * 60 + s);
    }
    if !b.is_empty() && b.iter().all(u8::is_ascii_digit) {
        return text.parse().ok();
    }
    arrow::compute::kernels::cast_utils::string_to_datetime(&chrono::Utc, text)
        .ok()
        .map(|t| t.timestamp())
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
/// `days_from_civil`).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn broken(message: String) -> ChError {
    ChError::new(
        codes::INCORRECT_DATA,
        format!("Cannot parse JSONEachRow input: {message}"),
    )
}

/// NULLs in a column that is not Nullable become the type's default, as
/// ClickHouse does for fields missing from a JSON row.
fn with_defaults(ty: &ChType, array: ArrayRef) -> Result<ArrayRef, ChError> {
    if ty.is_nullable() || array.null_count() == 0 {
        return Ok(array);
    }
    let default = default_value(ty, array.data_type())?
        .to_array_of_size(array.len())
        .map_err(|e| broken(e.to_string()))?;
    let present = is_not_null(&array).map_err(|e| broken(e.to_string()))?;
    zip(&present, &array, &default).map_err(|e| broken(e.to_string()))
}

/// ClickHouse's default value of a type: zero, empty, the epoch, or an
/// enum's lowest value.
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
    let rows_of = messages
        .iter()
        .zip(rows_per_message)
        .flat_map(|(m, n)| std::iter::repeat_n(m, *n));
    for m in rows_of {
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

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{AsArray, ListArray, StringArray};
    use arrow::datatypes::{TimestampSecondType, UInt32Type, UInt64Type};

    fn columns() -> Vec<ColumnDef> {
        let col = |name: &str, ty: &str| ColumnDef {
            name: name.into(),
            ty: ChType::parse(ty).unwrap(),
        };
        vec![
            col("file_time", "DateTime"),
            col("event_type", "Enum('PushEvent' = 12, 'CreateEvent' = 2)"),
            col("comment_id", "UInt64"),
            col("number", "UInt32"),
            col("labels", "Array(LowCardinality(String))"),
            col("title", "String"),
            col("maybe", "Nullable(Int32)"),
        ]
    }

    fn message(offset: i64, payload: &str) -> Message {
        Message {
            payload: payload.as_bytes().to_vec(),
            key: Some(b"k".to_vec()),
            offset,
            timestamp_ms: Some(1_700_000_000_123),
            headers: vec![("h".into(), b"v".to_vec())],
        }
    }

    #[test]
    fn clickhouse_json_conventions_and_virtual_columns() {
        let decoder = BlockDecoder::new(&columns());
        let batch = decoder
            .decode(
                "github",
                3,
                &[
                    message(10, r#"{"file_time":"2011-02-12 00:00:00","event_type":"PushEvent","comment_id":"8093537819","number":39810,"labels":["a","b"],"title":"x"}"#),
                    // Missing fields get defaults; a second row in one message.
                    message(11, "{\"number\":1}\n{\"number\":2,\"maybe\":5}"),
                ],
            )
            .unwrap();
        assert_eq!(batch.num_rows(), 3);
        let time = batch.column(0).as_primitive::<TimestampSecondType>();
        assert_eq!(time.value(0), 1_297_468_800);
        assert_eq!(time.value(1), 0);
        let events = batch.column(1).as_string::<i32>();
        assert_eq!(events.value(0), "PushEvent");
        assert_eq!(
            events.value(1),
            "CreateEvent",
            "the lowest enum value is the default"
        );
        assert_eq!(
            batch.column(2).as_primitive::<UInt64Type>().value(0),
            8_093_537_819
        );
        assert_eq!(batch.column(3).as_primitive::<UInt32Type>().value(2), 2);
        let labels = batch
            .column(4)
            .as_any()
            .downcast_ref::<ListArray>()
            .unwrap();
        assert_eq!(labels.value_length(0), 2);
        assert_eq!(labels.value_length(1), 0);
        assert_eq!(batch.column(5).as_string::<i32>().value(1), "");
        assert!(batch.column(6).is_null(0));
        assert!(!batch.column(6).is_null(2));

        let by_name = |n: &str| batch.column(batch.schema().index_of(n).unwrap()).clone();
        let topics = by_name("_topic");
        assert_eq!(
            topics
                .as_any()
                .downcast_ref::<StringArray>()
                .unwrap()
                .value(2),
            "github"
        );
        let offsets = by_name("_offset");
        assert_eq!(offsets.as_primitive::<UInt64Type>().values(), &[10, 11, 11]);
        assert_eq!(
            by_name("_partition").as_primitive::<UInt64Type>().value(0),
            3
        );
        assert_eq!(
            by_name("_timestamp")
                .as_primitive::<TimestampSecondType>()
                .value(0),
            1_700_000_000
        );
        let names = by_name("_headers.name");
        assert_eq!(
            names
                .as_any()
                .downcast_ref::<ListArray>()
                .unwrap()
                .value_length(1),
            1
        );
    }

    #[test]
    fn a_broken_message_fails_the_block_with_its_offset() {
        let decoder = BlockDecoder::new(&columns());
        let e = decoder
            .decode(
                "github",
                0,
                &[message(7, r#"{"number":1}"#), message(8, r#"{"number":"#)],
            )
            .unwrap_err();
        assert_eq!(e.code, codes::INCORRECT_DATA);
        assert!(e.message.contains("offset 8"), "{e}");
        let e = decoder
            .decode("github", 0, &[message(9, r#"{"number":"many"}"#)])
            .unwrap_err();
        assert_eq!(e.code, codes::INCORRECT_DATA);
    }

    #[test]
    fn datetimes_parse_like_chrono() {
        for text in [
            "1970-01-01 00:00:00",
            "2011-02-12 00:00:04",
            "2020-02-29 23:59:59",
            "1999-12-31 12:30:00",
            "2106-02-07 06:28:15",
        ] {
            let expected = chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S")
                .unwrap()
                .and_utc()
                .timestamp();
            assert_eq!(parse_datetime(text), Some(expected), "{text}");
        }
        assert_eq!(parse_datetime("0000-00-00 00:00:00"), Some(0));
        assert_eq!(parse_datetime("1297468800"), Some(1_297_468_800));
        assert_eq!(parse_datetime("2011-02-12T00:00:04Z"), Some(1_297_468_804));
        assert_eq!(parse_datetime("2011-13-12 00:00:04"), None);
        assert_eq!(parse_datetime("yesterday"), None);
    }

    #[test]
    fn broken_messages_are_skipped_up_to_the_limit() {
        let decoder = BlockDecoder::new(&columns());
        let block = [
            message(1, r#"{"number":1}"#),
            message(2, r#"{"number":"#),
            message(3, r#"{"number":3}"#),
            message(4, "not json"),
        ];
        let (batch, skipped) = decoder.decode_skipping("t", 0, &block, 2).unwrap();
        assert_eq!((batch.num_rows(), skipped), (2, 2));
        let offsets = batch
            .column(batch.schema().index_of("_offset").unwrap())
            .clone();
        assert_eq!(offsets.as_primitive::<UInt64Type>().values(), &[1, 3]);
        // One more broken message than allowed fails the block, as without skipping.
        assert!(decoder.decode_skipping("t", 0, &block, 1).is_err());
        assert!(decoder.decode_skipping("t", 0, &block, 0).is_err());
    }

    #[test]
    fn an_empty_block_has_the_full_schema() {
        let batch = BlockDecoder::new(&columns()).decode("t", 0, &[]).unwrap();
        assert_eq!(batch.num_rows(), 0);
        assert_eq!(batch.num_columns(), columns().len() + 8);
    }
}
