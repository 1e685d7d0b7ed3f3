//! What a client connection carries between statements.

use std::collections::BTreeMap;

/// The current database and the settings a client changed with `SET`; sent
/// with every statement the session forwards.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionState {
    pub database: String,
    pub settings: BTreeMap<String, String>,
}

impl SessionState {
    pub fn new(database: impl Into<String>) -> Self {
        Self {
            database: database.into(),
            settings: BTreeMap::new(),
        }
    }
}
