//! The embedded backend: ClickHouse's engine from libchdb, loaded at run time.
//!
//! libchdb ships no header and is 566 MB, so it is opened with `libloading`
//! rather than linked: the binary builds without it and says clearly when it
//! is missing. Each client session gets its own chDB connection, which keeps
//! its own current database and settings (chDB connections to one path share
//! the engine and its data).

use std::ffi::{c_char, c_int, c_void, CStr, CString};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use catalog::quote;
use libloading::Library;

use super::{Backend, BackendSession, Output};
use crate::error::{codes, ChError};
use crate::session::SessionState;

/// `chdb_connection` is a pointer to an opaque struct; `chdb_connect` returns
/// a pointer to one of those.
type ConnHandle = *mut c_void;
type ResultHandle = *mut c_void;

type ConnectFn = unsafe extern "C" fn(c_int, *mut *mut c_char) -> *mut ConnHandle;
type CloseFn = unsafe extern "C" fn(*mut ConnHandle);
type QueryFn =
    unsafe extern "C" fn(ConnHandle, *const c_char, usize, *const c_char, usize) -> ResultHandle;
type BufferFn = unsafe extern "C" fn(ResultHandle) -> *mut c_char;
type LengthFn = unsafe extern "C" fn(ResultHandle) -> usize;
type ErrorFn = unsafe extern "C" fn(ResultHandle) -> *const c_char;
type RowsFn = unsafe extern "C" fn(ResultHandle) -> u64;
type DestroyFn = unsafe extern "C" fn(ResultHandle);
type SignalsFn = unsafe extern "C" fn(c_int);
type InsertStreamHandle = *mut c_void;
type StreamInsertFn = unsafe extern "C" fn(
    ConnHandle,
    *const c_char,
    usize,
    *const c_char,
    usize,
) -> InsertStreamHandle;
type StreamAppendFn = unsafe extern "C" fn(InsertStreamHandle, *const c_void, usize) -> c_int;
type StreamDoneFn = unsafe extern "C" fn(InsertStreamHandle) -> ResultHandle;
type StreamErrorFn = unsafe extern "C" fn(InsertStreamHandle) -> *const c_char;
type StreamDestroyFn = unsafe extern "C" fn(InsertStreamHandle);

/// The C API, resolved once. The library stays loaded as long as this lives.
struct ChdbApi {
    connect: ConnectFn,
    close: CloseFn,
    query: QueryFn,
    buffer: BufferFn,
    length: LengthFn,
    error: ErrorFn,
    rows_written: RowsFn,
    destroy: DestroyFn,
    stream_insert: StreamInsertFn,
    stream_append: StreamAppendFn,
    stream_done: StreamDoneFn,
    stream_error: StreamErrorFn,
    stream_destroy: StreamDestroyFn,
    _library: Library,
}

impl ChdbApi {
    fn load(path: &Path) -> Result<ChdbApi, ChError> {
        // SAFETY: loading runs the library's initialisers; libchdb is a plain
        // shared object without load-time side effects beyond ClickHouse's own.
        let library = unsafe { Library::new(path) }.map_err(|e| {
            ChError::new(
                codes::BAD_ARGUMENTS,
                format!(
                    "Cannot load libchdb from {}: {e}. Run scripts/fetch-libchdb or pass --libchdb PATH.",
                    path.display()
                ),
            )
        })?;
        // SAFETY: the symbol types match libchdb's C API (chdb.h, 26.x).
        unsafe {
            let api = ChdbApi {
                connect: *symbol(&library, b"chdb_connect\0")?,
                close: *symbol(&library, b"chdb_close_conn\0")?,
                query: *symbol(&library, b"chdb_query_n\0")?,
                buffer: *symbol(&library, b"chdb_result_buffer\0")?,
                length: *symbol(&library, b"chdb_result_length\0")?,
                error: *symbol(&library, b"chdb_result_error\0")?,
                rows_written: *symbol(&library, b"chdb_result_rows_written\0")?,
                destroy: *symbol(&library, b"chdb_destroy_query_result\0")?,
                stream_insert: *symbol(&library, b"chdb_stream_insert_n\0")?,
                stream_append: *symbol(&library, b"chdb_stream_append\0")?,
                stream_done: *symbol(&library, b"chdb_stream_done\0")?,
                stream_error: *symbol(&library, b"chdb_stream_insert_error\0")?,
                stream_destroy: *symbol(&library, b"chdb_destroy_insert_stream\0")?,
                _library: library,
            };
            // ClickHouse otherwise installs process-wide signal handlers, which
            // would take SIGINT/SIGTERM away from the server's own shutdown.
            if let Ok(disable) =
                symbol::<SignalsFn>(&api._library, b"chdb_set_signal_handlers_enabled\0")
            {
                disable(0);
            }
            Ok(api)
        }
    }
}

