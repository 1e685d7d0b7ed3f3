//! kafkahouse's own results (Kafka tables' DESCRIBE, SHOW CREATE,
//! system.kafka_consumers, ...) in the text formats ClickHouse's HTTP and
//! native clients ask for. Results from the backend never pass through here:
//! they arrive already in the client's format. Uses the result types and
//! the catalog's quoting.
//!
//! Written by hand rather than with arrow's CSV and JSON writers because
//! every one of these formats is spelt differently by ClickHouse, and a
//! client reading kafkahouse must read what ClickHouse writes: TabSeparated
//! escapes (`\t`, `\n`, `\\`) arrow has no writer for; in CSV ClickHouse
//! quotes every string and writes NULL as `\N` (arrow quotes only when needed
//! and writes NULL as nothing); in JSONEachRow it writes DateTime as
//! `2024-01-02 03:04:05` (arrow: `2024-01-02T03:04:05`), Bool as true/false
//! from UInt8 text, and arrays of strings from ClickHouse's `['a','b']`
//! text. Binary formats are left to the backend (`render_in_backend`).

use catalog::{quote, ChType};

use crate::error::{codes, ChError};
use crate::result::ResultSet;

/// `result` written in `format` (a ClickHouse format name).
pub fn render(result: &ResultSet, format: &str) -> Result<Vec<u8>, ChError> {
    let mut out = String::new();
    let names = || result.columns.iter().map(|c| c.name.as_str());
    let types = || {
        result.columns.iter().map(|c| {
            c.ty.as_ref()
                .map_or_else(|| "String".to_string(), ToString::to_string)
        })
    };
    match format {
        "TabSeparated" | "TSV" | "TabSeparatedWithNames" | "TSVWithNames"
        | "TabSeparatedWithNamesAndTypes" | "TSVWithNamesAndTypes" => {
            if format.contains("Names") {
                out.push_str(&names().map(quote::tsv).collect::<Vec<_>>().join("\t"));
                out.push('\n');
            }
            if format.ends_with("Types") {
                out.push_str(&types().map(|t| quote::tsv(&t)).collect::<Vec<_>>().join("\t"));
                out.push('\n');
            }
            for row in &result.rows {
                let cells: Vec<String> = row
                    .iter()
                    .map(|v| v.as_deref().map_or_else(|| "\\N".to_string(), quote::tsv))
                    .collect();
                out.push_str(&cells.join("\t"));
                out.push('\n');
            }
        }
        "CSV" | "CSVWithNames" => {
            if format == "CSVWithNames" {
                out.push_str(&names().map(csv_quote).collect::<Vec<_>>().join(","));
                out.push('\n');
            }
            for row in &result.rows {
                let cells: Vec<String> = row
                    .iter()
                    .zip(&result.columns)
                    .map(|(v, c)| match v {
                        None => "\\N".to_string(),
                        Some(v) if is_number(c.ty.as_ref()) => v.clone(),
                        Some(v) => csv_quote(v),
                    })
                    .collect();
                out.push_str(&cells.join(","));
                out.push('\n');
            }
        }
        "JSONEachRow" => {
            // Keys in column order, as ClickHouse writes them.
            for row in &result.rows {
                let fields: Vec<String> = result
                    .columns
                    .iter()
                    .zip(row)
                    .map(|(c, v)| {
                        format!(
                            "{}:{}",
                            serde_json::Value::String(c.name.clone()),
                            json_value(c.ty.as_ref(), v.as_deref())
                        )
                    })
                    .collect();
                out.push('{');
                out.push_str(&fields.join(","));
                out.push_str("}\n");
            }
        }
        other => {
            return Err(ChError::new(
                codes::UNKNOWN_FORMAT,
                format!(
                    "Format {other} is not available for this result, which kafkahouse answers itself (use TabSeparated, TSVWithNames, TSVWithNamesAndTypes, CSV, CSVWithNames or JSONEachRow)"
                ),
            ))
        }
    }
    Ok(out.into_bytes())
}

