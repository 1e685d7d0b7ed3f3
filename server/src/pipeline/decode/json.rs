//! JSONEachRow straight into Arrow (arrow's JSON tape decoder), for tables
//! whose types it fills exactly as ClickHouse does: the tutorial's fast path.
//! No per-row JSON values.

use std::collections::BTreeMap;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, RecordBatch, TimestampSecondArray};
use arrow::compute::{is_not_null, kernels::zip::zip};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use arrow::json::reader::Decoder;

use catalog::kafka::json_decodable;
use catalog::{ChType, ColumnDef};

use super::{broken, default_value, message_of_row, Message, Parse, ParseFailure, Parsed};
use crate::error::ChError;

/// Whether this parser reads a table: JSONEachRow, types it fills exactly,
/// and no format settings beyond ones it follows anyway.
pub fn handles(format: &str, columns: &[ColumnDef], settings: &BTreeMap<String, String>) -> bool {
    let followed = |(name, value): (&String, &String)| {
        // Unknown fields are skipped, NULL is the default: ClickHouse's defaults.
        matches!(
            (name.as_str(), value.as_str()),
            ("input_format_skip_unknown_fields", "1" | "true")
                | ("input_format_null_as_default", "1" | "true")
        )
    };
    matches!(format, "JSONEachRow" | "JSONLines" | "NDJSON")
        && columns.iter().all(|c| json_decodable(&c.ty))
        && settings.iter().all(followed)
}

/// Decodes JSONEachRow payloads.
pub struct JsonParser {
    columns: Vec<ColumnDef>,
    /// Columns read as text and converted by `parse_datetimes`: ClickHouse's
    /// `YYYY-MM-DD hh:mm:ss` has a fixed layout that parses far faster by
    /// hand than through the general timestamp parser.
    datetime_as_text: Vec<bool>,
    /// The table's columns, all nullable: missing fields decode to NULL and
    /// are then replaced by the column's default.
    decode_schema: SchemaRef,
}

impl JsonParser {
    pub fn new(columns: &[ColumnDef]) -> JsonParser {
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
        JsonParser {
            columns: columns.to_vec(),
            datetime_as_text,
            decode_schema,
        }
    }
}

impl Parse for JsonParser {
    fn parse(&self, messages: &[&Message]) -> Result<Parsed, ParseFailure> {
        let whole = |e: String| ParseFailure {
            index: None,
            error: broken(format!("Cannot parse JSONEachRow input: {e}")),
        };
        // Usually one row per message; the decoder hands out a batch whenever
        // it holds this many rows, and decoding goes on.
        let mut decoder = arrow::json::ReaderBuilder::new(self.decode_schema.clone())
            .with_batch_size(messages.len().max(1))
            // A DateTime read as text may be a Unix timestamp number.
            .with_coerce_primitive(true)
            .build_decoder()
            .map_err(|e| whole(e.to_string()))?;
        let mut batches = Vec::new();
        let mut flushed = 0;
        let mut rows_per_message = Vec::with_capacity(messages.len());
        for (i, m) in messages.iter().enumerate() {
            let before = flushed + decoder.len();
            feed(&mut decoder, &m.payload, &mut batches, &mut flushed).map_err(|e| {
                ParseFailure {
                    index: Some(i),
                    error: broken(format!("Cannot parse JSONEachRow input: {e}")),
                }
            })?;
            rows_per_message.push(flushed + decoder.len() - before);
        }
        if let Some(batch) = decoder.flush().map_err(|e| whole(e.to_string()))? {
            batches.push(batch);
        }
        let decoded = arrow::compute::concat_batches(&self.decode_schema, &batches)
            .map_err(|e| whole(e.to_string()))?;
        let mut columns: Vec<ArrayRef> = Vec::with_capacity(self.columns.len());
        for ((column, array), as_text) in self
            .columns
            .iter()
            .zip(decoded.columns())
            .zip(&self.datetime_as_text)
        {
            let array = if *as_text {
                parse_datetimes(&column.name, array, &rows_per_message)?
            } else {
                array.clone()
            };
            columns.push(with_defaults(&column.ty, array).map_err(|error| ParseFailure {
                index: None,
                error,
            })?);
        }
        Ok(Parsed {
            columns,
            rows_per_message,
        })
    }
}

/// Feeds one message to the decoder, moving full batches to `batches`.
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
/// as a number, anything else through arrow's general parser. A value that
/// is none of these breaks the message it came from.
fn parse_datetimes(
    column: &str,
    array: &ArrayRef,
    rows_per_message: &[usize],
) -> Result<ArrayRef, ParseFailure> {
    let Some(text) = array.as_any().downcast_ref::<arrow::array::StringArray>() else {
        return Err(ParseFailure {
            index: None,
            error: broken(format!("column {column}: DateTime was not read as text")),
        });
    };
    let mut seconds = Vec::with_capacity(text.len());
    for (row, value) in text.iter().enumerate() {
        seconds.push(match value {
            None => None,
            Some(v) => Some(parse_datetime(v).ok_or_else(|| ParseFailure {
                index: message_of_row(rows_per_message, row),
                error: broken(format!(
                    "Cannot parse JSONEachRow input: column {column}: cannot parse DateTime from '{v}'"
                )),
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