unsafe fn symbol<'l, T>(
    library: &'l Library,
    name: &[u8],
) -> Result<libloading::Symbol<'l, T>, ChError> {
    library.get(name).map_err(|e| {
        ChError::new(
            codes::BAD_ARGUMENTS,
            format!(
                "libchdb lacks {}: {e} (kafkahouse needs libchdb 26.x)",
                String::from_utf8_lossy(&name[..name.len().saturating_sub(1)])
            ),
        )
    })
}

/// One chDB connection. Closed on drop.
struct Connection {
    api: Arc<ChdbApi>,
    handle: *mut ConnHandle,
}

// SAFETY: a chDB connection may be used from any thread; it is only ever used
// by one thread at a time here (it sits behind a Mutex).
unsafe impl Send for Connection {}

impl Connection {
    fn open(api: Arc<ChdbApi>, data_path: &Path) -> Result<Connection, ChError> {
        let args = [
            CString::new("clickhouse").map_err(bad_path)?,
            CString::new(format!("--path={}", data_path.display())).map_err(bad_path)?,
        ];
        let mut argv: Vec<*mut c_char> = args.iter().map(|a| a.as_ptr() as *mut c_char).collect();
        // SAFETY: argv holds two valid NUL-terminated strings that outlive the call.
        let handle = unsafe { (api.connect)(argv.len() as c_int, argv.as_mut_ptr()) };
        // SAFETY: a non-null return points at the connection handle.
        if handle.is_null() || unsafe { (*handle).is_null() } {
            return Err(ChError::new(
                codes::UNKNOWN_EXCEPTION,
                format!(
                    "The embedded ClickHouse could not open its data directory {}",
                    data_path.display()
                ),
            ));
        }
        Ok(Connection { api, handle })
    }

    /// An INSERT through chDB's streaming insert: the data travels as data,
    /// not appended to the query text (where a binary format is not safe).
    fn insert(&self, sql: &str, format: &str, data: &[u8]) -> Result<Output, ChError> {
        let api = &self.api;
        let failed = |what: &str, error: *const c_char| {
            let text = if error.is_null() {
                format!("the embedded ClickHouse failed to {what}")
            } else {
                // SAFETY: a non-null error is a NUL-terminated string owned by
                // the stream, read before the stream is destroyed.
                unsafe { CStr::from_ptr(error) }
                    .to_string_lossy()
                    .into_owned()
            };
            ChError::from_server_text(&text)
        };
        // SAFETY: the connection is open; buffers are passed with lengths; the
        // stream is destroyed exactly once on every path.
        unsafe {
            let stream = (api.stream_insert)(
                *self.handle,
                sql.as_ptr().cast(),
                sql.len(),
                format.as_ptr().cast(),
                format.len(),
            );
            if stream.is_null() {
                return Err(failed("start an insert", std::ptr::null()));
            }
            let start_error = (api.stream_error)(stream);
            if !start_error.is_null() {
                let e = failed("start an insert", start_error);
                (api.stream_destroy)(stream);
                return Err(e);
            }
            if (api.stream_append)(stream, data.as_ptr().cast(), data.len()) != 0 {
                let e = failed("append insert data", (api.stream_error)(stream));
                (api.stream_destroy)(stream);
                return Err(e);
            }
            let result = (api.stream_done)(stream);
            let outcome = if result.is_null() {
                Err(failed("finish an insert", (api.stream_error)(stream)))
            } else {
                let error = (api.error)(result);
                let outcome = if error.is_null() {
                    Ok(Output {
                        body: Vec::new(),
                        written_rows: Some((api.rows_written)(result)),
                    })
                } else {
                    Err(ChError::from_server_text(
                        &CStr::from_ptr(error).to_string_lossy(),
                    ))
                };
                (api.destroy)(result);
                outcome
            };
            (api.stream_destroy)(stream);
            outcome
        }
    }

    fn query(&self, sql: &[u8], format: &str) -> Result<Output, ChError> {
        let api = &self.api;
        // SAFETY: the handle is open (closed only on drop); the buffers are
        // passed with explicit lengths, so they need no NUL terminator.
        unsafe {
            let result = (api.query)(
                *self.handle,
                sql.as_ptr().cast(),
                sql.len(),
                format.as_ptr().cast(),
                format.len(),
            );
            if result.is_null() {
                return Err(ChError::new(
                    codes::UNKNOWN_EXCEPTION,
                    "The embedded ClickHouse returned no result",
                ));
            }
            let error = (api.error)(result);
            let outcome = if !error.is_null() {
                let text = CStr::from_ptr(error).to_string_lossy();
                Err(ChError::from_server_text(&text))
            } else {
                let ptr = (api.buffer)(result);
                let len = (api.length)(result);
                let body = if ptr.is_null() || len == 0 {
                    Vec::new()
                } else {
                    std::slice::from_raw_parts(ptr.cast::<u8>(), len).to_vec()
                };
                Ok(Output {
                    body,
                    written_rows: Some((api.rows_written)(result)),
                })
            };
            (api.destroy)(result);
            outcome
        }
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        // SAFETY: the handle came from chdb_connect and is closed exactly once.
        unsafe { (self.api.close)(self.handle) }
    }
}

