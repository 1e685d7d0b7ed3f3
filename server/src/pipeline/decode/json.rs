//! A fast path for JSONEachRow tables of common types: decoded straight into
//! Arrow (arrow's JSON tape decoder), exactly as ClickHouse would read them,
//! or not at all. Whatever it is not sure of — a value ClickHouse reads
//! differently, any error — makes it decline the block, which the engine
//! then parses (`FastOrEngine`): the fast path never decides what a row is
//! worth or that a message is broken.

use std::collections::BTreeMap;
use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, AsArray, Int16Array, Int32Array, Int64Array, Int8Array, RecordBatch,
    TimestampSecondArray, UInt16Array, UInt32Array, UInt64Array, UInt8Array,
};
use arrow::compute::{is_not_null, kernels::zip::zip};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use arrow::json::reader::Decoder;

use catalog::{ChType, ColumnDef};

use super::{broken, default_value, Message, Parse, ParseFailure, Parsed};
use crate::error::ChError;

/// Whether the fast path may read a table: JSONEachRow, types it reads
/// exactly, no format settings (they would change ClickHouse's reading).
pub fn handles(format: &str, columns: &[ColumnDef], settings: &BTreeMap<String, String>) -> bool {
    matches!(format, "JSONEachRow" | "JSONLines" | "NDJSON")
        && settings.is_empty()
        && columns.iter().all(|c| fast_type(&c.ty))
}

/// Integers (read as text and converted with ClickHouse's rules), String,
/// DateTime without a time zone, enums (checked against their names),
/// LowCardinality and Nullable of those, arrays of strings.
fn fast_type(ty: &ChType) -> bool {
    Conversion::of(ty).is_some()
}

/// How a column's text becomes its value.
#[derive(Debug, Clone, PartialEq)]
enum Conversion {
    /// Decoded as it is (strings, arrays of strings).
    None,
    /// An integer as ClickHouse's text reader takes it.
    Integer(ChType),
    DateTime,
    /// An enum: the value must be one of these names.
    Enum(Vec<String>),
}

impl Conversion {
    /// How a column of type `ty` is read; `None` for a type the fast path
    /// leaves to the engine.
    fn of(ty: &ChType) -> Option<Conversion> {
        Some(match ty {
            ChType::LowCardinality(inner) | ChType::Nullable(inner) => {
                return Conversion::of(inner)
            }
            ChType::Array(inner) if matches!(inner.value_type(), ChType::String) => {
                Conversion::None
            }
            ChType::String => Conversion::None,
            ChType::DateTime { timezone: None } => Conversion::DateTime,
            ChType::Enum8(values) => {
                Conversion::Enum(values.iter().map(|(n, _)| n.clone()).collect())
            }
            ChType::Enum16(values) => {
                Conversion::Enum(values.iter().map(|(n, _)| n.clone()).collect())
            }
            ChType::Int8
            | ChType::Int16
            | ChType::Int32
            | ChType::Int64
            | ChType::UInt8
            | ChType::UInt16
            | ChType::UInt32
            | ChType::UInt64 => Conversion::Integer(ty.clone()),
            _ => return None,
        })
    }
}

/// Decodes JSONEachRow payloads, or declines.
pub struct JsonParser {
    columns: Vec<ColumnDef>,
    conversions: Vec<Conversion>,
    /// The table's columns, all nullable, numbers and dates as text:
    /// missing fields decode to NULL and are then replaced by the column's
    /// default.
    decode_schema: SchemaRef,
}

impl JsonParser {
    pub fn new(columns: &[ColumnDef]) -> JsonParser {
        // `handles` said every type has a conversion.
        let conversions: Vec<Conversion> = columns
            .iter()
            .map(|c| Conversion::of(&c.ty).unwrap_or(Conversion::None))
            .collect();
        let decode_schema = Arc::new(Schema::new(
            columns
                .iter()
                .zip(&conversions)
                .map(|(c, conversion)| {
                    let ty = match conversion {
                        Conversion::None => c.ty.to_arrow(),
                        _ => DataType::Utf8,
                    };
                    Field::new(&c.name, ty, true)
                })
                .collect::<Vec<_>>(),
        ));
        JsonParser {
            columns: columns.to_vec(),
            conversions,
            decode_schema,
        }
    }
}

