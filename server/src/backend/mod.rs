//! The ClickHouse side: one interface, an embedded engine (libchdb) and a
//! remote server over HTTP behind it. Backends know nothing of Kafka.

pub mod embedded;
pub mod remote;
pub mod tsv;

use async_trait::async_trait;

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

/// A ClickHouse backend: hands out sessions.
#[async_trait]
pub trait Backend: Send + Sync + 'static {
    /// What this backend is, for logs (never includes credentials).
    fn description(&self) -> String;

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
}
