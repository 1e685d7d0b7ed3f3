//! Which delivery guarantee a view into a ClickHouse table has, and why.
//!
//! A block replayed after a crash or a rebalance carries the same
//! `insert_deduplication_token` as its first attempt (see `consumer`), so a
//! destination that deduplicates drops it: exactly once. That needs a server
//! that knows the setting (ClickHouse 22.2 and later) and a destination that
//! keeps a deduplication window: a Replicated table (it always does), or a
//! MergeTree-family table with `non_replicated_deduplication_window > 0`.
//! On the embedded engine, which is kafkahouse's own, a view's MergeTree
//! destination gets that window when the view starts (visible in SHOW CREATE
//! TABLE); a remote server's tables are the user's, and are only checked.
//! Uses the backend session and the catalog's quoting.

use catalog::{quote, QualifiedName};

use crate::backend::{tsv, BackendSession, RESULT_FORMAT};
use crate::error::ChError;
use crate::session::SessionState;

/// Why a view is at least once on a broker that dropped the offset-commit
/// metadata its block in flight is recorded in (the consumer's exception
/// says the same).
pub const DROPPED_METADATA: &str = "the broker drops offset-commit metadata, where the block in flight is recorded: after a crash that block may be cut afresh and written twice";

/// How many recent blocks a MergeTree destination remembers, when
/// kafkahouse sets the window: ClickHouse's default for Replicated tables.
pub const DEDUPLICATION_WINDOW: u64 = 1000;

/// A view's delivery guarantee.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Guarantee {
    /// Replays are dropped by the destination.
    ExactlyOnce,
    /// Replays after a crash or rebalance may write rows again.
    AtLeastOnce { reason: String },
}

impl Guarantee {
    /// `exactly_once` or `at_least_once`, as system tables show it.
    pub fn name(&self) -> &'static str {
        match self {
            Guarantee::ExactlyOnce => "exactly_once",
            Guarantee::AtLeastOnce { .. } => "at_least_once",
        }
    }

    /// Why it is not exactly once (empty when it is).
    pub fn reason(&self) -> &str {
        match self {
            Guarantee::ExactlyOnce => "",
            Guarantee::AtLeastOnce { reason } => reason,
        }
    }
}

/// What the backend says of a destination table.
struct Destination {
    engine: String,
    /// `non_replicated_deduplication_window` from its SETTINGS, 0 if unset.
    window: u64,
}

/// The guarantee a view into `destination` has. With `may_set_window` (the
/// embedded engine), a MergeTree destination without a window gets one
/// first.
pub async fn prepare(
    session: &mut dyn BackendSession,
    destination: &QualifiedName,
    may_set_window: bool,
) -> Result<Guarantee, ChError> {
    if !knows_tokens(session).await? {
        let version = single(session, "SELECT version()").await?;
        return Ok(Guarantee::AtLeastOnce {
            reason: format!(
                "server {version} has no insert_deduplication_token (ClickHouse 22.2 and later have it)"
            ),
        });
    }
    let Some(found) = describe(session, destination).await? else {
        return Ok(Guarantee::AtLeastOnce {
            reason: format!("{destination} is not a table kafkahouse can check"),
        });
    };
    if found.engine.starts_with("Replicated") {
        return Ok(Guarantee::ExactlyOnce);
    }
    if !found.engine.ends_with("MergeTree") {
        return Ok(Guarantee::AtLeastOnce {
            reason: format!("{destination} is {} (no deduplication)", found.engine),
        });
    }
    if found.window > 0 {
        return Ok(Guarantee::ExactlyOnce);
    }
    if may_set_window {
        let sql = format!(
            "ALTER TABLE {} MODIFY SETTING non_replicated_deduplication_window = {DEDUPLICATION_WINDOW}",
            quote::qualified(&destination.database, &destination.name)
        );
        session
            .execute(&sql, &SessionState::new("default"), RESULT_FORMAT)
            .await?;
        tracing::info!(table = %destination, window = DEDUPLICATION_WINDOW, "deduplication window set for exactly-once delivery");
        return Ok(Guarantee::ExactlyOnce);
    }
    Ok(Guarantee::AtLeastOnce {
        reason: format!(
            "{destination} is {} without non_replicated_deduplication_window",
            found.engine
        ),
    })
}

/// Whether the server knows `insert_deduplication_token`.
async fn knows_tokens(session: &mut dyn BackendSession) -> Result<bool, ChError> {
    let n = single(
        session,
        "SELECT count() FROM system.settings WHERE name = 'insert_deduplication_token'",
    )
    .await?;
    Ok(n == "1")
}

/// The destination's engine and deduplication window; `None` when the
/// backend lists no such table.
async fn describe(
    session: &mut dyn BackendSession,
    table: &QualifiedName,
) -> Result<Option<Destination>, ChError> {
    let sql = format!(
        "SELECT engine, engine_full FROM system.tables WHERE database = {} AND name = {}",
        quote::string(&table.database),
        quote::string(&table.name)
    );
    let out = session
        .execute(&sql, &SessionState::new("default"), RESULT_FORMAT)
        .await?;
    let parsed = tsv::parse(&out.body)?;
    let Some(row) = parsed.rows.first() else {
        return Ok(None);
    };
    let engine = row.first().cloned().flatten().unwrap_or_default();
    let full = row.get(1).cloned().flatten().unwrap_or_default();
    Ok(Some(Destination {
        engine,
        window: window_of(&full),
    }))
}

/// `non_replicated_deduplication_window = N` in an engine's full text.
fn window_of(engine_full: &str) -> u64 {
    const NAME: &str = "non_replicated_deduplication_window";
    engine_full
        .find(NAME)
        .map(|at| &engine_full[at + NAME.len()..])
        .and_then(|rest| rest.trim_start().strip_prefix('='))
        .and_then(|rest| {
            let digits: String = rest
                .trim_start()
                .chars()
                .take_while(char::is_ascii_digit)
                .collect();
            digits.parse().ok()
        })
        .unwrap_or(0)
}

/// The first value of a one-row answer.
async fn single(session: &mut dyn BackendSession, sql: &str) -> Result<String, ChError> {
    let out = session
        .execute(sql, &SessionState::new("default"), "TabSeparated")
        .await?;
    Ok(String::from_utf8_lossy(&out.body).trim().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_is_read_off_the_engine_text() {
        assert_eq!(
            window_of("MergeTree ORDER BY a SETTINGS index_granularity = 8192, non_replicated_deduplication_window = 1000"),
            1000
        );
        assert_eq!(
            window_of("MergeTree ORDER BY a SETTINGS index_granularity = 8192"),
            0
        );
        assert_eq!(
            window_of("MergeTree SETTINGS non_replicated_deduplication_window=7"),
            7
        );
    }
}
