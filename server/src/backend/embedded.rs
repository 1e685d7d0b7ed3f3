//! The embedded backend: the `Backend`/`BackendSession` implementation on
//! top of the chDB binding (`crate::chdb`). Each client session gets its own
//! chDB connection, which keeps its own current database and settings; this
//! module brings it to the session's USE and SET and runs every blocking chDB
//! call off the async workers.
//!
//! Uses `crate::chdb`, `crate::error`, `crate::session` and the backend
//! interface; knows nothing of Kafka.

use std::path::Path;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use catalog::quote;

use super::{Backend, BackendSession, DataStream, Output};
use crate::chdb::{self, Connection};
use crate::error::{codes, ChError};
use crate::session::SessionState;

/// The embedded engine, with its data under one directory.
pub struct Embedded {
    engine: Arc<chdb::Engine>,
    /// Boots the engine at start-up, so a broken data directory or library
    /// fails the start instead of the first query, and keeps it up.
    _engine: Mutex<Connection>,
}

impl Embedded {
    /// Loads libchdb from `library` and opens (or creates) the data in `data_path`.
    pub async fn start(library: &Path, data_path: &Path) -> Result<Embedded, ChError> {
        let engine = Arc::new(chdb::Engine::new(
            library.to_path_buf(),
            data_path.to_path_buf(),
        ));
        let booting = engine.clone();
        let connection = blocking(move || {
            let connection = booting.connect()?;
            connection.query(b"SELECT 1", "TabSeparated")?;
            Ok(connection)
        })
        .await?;
        Ok(Embedded {
            engine,
            _engine: Mutex::new(connection),
        })
    }
}

/// A chDB result as the backend interface reports it.
fn output(out: chdb::Output) -> Output {
    Output {
        body: out.body,
        written_rows: Some(out.rows_written),
    }
}

#[async_trait]
impl Backend for Embedded {
    fn description(&self) -> String {
        format!(
            "embedded ClickHouse ({}) with data in {}",
            self.engine.library_path().display(),
            self.engine.data_path().display()
        )
    }

    fn insert_format(&self) -> super::InsertFormat {
        super::InsertFormat::ArrowStream
    }

    fn is_embedded(&self) -> bool {
        true
    }

    async fn open_session(&self) -> Result<Box<dyn BackendSession>, ChError> {
        let engine = self.engine.clone();
        let connection = blocking(move || engine.connect()).await?;
        Ok(Box::new(EmbeddedSession {
            connection: Arc::new(Mutex::new(connection)),
            applied: SessionState::new("default"),
        }))
    }
}

struct EmbeddedSession {
    connection: Arc<Mutex<Connection>>,
    /// The database and settings the chDB connection has now, as far as
    /// this session set them.
    applied: SessionState,
}

impl EmbeddedSession {
    /// Brings the connection's database and settings to `state` (a client's
    /// USE and SET already did; per-request ones, as the HTTP interface
    /// passes, did not).
    async fn apply(&mut self, state: &SessionState) -> Result<(), ChError> {
        let state = &with_defaults(state);
        let mut statements = Vec::new();
        if state.database != self.applied.database {
            statements.push(format!("USE {}", quote::identifier(&state.database)));
        }
        for (name, value) in &state.settings {
            if self.applied.settings.get(name) != Some(value) {
                statements.push(format!("SET {name} = {}", quote::setting_value(value)));
            }
        }
        for name in self.applied.settings.keys() {
            if !state.settings.contains_key(name) {
                statements.push(format!("SET {name} = DEFAULT"));
            }
        }
        if statements.is_empty() {
            return Ok(());
        }
        let connection = self.connection.clone();
        blocking(move || {
            let connection = connection.lock().unwrap_or_else(|p| p.into_inner());
            for sql in statements {
                connection.query(sql.as_bytes(), "TabSeparated")?;
            }
            Ok(())
        })
        .await?;
        self.applied = state.clone();
        Ok(())
    }
}

/// `state` with the embedded engine's own defaults. `insert_deduplicate`
/// is off unless asked for: a view's MergeTree destination here keeps a
/// deduplication window (for exactly-once, see `pipeline::guarantee`), and a
/// user's two identical INSERTs must both land, as they would in a table
/// without one. The pipeline's inserts ask for it, with their tokens.
fn with_defaults(state: &SessionState) -> SessionState {
    let mut state = state.clone();
    state
        .settings
        .entry("insert_deduplicate".to_string())
        .or_insert_with(|| "0".to_string());
    state
}

#[async_trait]
impl BackendSession for EmbeddedSession {
    async fn execute(
        &mut self,
        sql: &str,
        state: &SessionState,
        default_format: &str,
    ) -> Result<Output, ChError> {
        // The chDB connection itself holds the session's database and
        // settings; it is brought to `state` first.
        self.apply(state).await?;
        let connection = self.connection.clone();
        let sql = sql.to_string();
        let format = default_format.to_string();
        blocking(move || {
            let connection = connection.lock().unwrap_or_else(|p| p.into_inner());
            connection.query(sql.as_bytes(), &format).map(output)
        })
        .await
    }

    async fn insert(
        &mut self,
        insert_sql: &str,
        format: &str,
        data: Vec<u8>,
        state: &SessionState,
    ) -> Result<Output, ChError> {
        // The connection holds the session's settings; brought to `state`.
        let applying = std::time::Instant::now();
        self.apply(state).await?;
        tracing::trace!(
            apply_ms = applying.elapsed().as_secs_f64() * 1e3,
            "session settings applied"
        );
        let connection = self.connection.clone();
        let sql = insert_sql.to_string();
        let format = format.to_string();
        blocking(move || {
            let connection = connection.lock().unwrap_or_else(|p| p.into_inner());
            connection.insert(&sql, &format, &data).map(output)
        })
        .await
    }

    async fn insert_stream(
        &mut self,
        insert_sql: &str,
        format: &str,
        mut data: DataStream,
        state: &SessionState,
    ) -> Result<Output, ChError> {
        use futures::StreamExt as _;
        self.apply(state).await?;
        let connection = self.connection.clone();
        let sql = insert_sql.to_string();
        let format = format.to_string();
        // A few pieces in flight: the body is read while the engine parses,
        // and waits for it when it falls behind.
        let (pieces, mut arriving) = tokio::sync::mpsc::channel(4);
        let inserting = blocking(move || {
            let connection = connection.lock().unwrap_or_else(|p| p.into_inner());
            connection
                .insert_pieces(&sql, &format, || arriving.blocking_recv())
                .map(output)
        });
        let feeding = async move {
            while let Some(piece) = data.next().await {
                let failed = piece.is_err();
                // The engine stopped taking pieces: its error is the answer.
                if pieces.send(piece).await.is_err() || failed {
                    break;
                }
            }
        };
        // An insert that fails early is answered at once, the rest of the
        // body unread.
        tokio::pin!(inserting);
        tokio::select! {
            outcome = &mut inserting => return outcome,
            () = feeding => {}
        }
        inserting.await
    }
}

/// Runs a blocking chDB call off the async workers.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ChError> + Send + 'static,
) -> Result<T, ChError> {
    tokio::task::spawn_blocking(f).await.map_err(|e| {
        ChError::new(
            codes::UNKNOWN_EXCEPTION,
            format!("The embedded ClickHouse call failed: {e}"),
        )
    })?
}