fn bad_path(e: std::ffi::NulError) -> ChError {
    ChError::new(codes::BAD_ARGUMENTS, format!("Invalid data path: {e}"))
}

/// The embedded engine, with its data under one directory.
pub struct Embedded {
    api: Arc<ChdbApi>,
    data_path: PathBuf,
    library_path: PathBuf,
    /// Boots the engine at start-up, so a broken data directory or library
    /// fails the start instead of the first query, and keeps it up.
    _engine: Mutex<Connection>,
}

impl Embedded {
    /// Loads libchdb from `library` and opens (or creates) the data in `data_path`.
    pub async fn start(library: &Path, data_path: &Path) -> Result<Embedded, ChError> {
        std::fs::create_dir_all(data_path).map_err(|e| {
            ChError::new(
                codes::BAD_ARGUMENTS,
                format!("Cannot create {}: {e}", data_path.display()),
            )
        })?;
        let library_path = library.to_path_buf();
        let library = library_path.clone();
        let data = data_path.to_path_buf();
        let (api, engine) = blocking(move || {
            let api = Arc::new(ChdbApi::load(&library)?);
            let engine = Connection::open(api.clone(), &data)?;
            engine.query(b"SELECT 1", "TabSeparated")?;
            Ok((api, engine))
        })
        .await?;
        Ok(Embedded {
            api,
            data_path: data_path.to_path_buf(),
            library_path,
            _engine: Mutex::new(engine),
        })
    }
}

#[async_trait]
impl Backend for Embedded {
    fn description(&self) -> String {
        format!(
            "embedded ClickHouse ({}) with data in {}",
            self.library_path.display(),
            self.data_path.display()
        )
    }

    fn insert_format(&self) -> super::InsertFormat {
        super::InsertFormat::ArrowStream
    }

    async fn open_session(&self) -> Result<Box<dyn BackendSession>, ChError> {
        let api = self.api.clone();
        let path = self.data_path.clone();
        let connection = blocking(move || Connection::open(api, &path)).await?;
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
            connection.query(sql.as_bytes(), &format)
        })
        .await
    }

    async fn insert(
        &mut self,
        insert_sql: &str,
        format: &str,
        data: Vec<u8>,
    ) -> Result<Output, ChError> {
        let connection = self.connection.clone();
        let sql = insert_sql.to_string();
        let format = format.to_string();
        blocking(move || {
            let connection = connection.lock().unwrap_or_else(|p| p.into_inner());
            connection.insert(&sql, &format, &data)
        })
        .await
    }

    async fn insert_in(
        &mut self,
        insert_sql: &str,
        format: &str,
        data: Vec<u8>,
        state: &SessionState,
    ) -> Result<Output, ChError> {
        self.apply(state).await?;
        self.insert(insert_sql, format, data).await
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

/// The embedded engine as a parser of Kafka messages: each consumer opens
/// its own connection, used from the blocking pool. libchdb is loaded on
/// first use, so a remote backend without Kafka tables in engine-parsed
/// formats never needs it.
pub struct FormatEngine {
    library: PathBuf,
    path: PathBuf,
    api: Mutex<Option<Arc<ChdbApi>>>,
}

impl FormatEngine {
    pub fn new(library: PathBuf, path: PathBuf) -> FormatEngine {
        FormatEngine {
            library,
            path,
            api: Mutex::new(None),
        }
    }

    /// A connection of its own (blocking: call it off the async workers).
    pub fn open(&self) -> Result<Parser, ChError> {
        let api = {
            let mut api = self.api.lock().unwrap_or_else(|p| p.into_inner());
            match &*api {
                Some(loaded) => loaded.clone(),
                None => {
                    std::fs::create_dir_all(&self.path).map_err(|e| {
                        ChError::new(
                            codes::BAD_ARGUMENTS,
                            format!("Cannot create {}: {e}", self.path.display()),
                        )
                    })?;
                    let loaded = Arc::new(ChdbApi::load(&self.library)?);
                    *api = Some(loaded.clone());
                    loaded
                }
            }
        };
        Ok(Parser(Connection::open(api, &self.path)?))
    }
}

/// One parsing connection.
pub struct Parser(Connection);

impl Parser {
    /// Runs a query and returns its result in `format` (e.g. ArrowStream).
    pub fn query(&self, sql: &str, format: &str) -> Result<Vec<u8>, ChError> {
        self.0.query(sql.as_bytes(), format).map(|o| o.body)
    }
}
