//! What a client connection carries between statements. Uses only the
//! catalog's and planner's name types.

use std::collections::BTreeMap;

/// Settings only kafkahouse reads: a `SET` of them is answered by
/// kafkahouse, and they never reach the backend, whose ClickHouse would
/// refuse a setting it does not know.
pub const KAFKAHOUSE_SETTINGS: [&str; 2] = [REQUIRE_EXACTLY_ONCE, VIEW_ENGINE];

/// 1: a view that would deliver at least once is refused at CREATE instead
/// of created with a warning.
pub const REQUIRE_EXACTLY_ONCE: &str = "kafka_require_exactly_once";

/// Which engine runs a view created in this session: `auto` (the default:
/// DataFusion when everything the SELECT uses runs there exactly as in
/// ClickHouse, else the embedded ClickHouse engine), `datafusion` or
/// `clickhouse`.
pub const VIEW_ENGINE: &str = "kafka_view_engine";

/// Whether `name` is one of [`KAFKAHOUSE_SETTINGS`].
pub fn is_kafkahouse_setting(name: &str) -> bool {
    KAFKAHOUSE_SETTINGS.contains(&name)
}

/// The current database and the settings a client changed with `SET`; sent
/// with every statement the session forwards.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionState {
    pub database: String,
    pub settings: BTreeMap<String, String>,
    /// kafkahouse's own settings (see [`KAFKAHOUSE_SETTINGS`]), kept apart
    /// from `settings` because those go to the backend.
    pub kafkahouse_settings: BTreeMap<String, String>,
}

impl SessionState {
    pub fn new(database: impl Into<String>) -> Self {
        Self {
            database: database.into(),
            settings: BTreeMap::new(),
            kafkahouse_settings: BTreeMap::new(),
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

    /// Whether kafkahouse's own setting `name` is on (1 or true).
    pub fn kafkahouse_flag(&self, name: &str) -> bool {
        self.kafkahouse_settings
            .get(name)
            .is_some_and(|v| v.trim() == "1" || v.trim().eq_ignore_ascii_case("true"))
    }

    /// kafkahouse's own setting `name` as set, trimmed and lower-cased.
    pub fn kafkahouse_value(&self, name: &str) -> Option<String> {
        self.kafkahouse_settings
            .get(name)
            .map(|v| v.trim().to_ascii_lowercase())
    }

    /// Whether the session is `readonly` (1 or 2, as ClickHouse counts it; a
    /// GET request over HTTP is readonly = 2).
    pub fn readonly(&self) -> bool {
        self.settings
            .get("readonly")
            .is_some_and(|v| !matches!(v.trim(), "" | "0" | "false"))
    }
}