impl Parse for JsonParser {
    fn parse(&self, messages: &[&Message]) -> Result<Parsed, ParseFailure> {
        let decline = |e: String| ParseFailure {
            index: None,
            error: broken(format!("Cannot parse JSONEachRow input: {e}")),
        };
        // Usually one row per message; the decoder hands out a batch whenever
        // it holds this many rows, and decoding goes on.
        let mut decoder = arrow::json::ReaderBuilder::new(self.decode_schema.clone())
            .with_batch_size(messages.len().max(1))
            // Numbers and dates arrive as their text, checked below.
            .with_coerce_primitive(true)
            .build_decoder()
            .map_err(|e| decline(e.to_string()))?;
        let mut batches = Vec::new();
        let mut flushed = 0;
        let mut rows_per_message = Vec::with_capacity(messages.len());
        for m in messages {
            // Each message must hold whole values: fed one after another,
            // `{"a":1` and `}` would read as one row.
            if super::framing::json_values(&m.payload).is_none() {
                return Err(decline(
                    "a message that is not whole JSON values".to_string(),
                ));
            }
            let before = flushed + decoder.len();
            feed(&mut decoder, &m.payload, &mut batches, &mut flushed)
                .map_err(|e| decline(e.to_string()))?;
            rows_per_message.push(flushed + decoder.len() - before);
        }
        if let Some(batch) = decoder.flush().map_err(|e| decline(e.to_string()))? {
            batches.push(batch);
        }
        let decoded = arrow::compute::concat_batches(&self.decode_schema, &batches)
            .map_err(|e| decline(e.to_string()))?;
        let mut columns: Vec<ArrayRef> = Vec::with_capacity(self.columns.len());
        for ((column, array), conversion) in self
            .columns
            .iter()
            .zip(decoded.columns())
            .zip(&self.conversions)
        {
            let array = convert(array, conversion).ok_or_else(|| {
                decline(format!(
                    "column {}: a value to leave to the engine",
                    column.name
                ))
            })?;
            columns.push(
                with_defaults(&column.ty, array)
                    .map_err(|error| ParseFailure { index: None, error })?,
            );
        }
        Ok(Parsed {
            columns,
            rows_per_message,
        })
    }
}

/// A column's decoded text as its values; `None` when a value is not one
/// whose reading is certain.
fn convert(array: &ArrayRef, conversion: &Conversion) -> Option<ArrayRef> {
    let text = || array.as_string_opt::<i32>();
    Some(match conversion {
        Conversion::None => array.clone(),
        Conversion::Enum(names) => {
            let values = text()?;
            let known = values
                .iter()
                .flatten()
                .all(|v| names.iter().any(|n| n == v));
            if !known {
                return None;
            }
            array.clone()
        }
        Conversion::DateTime => {
            let values = text()?;
            let mut seconds = Vec::with_capacity(values.len());
            for v in values.iter() {
                seconds.push(match v {
                    None => None,
                    Some(v) => Some(parse_datetime(v)?),
                });
            }
            Arc::new(TimestampSecondArray::from(seconds))
        }
        Conversion::Integer(ty) => integers(text()?, ty)?,
    })
}

/// Integers as ClickHouse's text reader takes them: an optional sign and
/// digits, wrapping around the type's width when out of range (300 in a
/// UInt8 is 44). Anything else (a fraction, an exponent, `-` for an
/// unsigned type) is left to the engine.
fn integers(values: &arrow::array::StringArray, ty: &ChType) -> Option<ArrayRef> {
    let mut wrapped: Vec<Option<u64>> = Vec::with_capacity(values.len());
    let signed = matches!(
        ty,
        ChType::Int8 | ChType::Int16 | ChType::Int32 | ChType::Int64
    );
    for v in values.iter() {
        wrapped.push(match v {
            None => None,
            Some(v) => Some(wrapping_integer(v, signed)?),
        });
    }
    macro_rules! to {
        ($array:ty, $native:ty) => {
            Arc::new(<$array>::from(
                wrapped
                    .iter()
                    .map(|v| v.map(|v| v as $native))
                    .collect::<Vec<_>>(),
            )) as ArrayRef
        };
    }
    Some(match ty {
        ChType::Int8 => to!(Int8Array, i8),
        ChType::Int16 => to!(Int16Array, i16),
        ChType::Int32 => to!(Int32Array, i32),
        ChType::Int64 => to!(Int64Array, i64),
        ChType::UInt8 => to!(UInt8Array, u8),
        ChType::UInt16 => to!(UInt16Array, u16),
        ChType::UInt32 => to!(UInt32Array, u32),
        ChType::UInt64 => to!(UInt64Array, u64),
        _ => return None,
    })
}