/// `['a','b\'c']` (an array of quoted values, as ClickHouse writes it in
/// text) into its values; `None` for anything else.
pub(crate) fn parse_text_array(text: &str) -> Option<Vec<String>> {
    let mut chars = text
        .trim()
        .strip_prefix('[')?
        .strip_suffix(']')?
        .chars()
        .peekable();
    let mut values = Vec::new();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        match chars.next() {
            None => return Some(values),
            Some('\'') => {}
            Some(_) => return None,
        }
        let mut value = String::new();
        loop {
            match chars.next()? {
                '\\' => value.push(match chars.next()? {
                    'n' => '\n',
                    't' => '\t',
                    'r' => '\r',
                    '0' => '\0',
                    other => other,
                }),
                '\'' => break,
                c => value.push(c),
            }
        }
        values.push(value);
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        match chars.next() {
            None => return Some(values),
            Some(',') => {}
            Some(_) => return None,
        }
    }
}

fn csv_quote(value: &str) -> String {
    format!("\"{}\"", value.replace('"', "\"\""))
}

/// A number type (inside Nullable or LowCardinality too).
pub(crate) fn is_number(ty: Option<&ChType>) -> bool {
    let Some(ty) = ty else { return false };
    matches!(
        ty.value_type(),
        ChType::UInt8
            | ChType::UInt16
            | ChType::UInt32
            | ChType::UInt64
            | ChType::Int8
            | ChType::Int16
            | ChType::Int32
            | ChType::Int64
            | ChType::Float32
            | ChType::Float64
    )
}

fn json_value(ty: Option<&ChType>, value: Option<&str>) -> serde_json::Value {
    match value {
        None => serde_json::Value::Null,
        Some(v) if ty.is_some_and(|t| matches!(t.value_type(), ChType::Bool)) => {
            serde_json::Value::Bool(v == "true" || v == "1")
        }
        Some(v) if ty.is_some_and(|t| matches!(t.value_type(), ChType::Array(_))) => {
            // ClickHouse's text of an array of numbers is JSON already; an
            // array of strings is quoted with '.
            serde_json::from_str::<serde_json::Value>(v)
                .ok()
                .or_else(|| {
                    parse_text_array(v).map(|items| {
                        serde_json::Value::Array(
                            items.into_iter().map(serde_json::Value::String).collect(),
                        )
                    })
                })
                .unwrap_or_else(|| serde_json::Value::String(v.to_string()))
        }
        Some(v) if is_number(ty) => v
            .parse::<serde_json::Number>()
            .map(serde_json::Value::Number)
            .unwrap_or_else(|_| serde_json::Value::String(v.to_string())),
        Some(v) => serde_json::Value::String(v.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::result::ResultColumn;

    fn result() -> ResultSet {
        ResultSet {
            columns: vec![
                ResultColumn {
                    name: "name".into(),
                    ty: Some(ChType::String),
                },
                ResultColumn {
                    name: "n".into(),
                    ty: Some(ChType::UInt64),
                },
            ],
            rows: vec![
                vec![Some("a\tb".into()), Some("1".into())],
                vec![Some("say \"hi\"".into()), None],
            ],
        }
    }

    #[test]
    fn arrays_are_json_arrays() {
        let r = ResultSet {
            columns: vec![
                ResultColumn {
                    name: "lag".into(),
                    ty: Some(ChType::parse("Array(Int64)").unwrap()),
                },
                ResultColumn {
                    name: "topics".into(),
                    ty: Some(ChType::parse("Array(String)").unwrap()),
                },
            ],
            rows: vec![vec![Some("[0,100]".into()), Some("['a','b']".into())]],
        };
        assert_eq!(
            String::from_utf8(render(&r, "JSONEachRow").unwrap()).unwrap(),
            "{\"lag\":[0,100],\"topics\":[\"a\",\"b\"]}\n"
        );
    }

    #[test]
    fn text_formats_are_clickhouse_s() {
        let r = result();
        assert_eq!(
            String::from_utf8(render(&r, "TabSeparatedWithNamesAndTypes").unwrap()).unwrap(),
            "name\tn\nString\tUInt64\na\\tb\t1\nsay \"hi\"\t\\N\n"
        );
        assert_eq!(
            String::from_utf8(render(&r, "CSVWithNames").unwrap()).unwrap(),
            "\"name\",\"n\"\n\"a\tb\",1\n\"say \"\"hi\"\"\",\\N\n"
        );
        assert_eq!(
            String::from_utf8(render(&r, "JSONEachRow").unwrap()).unwrap(),
            "{\"name\":\"a\\tb\",\"n\":1}\n{\"name\":\"say \\\"hi\\\"\",\"n\":null}\n"
        );
        assert_eq!(
            render(&r, "Parquet").unwrap_err().code,
            codes::UNKNOWN_FORMAT
        );
    }
}
