//! libchdb itself: its C API's function types, loading the library at run
//! time and resolving those functions once per process.
//!
//! Uses only `crate::error` and external crates (`libloading`); everything
//! `unsafe` about calling these functions is in `connection.rs`.

use std::ffi::{c_char, c_int, c_void};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::error::{codes, ChError};

/// `chdb_connection` is a pointer to an opaque struct; `chdb_connect` returns
/// a pointer to one of those.
pub(super) type ConnHandle = *mut c_void;
pub(super) type ResultHandle = *mut c_void;
pub(super) type InsertStreamHandle = *mut c_void;

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
/// `chdb_arrow_array_scan(conn, name, ArrowSchema*, ArrowArray*)`: the
/// array becomes readable as `arrowstream(name)`, borrowed, not owned.
type ArrowArrayScanFn =
    unsafe extern "C" fn(ConnHandle, *const c_char, *mut c_void, *mut c_void) -> c_int;
type ArrowUnregisterFn = unsafe extern "C" fn(ConnHandle, *const c_char) -> c_int;

/// libchdb, loaded, with its C API resolved. Only ever handed out as
/// `&'static`: it is never dropped, so the library is never unloaded.
pub struct Library {
    pub(super) connect: ConnectFn,
    pub(super) close: CloseFn,
    pub(super) query: QueryFn,
    pub(super) buffer: BufferFn,
    pub(super) length: LengthFn,
    pub(super) error: ErrorFn,
    pub(super) rows_written: RowsFn,
    pub(super) destroy: DestroyFn,
    pub(super) stream_insert: StreamInsertFn,
    pub(super) stream_append: StreamAppendFn,
    pub(super) stream_done: StreamDoneFn,
    pub(super) stream_error: StreamErrorFn,
    pub(super) stream_destroy: StreamDestroyFn,
    pub(super) arrow_array_scan: ArrowArrayScanFn,
    pub(super) arrow_unregister: ArrowUnregisterFn,
    /// Held, never dropped (see `LOADED`): dropping it would `dlclose`.
    _handle: libloading::Library,
}

/// Every library loaded in this process, by the path it was loaded from.
///
/// Entries are leaked on purpose and never removed: ClickHouse starts
/// threads (background pools, the server's own) and registers thread-local
/// destructors that run code from libchdb until the process exits, so
/// unloading the library while any of them may run would make them jump into
/// unmapped memory. Keeping one entry per path also loads a library once, not
/// once per caller.
static LOADED: Mutex<Vec<(PathBuf, &'static Library)>> = Mutex::new(Vec::new());

impl Library {
    /// Loads libchdb from `path` (or returns the one already loaded from
    /// it) and turns off ClickHouse's process-wide signal handlers.
    /// Blocking: loading a 566 MB library takes a while.
    pub fn load(path: &Path) -> Result<&'static Library, ChError> {
        let mut loaded = LOADED.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((_, library)) = loaded.iter().find(|(p, _)| p == path) {
            return Ok(library);
        }
        let library: &'static Library = Box::leak(Box::new(Library::open(path)?));
        loaded.push((path.to_path_buf(), library));
        Ok(library)
    }

    fn open(path: &Path) -> Result<Library, ChError> {
        // SAFETY: loading runs the library's initialisers; libchdb is a plain
        // shared object without load-time side effects beyond ClickHouse's own.
        let handle = unsafe { libloading::Library::new(path) }.map_err(|e| {
            ChError::new(
                codes::BAD_ARGUMENTS,
                format!(
                    "Cannot load libchdb from {}: {e}. Run scripts/fetch-libchdb or pass --libchdb PATH.",
                    path.display()
                ),
            )
        })?;
        // SAFETY: the symbol types match libchdb's C API (chdb.h, 26.x); the
        // function pointers copied out stay valid because the handle is kept
        // in the returned value, which `load` never drops.
        unsafe {
            let library = Library {
                connect: *symbol(&handle, b"chdb_connect\0")?,
                close: *symbol(&handle, b"chdb_close_conn\0")?,
                query: *symbol(&handle, b"chdb_query_n\0")?,
                buffer: *symbol(&handle, b"chdb_result_buffer\0")?,
                length: *symbol(&handle, b"chdb_result_length\0")?,
                error: *symbol(&handle, b"chdb_result_error\0")?,
                rows_written: *symbol(&handle, b"chdb_result_rows_written\0")?,
                destroy: *symbol(&handle, b"chdb_destroy_query_result\0")?,
                stream_insert: *symbol(&handle, b"chdb_stream_insert_n\0")?,
                stream_append: *symbol(&handle, b"chdb_stream_append\0")?,
                stream_done: *symbol(&handle, b"chdb_stream_done\0")?,
                stream_error: *symbol(&handle, b"chdb_stream_insert_error\0")?,
                stream_destroy: *symbol(&handle, b"chdb_destroy_insert_stream\0")?,
                arrow_array_scan: *symbol(&handle, b"chdb_arrow_array_scan\0")?,
                arrow_unregister: *symbol(&handle, b"chdb_arrow_unregister_table\0")?,
                _handle: handle,
            };
            // ClickHouse otherwise installs process-wide signal handlers, which
            // would take SIGINT/SIGTERM away from the server's own shutdown.
            if let Ok(disable) =
                symbol::<SignalsFn>(&library._handle, b"chdb_set_signal_handlers_enabled\0")
            {
                disable(0);
            }
            Ok(library)
        }
    }
}

/// # Safety
/// `T` must be the symbol's real type.
unsafe fn symbol<'l, T>(
    library: &'l libloading::Library,
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
