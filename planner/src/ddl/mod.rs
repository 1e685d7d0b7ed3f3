//! The DDL kafkahouse handles itself: `CREATE TABLE ... ENGINE = Kafka`,
//! `CREATE MATERIALIZED VIEW ...` and named collections. Read from the tokens
//! the statement was cut with (sqlparser's parser rejects table-level
//! SETTINGS after ENGINE), so a statement is tokenized once on its way.
//! Uses the tokenizer and `split`'s statement types.

mod collection;
mod cursor;
mod kafka_table;
mod view;

use crate::split::{ObjectName, Setting};
use crate::tokens::{significant, Tok};

/// A statement that looked like one we handle but does not read as one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Syntax error: {0}")]
pub struct DdlError(pub String);

/// `CREATE TABLE [IF NOT EXISTS] [db.]name (columns) ENGINE = Kafka[(args)] [SETTINGS ...]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateKafkaTable {
    pub if_not_exists: bool,
    pub name: ObjectName,
    /// Column names and their types as written.
    pub columns: Vec<(String, String)>,
    /// Columns written with an expression clause (`DEFAULT expr`,
    /// `MATERIALIZED`, `EPHEMERAL`, `ALIAS`), which a Kafka table cannot
    /// have (see `ColumnExpression`); CODEC, TTL and COMMENT are ignored.
    pub expressions: Vec<(String, ColumnExpression)>,
    /// The engine's positional arguments, as literal values.
    pub engine_args: Vec<String>,
    /// `ENGINE = Kafka(collection [, key = value ...])`: a named collection
    /// and the settings given with it, which override the collection's.
    pub collection: Option<(String, Vec<Setting>)>,
    pub settings: Vec<Setting>,
}

/// A column clause that gives the column a value from an expression.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnExpression {
    Default,
    Materialized,
    Ephemeral,
    Alias,
}

/// `CREATE`, `ALTER` or `DROP NAMED COLLECTION`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NamedCollectionStatement {
    /// `CREATE NAMED COLLECTION [IF NOT EXISTS] name [ON CLUSTER c] AS k = v [[NOT] OVERRIDABLE], ...`
    Create {
        name: String,
        if_not_exists: bool,
        params: Vec<Setting>,
        /// Keys written `NOT OVERRIDABLE`: a table may not override them.
        not_overridable: Vec<String>,
    },
    /// `ALTER NAMED COLLECTION [IF EXISTS] name [ON CLUSTER c] [SET k = v, ...] [DELETE k, ...]`
    Alter {
        name: String,
        if_exists: bool,
        set: Vec<Setting>,
        delete: Vec<String>,
        /// Keys set `NOT OVERRIDABLE`; the others set become overridable.
        not_overridable: Vec<String>,
    },
    /// `DROP NAMED COLLECTION [IF EXISTS] name [ON CLUSTER c]`
    Drop { name: String, if_exists: bool },
}

/// `CREATE MATERIALIZED VIEW [IF NOT EXISTS] [db.]name TO [db.]dest [(cols)] AS SELECT ...`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateView {
    pub if_not_exists: bool,
    pub name: ObjectName,
    /// The destination; `None` for a view with its own inner engine.
    pub to: Option<ObjectName>,
    /// The SELECT as written, without a trailing `FORMAT name`.
    pub select_sql: String,
    /// The trailing `FORMAT name` of the SELECT, which ClickHouse ignores.
    pub format: Option<String>,
    /// The first table the SELECT reads (after FROM or JOIN).
    pub source: Option<ObjectName>,
    /// The SELECT parsed from the same tokens, for planning; the parser's
    /// message when it does not parse.
    pub select: Result<Box<sqlparser::ast::Statement>, String>,
}

/// Reads a Kafka table definition from its text.
pub fn parse_create_kafka_table(sql: &str) -> Result<CreateKafkaTable, DdlError> {
    kafka_table::parse(sql, &significant(sql))
}

/// Reads a `CREATE | ALTER | DROP NAMED COLLECTION` statement from its text.
pub fn parse_named_collection(sql: &str) -> Result<NamedCollectionStatement, DdlError> {
    collection::parse(sql, &significant(sql))
}

/// Reads a materialized view definition from its text.
pub fn parse_create_materialized_view(sql: &str) -> Result<CreateView, DdlError> {
    view::parse(sql, &significant(sql))
}

/// The same three readers over tokens already read (offsets into `sql`).
pub(crate) fn kafka_table(sql: &str, tokens: &[Tok]) -> Result<CreateKafkaTable, DdlError> {
    kafka_table::parse(sql, tokens)
}

pub(crate) fn named_collection(
    sql: &str,
    tokens: &[Tok],
) -> Result<NamedCollectionStatement, DdlError> {
    collection::parse(sql, tokens)
}

pub(crate) fn materialized_view(sql: &str, tokens: &[Tok]) -> Result<CreateView, DdlError> {
    view::parse(sql, tokens)
}

#[cfg(test)]
mod tests;
