//! The ClickHouse side: one interface, an embedded engine (libchdb) and a
//! remote server over HTTP behind it. Backends know nothing of Kafka.

pub mod embedded;
pub mod remote;
pub mod tsv;

use async_trait::async_trait;
use bytes::Bytes;
use futures::stream::BoxStream;

use crate::error::ChError;
use crate::session::SessionState;

/// The format kafkahouse asks for when the user named none: it carries column
/// names and types, and every ClickHouse version since 2018 writes it.
pub const RESULT_FORMAT: &str = "TabSeparatedWithNamesAndTypes";

/// What a statement returned.
#[derive(Debug, Default)]
pub struct Output {
    /// The response body, in the statement's FORMAT or the default one.
    pub body: Vec<u8>,
    /// Rows written, when the backend reports it.
    pub written_rows: Option<u64>,
}

/// INSERT data arriving in pieces (an HTTP request body as it comes in): a
/// backend passes each piece on as it arrives, so that a large body is never
/// held whole. An `Err` piece aborts the insert.
pub type DataStream = BoxStream<'static, Result<Bytes, ChError>>;

/// How blocks from Kafka are sent to the backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InsertFormat {
    /// Arrow IPC stream: Arrow batches as they are.
    ArrowStream,
    /// Newline-delimited JSON, for servers older than Arrow support (18.x).
    JsonEachRow,
}

/// A ClickHouse backend: hands out sessions.
#[async_trait]
pub trait Backend: Send + Sync + 'static {
    /// What this backend is, for logs (never includes credentials).
    fn description(&self) -> String;

    /// The best format this backend reads inserts in.
    fn insert_format(&self) -> InsertFormat;

    /// Whether the backend is kafkahouse's own embedded engine, whose
    /// tables kafkahouse may configure (a remote server's are the user's).
    fn is_embedded(&self) -> bool {
        false
    }

    /// Opens a session: a connection with its own current database and settings.
    async fn open_session(&self) -> Result<Box<dyn BackendSession>, ChError>;
}

/// One client's connection to the backend. Statements run one at a time.
#[async_trait]
pub trait BackendSession: Send {
    /// Runs `sql` exactly as given, in `state`'s database with its settings.
    /// `default_format` applies unless the statement has its own FORMAT.
    async fn execute(
        &mut self,
        sql: &str,
        state: &SessionState,
        default_format: &str,
    ) -> Result<Output, ChError>;

    /// Sets how long each request may take before it fails with
    /// TIMEOUT_EXCEEDED (backends whose requests can stall: a remote server).
    fn set_request_timeout(&mut self, _timeout: std::time::Duration) {}

    /// Runs `insert_sql` (`INSERT INTO t (cols)`, no FORMAT) with `data` in
    /// `format`, with `state`'s settings (format settings such as
    /// `format_csv_delimiter` apply to parsing `data`).
    async fn insert(
        &mut self,
        insert_sql: &str,
        format: &str,
        data: Vec<u8>,
        state: &SessionState,
    ) -> Result<Output, ChError>;

    /// `insert` with the data arriving as a stream: what the engine has
    /// parsed so far is all the memory it holds.
    async fn insert_stream(
        &mut self,
        insert_sql: &str,
        format: &str,
        data: DataStream,
        state: &SessionState,
    ) -> Result<Output, ChError>;
}

/// The insertable columns of `database.table` and their types, as the
/// backend describes them (MATERIALIZED and ALIAS columns left out).
pub async fn describe_table(
    session: &mut dyn BackendSession,
    database: &str,
    table: &str,
) -> Result<Vec<(String, catalog::ChType)>, ChError> {
    let sql = format!(
        "DESCRIBE TABLE {}",
        catalog::quote::qualified(database, table)
    );
    let out = session
        .execute(&sql, &SessionState::new(database), RESULT_FORMAT)
        .await?;
    let mut columns = Vec::new();
    for (name, type_name, kind) in described_columns(&out.body)? {
        if kind == "MATERIALIZED" || kind == "ALIAS" {
            continue;
        }
        let ty = catalog::ChType::parse(&type_name).map_err(|e| {
            ChError::new(
                crate::error::codes::NOT_IMPLEMENTED,
                format!("Column {name} of {database}.{table}: {e}"),
            )
        })?;
        columns.push((name, ty));
    }
    Ok(columns)
}

/// The rows of a `DESCRIBE` answer in `RESULT_FORMAT`: each column's name,
/// type as written, and default kind (`MATERIALIZED`, `ALIAS`, or empty).
pub fn described_columns(body: &[u8]) -> Result<Vec<(String, String, String)>, ChError> {
    let result = tsv::parse(body)?;
    Ok(result
        .rows
        .into_iter()
        .filter_map(|row| {
            let mut cells = row.into_iter();
            let name = cells.next().flatten()?;
            let type_name = cells.next().flatten()?;
            let kind = cells.next().flatten().unwrap_or_default();
            Some((name, type_name, kind))
        })
        .collect())
}
