//! What a statement answers, independent of any wire format: rows with
//! ClickHouse-typed columns, a command's completion, or bytes already in a
//! ClickHouse format. Below the executor and the frontends; uses the
//! backend's TabSeparated reader only.

use catalog::ChType;

use crate::backend::tsv;
use crate::error::ChError;

/// What a statement produced.
#[derive(Debug)]
pub enum Outcome {
    /// Rows with typed columns.
    Rows(ResultSet),
    /// Done, no rows: `tag` names the command (`CREATE TABLE`, `INSERT`);
    /// `rows` is how many rows it wrote, when known; `warnings` are what
    /// the client should be told although it succeeded (a view that will
    /// deliver at least once), shown by each frontend its own way.
    Done {
        tag: String,
        rows: Option<u64>,
        warnings: Vec<String>,
    },
}

/// A statement's answer as bytes in a ClickHouse format.
#[derive(Debug, Default)]
pub struct Formatted {
    pub body: Vec<u8>,
    /// The format of `body`; `None` when the statement returns no rows.
    pub format: Option<String>,
    pub written_rows: Option<u64>,
    /// As in [`Outcome::Done`].
    pub warnings: Vec<String>,
}

/// A result: columns with their ClickHouse types and the values as text.
#[derive(Debug, Default)]
pub struct ResultSet {
    pub columns: Vec<ResultColumn>,
    pub rows: Vec<Vec<Option<String>>>,
}

#[derive(Debug, Clone)]
pub struct ResultColumn {
    pub name: String,
    /// The parsed type; `None` for a type kafkahouse's model does not know,
    /// whose values then travel as text.
    pub ty: Option<ChType>,
}

pub fn done(tag: &str, rows: Option<u64>) -> Outcome {
    Outcome::Done {
        tag: tag.to_string(),
        rows,
        warnings: Vec::new(),
    }
}

/// Done, with `warnings` for the client.
pub fn done_with_warnings(tag: &str, warnings: Vec<String>) -> Outcome {
    Outcome::Done {
        tag: tag.to_string(),
        rows: None,
        warnings,
    }
}

/// A backend answer in TabSeparatedWithNamesAndTypes as a typed result.
pub fn typed_result(body: &[u8]) -> Result<ResultSet, ChError> {
    let text = tsv::parse(body)?;
    let columns = text
        .names
        .into_iter()
        .zip(text.types)
        .map(|(name, type_name)| {
            let ty = ChType::parse(&type_name).ok();
            if ty.is_none() {
                tracing::debug!(column = %name, r#type = %type_name, "unknown type; sent as text");
            }
            ResultColumn { name, ty }
        })
        .collect();
    Ok(ResultSet {
        columns,
        rows: text.rows,
    })
}

/// Output in a format the user chose: one text column named after the
/// format, one row per line, exactly as ClickHouse wrote it.
pub fn formatted_lines(format: &str, body: &[u8]) -> ResultSet {
    let text = String::from_utf8_lossy(body);
    let text = text.strip_suffix('\n').unwrap_or(&text);
    let rows = if text.is_empty() {
        Vec::new()
    } else {
        text.split('\n')
            .map(|l| vec![Some(l.to_string())])
            .collect()
    };
    ResultSet {
        columns: vec![ResultColumn {
            name: format.to_string(),
            ty: Some(ChType::String),
        }],
        rows,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formatted_output_becomes_lines() {
        let r = formatted_lines("JSONEachRow", b"{\"a\":1}\n{\"a\":2}\n");
        assert_eq!(r.columns[0].name, "JSONEachRow");
        assert_eq!(r.rows.len(), 2);
        assert_eq!(r.rows[1][0].as_deref(), Some("{\"a\":2}"));
        assert!(formatted_lines("CSV", b"").rows.is_empty());
    }
}
