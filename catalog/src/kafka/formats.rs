//! The input formats a Kafka table may have, the columns a format can fill,
//! and the virtual columns a Kafka table's rows carry.
//!
//! Uses the catalog's [`ChType`] and the module's [`SettingsError`] and codes.

use super::{SettingsError, BAD_ARGUMENTS, ILLEGAL_COLUMN};
use crate::types::ChType;

/// Input formats a Kafka table may have: ClickHouse's row formats that make
/// sense for messages. Others are refused at CREATE time (Code 73).
pub const SUPPORTED_FORMATS: [&str; 39] = [
    "JSONEachRow",
    "JSONLines",
    "NDJSON",
    "JSONStringsEachRow",
    "JSONCompactEachRow",
    "JSONCompactStringsEachRow",
    "JSONCompactEachRowWithNames",
    "JSONCompactEachRowWithNamesAndTypes",
    "JSONAsString",
    "JSONAsObject",
    "JSON",
    "JSONCompact",
    "CSV",
    "CSVWithNames",
    "CSVWithNamesAndTypes",
    "TSV",
    "TabSeparated",
    "TSVRaw",
    "TabSeparatedRaw",
    "TSVWithNames",
    "TabSeparatedWithNames",
    "TSVWithNamesAndTypes",
    "TabSeparatedWithNamesAndTypes",
    "TSKV",
    "CustomSeparated",
    "Values",
    "LineAsString",
    "RawBLOB",
    "Regexp",
    "Avro",
    "AvroConfluent",
    "Protobuf",
    "ProtobufSingle",
    "ProtobufList",
    "MsgPack",
    "RowBinary",
    "RowBinaryWithNamesAndTypes",
    "Native",
    "BSONEachRow",
];

/// Formats whose rows are one String column: the whole message
/// (RawBLOB), each line (LineAsString) or each JSON object (JSONAsString).
const SINGLE_STRING_COLUMN: [&str; 3] = ["RawBLOB", "LineAsString", "JSONAsString"];

/// Checks that the table's format can fill its columns (as ClickHouse checks
/// when the first block is read; here at CREATE).
pub fn check_columns(format: &str, columns: &[(&str, &ChType)]) -> Result<(), SettingsError> {
    if SINGLE_STRING_COLUMN.contains(&format) {
        match columns {
            [(_, ty)] if matches!(ty.value_type(), ChType::String | ChType::FixedString(_)) => {}
            _ => {
                return Err(SettingsError::new(
                    BAD_ARGUMENTS,
                    format!("This input format is only suitable for tables with a single column of type String ({format})"),
                ))
            }
        }
    }
    for (name, ty) in columns {
        if matches!(ty, ChType::Nothing) {
            return Err(SettingsError::new(
                ILLEGAL_COLUMN,
                format!("Column {name} of type Nothing cannot be read from Kafka"),
            ));
        }
    }
    Ok(())
}

/// The virtual columns a table with `kafka_handle_error_mode = 'stream'`
/// adds: the payload of a message that could not be parsed and why.
pub fn error_columns() -> [(&'static str, ChType); 2] {
    [("_raw_message", ChType::String), ("_error", ChType::String)]
}

/// The virtual columns of a Kafka table, as ClickHouse types them.
pub fn virtual_columns() -> Vec<(&'static str, ChType)> {
    let string = || ChType::String;
    vec![
        ("_topic", ChType::LowCardinality(Box::new(string()))),
        ("_key", string()),
        ("_offset", ChType::UInt64),
        ("_partition", ChType::UInt64),
        (
            "_timestamp",
            ChType::Nullable(Box::new(ChType::DateTime { timezone: None })),
        ),
        (
            "_timestamp_ms",
            ChType::Nullable(Box::new(ChType::DateTime64 {
                precision: 3,
                timezone: None,
            })),
        ),
        ("_headers.name", ChType::Array(Box::new(string()))),
        ("_headers.value", ChType::Array(Box::new(string()))),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_string_formats_need_one_string_column() {
        let string = ChType::String;
        let number = ChType::UInt8;
        assert!(check_columns("RawBLOB", &[("raw", &string)]).is_ok());
        assert!(check_columns("JSONEachRow", &[("a", &number), ("b", &string)]).is_ok());
        assert_eq!(
            check_columns("LineAsString", &[("a", &number)])
                .unwrap_err()
                .code,
            36
        );
        assert_eq!(
            check_columns("RawBLOB", &[("a", &string), ("b", &string)])
                .unwrap_err()
                .code,
            36
        );
    }
}
