//! What a client connection carries between statements. Uses only the
//! catalog's and planner's name types.

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

    /// `[db.]name` with the session's database filled in.
    pub fn qualify(&self, name: &planner::ObjectName) -> catalog::QualifiedName {
        catalog::QualifiedName::new(
            name.database
                .clone()
                .unwrap_or_else(|| self.database.clone()),
            name.name.clone(),
        )
    }

    /// Whether the session is `readonly` (1 or 2, as ClickHouse counts it; a
    /// GET request over HTTP is readonly = 2).
    pub fn readonly(&self) -> bool {
        self.settings
            .get("readonly")
            .is_some_and(|v| !matches!(v.trim(), "" | "0" | "false"))
    }
}
