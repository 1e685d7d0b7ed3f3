//! A view whose SELECT runs in the embedded ClickHouse engine: each block is
//! handed to the engine in place (Arrow, `arrowstream(name)`), the user's
//! SELECT runs over it exactly as ClickHouse runs it, and the rows come back
//! already converted to the destination's column types, as TabSeparated
//! (ClickHouse's own text, read back exactly by every version) for the
//! backend's insert. Used for views that use something DataFusion does not
//! run exactly as ClickHouse (`planner::exact`), and once per direct SELECT
//! of the same kind (`run_once`).
//!
//! Uses the chDB binding, the backend's DESCRIBE reading and the planner.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use arrow::array::RecordBatch;

use catalog::{quote, ChType, KafkaTableDef};

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
    /// The Kafka table's name, which errors show for the block.
    table: String,
}

/// What the prepared view needs to know about its source and destination.
pub struct Shape<'a> {
    pub select_sql: &'a str,
    /// The Kafka table it reads, whose blocks carry `_raw_message` and
    /// `_error` when `stream_errors`.
    pub table: &'a KafkaTableDef,
    pub stream_errors: bool,
    pub destination: &'a [(String, ChType)],
    pub destination_name: &'a str,
}

/// A fresh name to register a block under: chDB's names are process-wide.
fn stream_name() -> String {
    format!(
        "kafkahouse_block_{}",
        NEXT_STREAM.fetch_add(1, Ordering::Relaxed)
    )
}

/// `select_sql` over the Kafka table `table` run once by the engine over
/// `block` (a direct SELECT), its rows in `format`.
pub async fn run_once(
    parsing: &Arc<Parsing>,
    table: &KafkaTableDef,
    select_sql: &str,
    block: RecordBatch,
    format: &'static str,
) -> Result<Vec<u8>, ChError> {
    let stream = stream_name();
    let stream_errors = block.schema().field_with_name("_error").is_ok();
    let sql = planner::engine_sql::over_kafka_block(
        select_sql,
        (&table.name.database, &table.name.name),
        &table.columns,
        stream_errors,
        &stream,
    );
    let parsing = parsing.clone();
    let name = table.name.name.clone();
    tokio::task::spawn_blocking(move || {
        let connection = parsing.engine.connect()?;
        connection.query_over(&stream, &block, sql.as_bytes(), format)
    })
    .await
    .map_err(|e| ChError::new(codes::UNKNOWN_EXCEPTION, e.to_string()))?
    .map(|out| out.body)
    .map_err(|e| as_written(e, &name))
}

/// The engine's error in the user's terms (`planner::engine_sql::as_written`).
fn as_written(e: ChError, table: &str) -> ChError {
    ChError::new(e.code, planner::engine_sql::as_written(&e.message, table))
}

impl EngineView {
    /// Opens a connection, asks the engine what the SELECT produces over an
    /// empty block and matches it with the destination's columns by name, as
    /// ClickHouse does; errors are the engine's own (an unknown function is
    /// ClickHouse's Code 46).
    pub async fn prepare(shape: Shape<'_>, parsing: &Arc<Parsing>) -> Result<EngineView, ChError> {
        let stream = stream_name();
        let table = shape.table;
        let select = planner::engine_sql::over_kafka_block(
            shape.select_sql,
            (&table.name.database, &table.name.name),
            &table.columns,
            shape.stream_errors,
            &stream,
        );
        let empty =
            RecordBatch::new_empty(planner::source_schema(&table.columns, shape.stream_errors));
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
        .map_err(|e| as_written(e, &table.name.name))?;
        Ok(EngineView {
            connection: Arc::new(Mutex::new(connection)),
            stream,
            table: table.name.name.clone(),
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
        .map_err(|e| as_written(e, &self.table))
    }
}
