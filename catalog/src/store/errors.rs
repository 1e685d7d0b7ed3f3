//! Why a catalog operation failed. Uses thiserror.

use std::path::PathBuf;

use super::QualifiedName;

/// Why a catalog operation failed.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error("Table {0} already exists")]
    AlreadyExists(QualifiedName),
    #[error("Table {0} does not exist")]
    NotFound(QualifiedName),
    #[error("A named collection `{0}` already exists")]
    CollectionExists(String),
    #[error("There is no named collection `{0}`")]
    NoCollection(String),
    /// ClickHouse's `NAMED_COLLECTION_IS_USED`, with its words.
    #[error("Named collection `{name}` {} tables: {}", if *detached { "may still be used by detached" } else { "is used by" }, tables.join(", "))]
    CollectionInUse {
        name: String,
        tables: Vec<String>,
        detached: bool,
    },
    /// The shared catalog's log could not be written or read.
    #[error("catalog log: {0}")]
    Journal(String),
    #[error(transparent)]
    Sealing(#[from] crate::sealing::SealError),
    #[error("cannot read catalog {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("catalog {path} is corrupt: {source}")]
    Corrupt {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("cannot write catalog {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}
