//! A view whose SELECT runs in the embedded ClickHouse engine: each block is
//! handed to the engine in place (Arrow, `arrowstream(name)`), the user's
//! SELECT runs over it exactly as ClickHouse runs it, and the rows come back
//! already converted to the destination's column types, as TabSeparated
//! (ClickHouse's own text, read back exactly by every version) for the
//! backend's insert. Used for views that use something DataFusion does not
//! run exactly as ClickHouse (`planner::exact`).
//!
//! Uses the chDB binding, the backend's DESCRIBE reading and the planner.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;

use catalog::{quote, ChType};

use super::decode::Parsing;
use crate::backend::described_columns;
use crate::chdb::Connection;
use crate::error::{codes, ChError};

/// Names each view's registered block: chDB's names are process-wide.
static NEXT_STREAM: AtomicU64 = AtomicU64::new(0);

/// The format the engine writes a view's rows in for the insert.
pub const OUTPUT_FORMAT: &str = "TabSeparated";

/// A view's SELECT, ready to run in the engine over any block.
pub struct EngineView {
    /// One connection: blocks of a view run one at a time.
    connection: Arc<Mutex<Connection>>,
    stream: String,
    /// The query run per block, over `stream`.
    sql: Arc<[u8]>,
    /// The destination columns the view fills, in the order of its rows.
    pub columns: Vec<String>,
    shown: Shown,
}

/// What the prepared view needs to know about its source and destination.
pub struct Shape<'a> {
    pub select_sql: &'a str,
    /// The Kafka table, as `database` and `table`.
    pub database: &'a str,
    pub table: &'a str,
    /// The block's columns in ClickHouse types
    /// (`planner::engine_sql::source_columns`) and in Arrow (the decoder's
    /// schema), in the same order.
    pub source: Vec<(String, ChType)>,
    pub schema: SchemaRef,
    /// The table's own columns: what `*` means.
    pub table_columns: Vec<String>,
    pub destination: &'a [(String, ChType)],
    pub destination_name: &'a str,
}

/// Errors as the user wrote the SELECT: ClickHouse quotes the query it ran
/// (in its own formatting), in which the block stands where the user named
/// the table; each `(SELECT ... FROM arrowstream(...))` is put back as the
/// table's name.
struct Shown {
    table: String,
}

impl Shown {
    fn error(&self, e: ChError) -> ChError {
        let mut message = e.message;
        while let Some(at) = message.find("arrowstream(") {
            let Some(open) = message[..at].rfind("(SELECT ") else {
                break;
            };
            let Some(close) = message[at..].find("))").map(|i| at + i + 2) else {
                break;
            };
            let mut end = close;
            for alias in [
                format!(" AS {}", self.table),
                format!(" AS `{}`", self.table),
            ] {
                if message[close..].starts_with(&alias) {
                    end = close + alias.len();
                }
            }
            message.replace_range(open..end, &self.table);
        }
        ChError::new(e.code, message)
    }
}

impl EngineView {
    /// Opens a connection, asks the engine what the SELECT produces over an
    /// empty block and matches it with the destination's columns by name, as
    /// ClickHouse does; errors are the engine's own (an unknown function is
    /// ClickHouse's Code 46).
    pub async fn prepare(shape: Shape<'_>, parsing: &Arc<Parsing>) -> Result<EngineView, ChError> {
        let stream = format!(
            "kafkahouse_view_{}",
            NEXT_STREAM.fetch_add(1, Ordering::Relaxed)
        );
        let block = planner::engine_sql::block_source(&shape.source, &stream);
        let select = planner::engine_sql::over_block(
            shape.select_sql,
            shape.database,
            shape.table,
            &shape.table_columns,
            &block,
        );
        let shown = Shown {
            table: shape.table.to_string(),
        };
        let empty = RecordBatch::new_empty(shape.schema.clone());
        let destination = shape.destination.to_vec();
        let destination_name = shape.destination_name.to_string();
        let parsing = parsing.clone();
        let registered = stream.clone();
        let (connection, sql, columns) = tokio::task::spawn_blocking(move || {
            let stream = registered;
            let connection = parsing.engine.connect()?;
            let described = connection.query_over(
                &stream,
                &empty,
                format!("DESCRIBE TABLE ({select})").as_bytes(),
                crate::backend::RESULT_FORMAT,
            )?;
            let mut conversions = Vec::new();
            let mut columns = Vec::new();
            for (name, _, _) in described_columns(&described.body)? {
                let Some((_, ty)) = destination.iter().find(|(d, _)| *d == name) else {
                    return Err(ChError::new(
                        codes::NO_SUCH_COLUMN_IN_TABLE,
                        format!("No such column {name} in table {destination_name}: the view's SELECT produces it"),
                    ));
                };
                let column = quote::identifier(&name);
                conversions.push(format!(
                    "CAST({column}, {}) AS {column}",
                    quote::string(&ty.to_string())
                ));
                columns.push(name);
            }
            let sql = format!("SELECT {} FROM ({select})", conversions.join(", "));
            // Run once over the empty block: a conversion ClickHouse refuses
            // shows now, at CREATE, not at the first block.
            connection.query_over(&stream, &empty, sql.as_bytes(), OUTPUT_FORMAT)?;
            Ok((connection, sql, columns))
        })
        .await
        .map_err(|e| ChError::new(codes::UNKNOWN_EXCEPTION, e.to_string()))?
        .map_err(|e| shown.error(e))?;
        Ok(EngineView {
            connection: Arc::new(Mutex::new(connection)),
            stream,
            shown,
            sql: sql.into_bytes().into(),
            columns,
        })
    }

    /// The view's rows for `block`, in [`OUTPUT_FORMAT`], and how many.
    pub async fn run(&self, block: &RecordBatch) -> Result<(Vec<u8>, usize), ChError> {
        let (connection, stream, sql) = (
            self.connection.clone(),
            self.stream.clone(),
            self.sql.clone(),
        );
        let block = block.clone();
        tokio::task::spawn_blocking(move || {
            let connection = connection.lock().unwrap_or_else(|p| p.into_inner());
            let out = connection.query_over(&stream, &block, &sql, OUTPUT_FORMAT)?;
            // One line per row: TabSeparated escapes line breaks in values.
            let rows = out.body.iter().filter(|b| **b == b'\n').count();
            Ok((out.body, rows))
        })
        .await
        .map_err(|e| ChError::new(codes::UNKNOWN_EXCEPTION, e.to_string()))?
        .map_err(|e| self.shown.error(e))
    }
}
