//! One chDB connection: opening and closing it, queries and their result
//! buffers, Arrow blocks read in place, and chDB's streaming insert.
//!
//! Uses only `super::library`, `crate::error`, arrow and the standard library. All
//! calls block: callers run them off the async workers.

use std::ffi::{c_char, c_int, CStr, CString};
use std::path::Path;

use arrow::array::{Array, RecordBatch, StructArray};
use arrow::ffi::{FFI_ArrowArray, FFI_ArrowSchema};

use super::library::{ConnHandle, Library};
use crate::error::{codes, ChError};

/// What a query or insert returned.
#[derive(Debug, Default)]
pub struct Output {
    /// The result in the format asked for (empty for an insert).
    pub body: Vec<u8>,
    /// Rows written, as chDB reports them.
    pub rows_written: u64,
}

/// One chDB connection, with its own current database and settings
/// (connections to one data directory share the engine and its data).
/// Closed on drop.
pub struct Connection {
    library: &'static Library,
    handle: *mut ConnHandle,
}

// SAFETY: a chDB connection may be used from any thread, one thread at a
// time: `Connection` is not `Sync`, so a shared one sits behind a Mutex.
unsafe impl Send for Connection {}

impl Connection {
    /// Opens (or creates) the engine's data in `data_path`.
    pub fn open(library: &'static Library, data_path: &Path) -> Result<Connection, ChError> {
        let args = [
            CString::new("clickhouse").map_err(bad_path)?,
            CString::new(format!("--path={}", data_path.display())).map_err(bad_path)?,
        ];
        let mut argv: Vec<*mut c_char> = args.iter().map(|a| a.as_ptr() as *mut c_char).collect();
        // SAFETY: argv holds two valid NUL-terminated strings that outlive the call.
        let handle = unsafe { (library.connect)(argv.len() as c_int, argv.as_mut_ptr()) };
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
        Ok(Connection { library, handle })
    }

    /// Runs `sql` and returns its result in `format` (unless the statement
    /// names its own FORMAT).
    pub fn query(&self, sql: &[u8], format: &str) -> Result<Output, ChError> {
        let api = self.library;
        // SAFETY: the handle is open (closed only on drop); the buffers are
        // passed with explicit lengths, so they need no NUL terminator; the
        // result is read before it is destroyed, exactly once.
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
                    rows_written: (api.rows_written)(result),
                })
            };
            (api.destroy)(result);
            outcome
        }
    }

    /// Runs `sql` with `batch` readable in it as `arrowstream(name)` (no
    /// copy into a file or a table: chDB reads the Arrow buffers through the
    /// C data interface). `name` is registered for this query only and is
    /// process-wide in chDB, so concurrent callers use different names.
    pub fn query_over(
        &self,
        name: &str,
        batch: &RecordBatch,
        sql: &[u8],
        format: &str,
    ) -> Result<Output, ChError> {
        let api = self.library;
        let data = StructArray::from(batch.clone()).into_data();
        let (mut array, mut schema) = arrow::ffi::to_ffi(&data)
            .map_err(|e| ChError::new(codes::UNKNOWN_EXCEPTION, e.to_string()))?;
        let name = CString::new(name)
            .map_err(|e| ChError::new(codes::BAD_ARGUMENTS, format!("Invalid table name: {e}")))?;
        // SAFETY: the connection is open; `schema` and `array` are valid C
        // data interface structs that outlive the registration (they are
        // dropped, and released by arrow, only after it is removed below):
        // chDB reads them through copies whose release functions free nothing.
        let registered = unsafe {
            (api.arrow_array_scan)(
                *self.handle,
                name.as_ptr(),
                (&mut schema as *mut FFI_ArrowSchema).cast(),
                (&mut array as *mut FFI_ArrowArray).cast(),
            )
        };
        if registered != 0 {
            return Err(ChError::new(
                codes::UNKNOWN_EXCEPTION,
                "The embedded ClickHouse could not read the block (chdb_arrow_array_scan failed)",
            ));
        }
        let outcome = self.query(sql, format);
        // SAFETY: as above; the name was registered by this call.
        unsafe { (api.arrow_unregister)(*self.handle, name.as_ptr()) };
        drop((array, schema));
        outcome
    }

    /// An INSERT (`sql` without FORMAT) through chDB's streaming insert: the
    /// data travels as data, not appended to the query text (where a binary
    /// format is not safe).
    pub fn insert(&self, sql: &str, format: &str, data: &[u8]) -> Result<Output, ChError> {
        let mut once = Some(Ok(data));
        self.insert_pieces(sql, format, || once.take())
    }

    /// An INSERT whose data comes in pieces from `next`, each appended as it
    /// comes (chDB parses what it has been given): `None` ends the data, an
    /// `Err` abandons the insert, which then fails with that error.
    pub fn insert_pieces<P: AsRef<[u8]>>(
        &self,
        sql: &str,
        format: &str,
        mut next: impl FnMut() -> Option<Result<P, ChError>>,
    ) -> Result<Output, ChError> {
        let api = self.library;
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
            while let Some(piece) = next() {
                let piece = match piece {
                    Ok(piece) => piece,
                    Err(e) => {
                        (api.stream_destroy)(stream);
                        return Err(e);
                    }
                };
                let data = piece.as_ref();
                if data.is_empty() {
                    continue;
                }
                if (api.stream_append)(stream, data.as_ptr().cast(), data.len()) != 0 {
                    let e = failed("append insert data", (api.stream_error)(stream));
                    (api.stream_destroy)(stream);
                    return Err(e);
                }
            }
            let result = (api.stream_done)(stream);
            let outcome = if result.is_null() {
                Err(failed("finish an insert", (api.stream_error)(stream)))
            } else {
                let error = (api.error)(result);
                let outcome = if error.is_null() {
                    Ok(Output {
                        body: Vec::new(),
                        rows_written: (api.rows_written)(result),
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
}

impl Drop for Connection {
    fn drop(&mut self) {
        // SAFETY: the handle came from chdb_connect and is closed exactly once.
        unsafe { (self.library.close)(self.handle) }
    }
}

fn bad_path(e: std::ffi::NulError) -> ChError {
    ChError::new(codes::BAD_ARGUMENTS, format!("Invalid data path: {e}"))
}
