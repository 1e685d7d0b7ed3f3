//! The catalog of one instance: `<dir>/catalog.json`, read at start and
//! rewritten whole (temporary file, sync, rename) on every change, so a crash
//! leaves either the old or the new catalog. With a key, secrets are sealed
//! in the file (`sealing.rs`). Uses serde, the sealing and the store's state.

use std::fs;
use std::io::Write;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::{Catalog, CatalogError, Definition, NamedCollection, State, Store};
use crate::sealing::{self, SecretKey};

#[derive(Serialize, Deserialize)]
struct CatalogFile {
    version: u32,
    definitions: Vec<Definition>,
    /// Absent in catalogs written before named collections existed.
    #[serde(default)]
    named_collections: Vec<NamedCollection>,
}

pub(super) const FILE_NAME: &str = "catalog.json";
const FORMAT_VERSION: u32 = 1;

impl Catalog {
    /// Opens the catalog in `dir`, creating the directory when missing.
    pub fn open(dir: &Path) -> Result<Catalog, CatalogError> {
        Catalog::open_sealed(dir, None)
    }

    /// Opens the catalog in `dir`; with `key`, secrets are sealed in the
    /// file (those a file written without a key holds are sealed now).
    pub fn open_sealed(dir: &Path, key: Option<SecretKey>) -> Result<Catalog, CatalogError> {
        fs::create_dir_all(dir).map_err(|source| CatalogError::Write {
            path: dir.to_path_buf(),
            source,
        })?;
        let path = dir.join(FILE_NAME);
        let state = match fs::read(&path) {
            Ok(bytes) => {
                let mut file: CatalogFile =
                    serde_json::from_slice(&bytes).map_err(|source| CatalogError::Corrupt {
                        path: path.clone(),
                        source,
                    })?;
                for d in &mut file.definitions {
                    sealing::open_definition(d, key.as_ref())?;
                }
                for c in &mut file.named_collections {
                    sealing::open_collection(c, key.as_ref())?;
                }
                State {
                    definitions: file
                        .definitions
                        .into_iter()
                        .map(|d| (d.name().clone(), d))
                        .collect(),
                    collections: file
                        .named_collections
                        .into_iter()
                        .map(|c| (c.name.clone(), c))
                        .collect(),
                    ..State::default()
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => State::default(),
            Err(source) => return Err(CatalogError::Read { path, source }),
        };
        tracing::debug!(path = %path.display(), count = state.definitions.len(), "catalog opened");
        if key.is_some() && path.exists() {
            persist(&path, key.as_ref(), &state)?;
        }
        Ok(Catalog::with_store(Store::File { path, key }, state))
    }
}

/// Writes `state` to `path` through a synced temporary file, secrets
/// sealed with `key` when there is one.
pub(super) fn persist(
    path: &Path,
    key: Option<&SecretKey>,
    state: &State,
) -> Result<(), CatalogError> {
    let write_err = |source| CatalogError::Write {
        path: path.to_path_buf(),
        source,
    };
    let mut file = CatalogFile {
        version: FORMAT_VERSION,
        definitions: state.definitions.values().cloned().collect(),
        named_collections: state.collections.values().cloned().collect(),
    };
    if key.is_some() {
        for d in &mut file.definitions {
            sealing::seal_definition(d, key)?;
        }
        for c in &mut file.named_collections {
            sealing::seal_collection(c, key)?;
        }
    }
    let bytes = serde_json::to_vec_pretty(&file).map_err(|e| write_err(e.into()))?;
    let tmp = path.with_extension("json.tmp");
    {
        // Engine settings can hold a SASL password: owner-only file.
        let mut options = fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut f = options.open(&tmp).map_err(write_err)?;
        f.write_all(&bytes).map_err(write_err)?;
        f.sync_all().map_err(write_err)?;
    }
    fs::rename(&tmp, path).map_err(write_err)?;
    if let Some(dir) = path.parent() {
        fs::File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(write_err)?;
    }
    Ok(())
}
