//! The chDB binding: ClickHouse's engine from libchdb, loaded at run time,
//! behind a safe API (`Library`, `Engine`, `Connection`). Every `unsafe` of
//! the embedded engine is in this module.
//!
//! libchdb ships no header and is 566 MB, so it is opened with `libloading`
//! rather than linked: the binary builds without it and says clearly when it
//! is missing. This is the bottom floor: it uses only `crate::error` and
//! external crates, and knows nothing of backends, sessions or Kafka.

mod connection;
mod library;

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::error::{codes, ChError};

pub use connection::{Connection, Output};
pub use library::Library;

/// libchdb and the directory its data lives in, loaded on the first
/// connection: a server that never needs the embedded engine (a remote
/// backend, no engine-parsed formats) never loads it.
pub struct Engine {
    library_path: PathBuf,
    data_path: PathBuf,
    /// Set once the library is loaded and the data directory exists; a
    /// failed load is retried on the next connection.
    library: Mutex<Option<&'static Library>>,
}

impl Engine {
    /// Loads nothing yet.
    pub fn new(library_path: PathBuf, data_path: PathBuf) -> Engine {
        Engine {
            library_path,
            data_path,
            library: Mutex::new(None),
        }
    }

    /// Where libchdb is loaded from.
    pub fn library_path(&self) -> &Path {
        &self.library_path
    }

    /// Where the engine keeps its data.
    pub fn data_path(&self) -> &Path {
        &self.data_path
    }

    /// A connection of its own, loading the library and creating the data
    /// directory on first use (blocking: call it off the async workers).
    pub fn connect(&self) -> Result<Connection, ChError> {
        let library = {
            let mut library = self.library.lock().unwrap_or_else(|p| p.into_inner());
            match *library {
                Some(loaded) => loaded,
                None => {
                    std::fs::create_dir_all(&self.data_path).map_err(|e| {
                        ChError::new(
                            codes::BAD_ARGUMENTS,
                            format!("Cannot create {}: {e}", self.data_path.display()),
                        )
                    })?;
                    let loaded = Library::load(&self.library_path)?;
                    *library = Some(loaded);
                    loaded
                }
            }
        };
        Connection::open(library, &self.data_path)
    }
}