/// `[+-]digits` as two's complement bits modulo 2^64 (narrower types take
/// the low bits: the same as wrapping in their own width).
fn wrapping_integer(text: &str, signed: bool) -> Option<u64> {
    let (negative, digits) = match text.as_bytes().first()? {
        b'-' if signed => (true, &text[1..]),
        b'-' => return None,
        b'+' => (false, &text[1..]),
        _ => (false, text),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let magnitude = digits.bytes().fold(0u64, |acc, b| {
        acc.wrapping_mul(10).wrapping_add(u64::from(b - b'0'))
    });
    Some(if negative {
        magnitude.wrapping_neg()
    } else {
        magnitude
    })
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

/// `YYYY-MM-DD hh:mm:ss` (in the engine's UTC), a real date within
/// DateTime's range; anything else (Unix timestamps, zero dates, other
/// layouts) is left to the engine.
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
        let leap = y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
        let month_days = [
            31,
            if leap { 29 } else { 28 },
            31,
            30,
            31,
            30,
            31,
            31,
            30,
            31,
            30,
            31,
        ];
        if !(1..=12).contains(&m) || d < 1 || d > month_days[(m - 1) as usize] {
            return None;
        }
        if h > 23 || mi > 59 || s > 59 {
            return None;
        }
        let seconds = days_from_civil(y, m, d) * 86_400 + h * 3_600 + mi * 60 + s;
        return (0..=i64::from(u32::MAX))
            .contains(&seconds)
            .then_some(seconds);
    }
    None
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
        for engine_s in [
            "0000-00-00 00:00:00",
            "1297468800",
            "2011-02-12T00:00:04Z",
            "2011-13-12 00:00:04",
            "2019-02-29 00:00:00",
            "1969-12-31 23:59:59",
            "2106-02-07 06:28:16",
            "yesterday",
        ] {
            assert_eq!(parse_datetime(engine_s), None, "{engine_s}");
        }
    }

    #[test]
    fn integers_wrap_as_in_clickhouse_or_are_left_to_the_engine() {
        assert_eq!(wrapping_integer("300", false).map(|v| v as u8), Some(44));
        assert_eq!(wrapping_integer("+7", false), Some(7));
        assert_eq!(wrapping_integer("-1", true).map(|v| v as i8), Some(-1));
        assert_eq!(wrapping_integer("200", true).map(|v| v as i8), Some(-56));
        assert_eq!(wrapping_integer("18446744073709551616", false), Some(0));
        for engine_s in ["-1", "1.5", "1e3", "", "0x10", "true"] {
            assert_eq!(wrapping_integer(engine_s, false), None, "{engine_s}");
        }
    }

    #[test]
    fn unknown_enum_names_and_numbers_are_left_to_the_engine() {
        let columns = vec![ColumnDef {
            name: "e".into(),
            ty: ChType::parse("Enum8('a' = 1, 'b' = 2)").unwrap(),
        }];
        let parser = JsonParser::new(&columns);
        let message = |p: &str| Message {
            payload: p.as_bytes().to_vec(),
            key: None,
            offset: 0,
            timestamp_ms: None,
            headers: Vec::new(),
        };
        let good = message(r#"{"e":"b"}"#);
        assert!(parser.parse(&[&good]).is_ok());
        for p in [r#"{"e":"zzz"}"#, r#"{"e":1}"#] {
            assert!(parser.parse(&[&message(p)]).is_err(), "{p}");
        }
    }
}
