//! Reading `TabSeparatedWithNamesAndTypes` responses.

use crate::error::{codes, ChError};

/// A result as names, ClickHouse type names, and text values (None is NULL).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TextResult {
    pub names: Vec<String>,
    pub types: Vec<String>,
    pub rows: Vec<Vec<Option<String>>>,
}

/// Parses a whole response body. An empty body is a result with no columns.
pub fn parse(body: &[u8]) -> Result<TextResult, ChError> {
    let body = body.strip_suffix(b"\n").unwrap_or(body);
    if body.is_empty() {
        return Ok(TextResult::default());
    }
    let mut lines = body.split(|b| *b == b'\n');
    let names = header(lines.next())?;
    let types = header(lines.next())?;
    if names.len() != types.len() {
        return Err(malformed("names and types differ in count"));
    }
    let mut rows = Vec::new();
    for line in lines {
        let row: Vec<Option<String>> = line.split(|b| *b == b'\t').map(field).collect();
        if row.len() != names.len() {
            return Err(malformed("a row has the wrong number of fields"));
        }
        rows.push(row);
    }
    Ok(TextResult { names, types, rows })
}

fn header(line: Option<&[u8]>) -> Result<Vec<String>, ChError> {
    let line = line.ok_or_else(|| malformed("missing header line"))?;
    Ok(line.split(|b| *b == b'\t').map(unescape).collect())
}

fn field(raw: &[u8]) -> Option<String> {
    if raw == b"\\N" {
        None
    } else {
        Some(unescape(raw))
    }
}

/// Undoes TSV escaping: `\t \n \r \b \f \0 \\ \'` and any other `\x` as `x`.
fn unescape(raw: &[u8]) -> String {
    if !raw.contains(&b'\\') {
        return String::from_utf8_lossy(raw).into_owned();
    }
    let mut out = Vec::with_capacity(raw.len());
    let mut bytes = raw.iter();
    while let Some(&b) = bytes.next() {
        if b != b'\\' {
            out.push(b);
            continue;
        }
        match bytes.next() {
            Some(b't') => out.push(b'\t'),
            Some(b'n') => out.push(b'\n'),
            Some(b'r') => out.push(b'\r'),
            Some(b'b') => out.push(0x08),
            Some(b'f') => out.push(0x0c),
            Some(b'0') => out.push(0),
            Some(&other) => out.push(other),
            None => out.push(b'\\'),
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn malformed(what: &str) -> ChError {
    ChError::new(
        codes::CANNOT_PARSE_TEXT,
        format!("Cannot read the backend's TabSeparatedWithNamesAndTypes response: {what}"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_names_types_values_and_nulls() {
        let body = b"a\ts\tn\nUInt64\tString\tNullable(Int8)\n5\th\\tx\\\\y\t\\N\n6\t\t1\n";
        let r = parse(body).unwrap();
        assert_eq!(r.names, ["a", "s", "n"]);
        assert_eq!(r.types, ["UInt64", "String", "Nullable(Int8)"]);
        assert_eq!(
            r.rows,
            vec![
                vec![Some("5".into()), Some("h\tx\\y".into()), None],
                vec![Some("6".into()), Some(String::new()), Some("1".into())],
            ]
        );
    }

    #[test]
    fn escaped_quotes_in_type_names_are_unescaped() {
        let r = parse(b"e\nEnum8(\\'x\\' = 1)\nx\n").unwrap();
        assert_eq!(r.types, ["Enum8('x' = 1)"]);
    }

    #[test]
    fn header_only_is_an_empty_result() {
        let r = parse(b"count()\nUInt64\n").unwrap();
        assert_eq!(r.names, ["count()"]);
        assert!(r.rows.is_empty());
        assert_eq!(parse(b"").unwrap(), TextResult::default());
    }

    #[test]
    fn ragged_rows_are_an_error() {
        assert!(parse(b"a\tb\nUInt8\tUInt8\n1\n").is_err());
        assert!(parse(b"a\tb\nUInt8\n").is_err());
    }
}
