//! Cutting a query string into statements and classifying each one.
//!
//! Works on sqlparser's ClickHouse tokenizer rather than its parser: the
//! parser rejects much of what ClickHouse accepts (table-level SETTINGS after
//! ENGINE, DETACH/ATTACH, SYSTEM, ...), and whatever we cannot classify is
//! still forwarded, as written, for the backend to judge.

mod classify;

use crate::cut::cut;
pub use crate::cut::MAX_QUERY_SIZE;
use crate::ddl::{CreateKafkaTable, CreateView, DdlError, NamedCollectionStatement};
pub use classify::{insert_target_span, table_references, without_output_format};
pub(crate) use classify::{literal_value, table_reference_tokens};

/// One statement of a query string, with the text to forward verbatim.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement<'a> {
    /// The statement as the user wrote it, without surrounding whitespace and
    /// the terminating `;`. For `INSERT ... VALUES | FORMAT X` it includes
    /// the data.
    pub sql: &'a str,
    /// The start of `sql` that is SQL: all of it, but for an INSERT with
    /// data, where it stops before the data (`INSERT INTO t VALUES`). At most
    /// `max_query_size` bytes: what to tokenize when looking into a statement.
    pub query: &'a str,
    pub kind: Kind,
}

/// `[database.]name` as written (quotes removed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectName {
    pub database: Option<String>,
    pub name: String,
}

/// What a statement is, as far as kafkahouse needs to know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    /// `USE db`: changes the session's current database.
    Use { database: String },
    /// `SET name = value, ...`: changes session settings.
    Set { settings: Vec<Setting> },
    /// A statement that returns rows (SELECT, WITH, SHOW, DESCRIBE, EXISTS,
    /// EXPLAIN). `format` is set when the user asked for an output format;
    /// `tables` are the tables named after FROM or JOIN.
    Query {
        format: Option<String>,
        tables: Vec<ObjectName>,
        /// The query's own top-level `SETTINGS name = value, ...`.
        settings: Vec<Setting>,
    },
    /// `DESCRIBE [TABLE] name` of a plain table name.
    Describe { name: ObjectName },
    /// `EXISTS [TABLE] name`.
    Exists { name: ObjectName },
    /// `SHOW CREATE [TABLE] name`.
    ShowCreate { name: ObjectName },
    /// `SHOW TABLES [FROM|IN db]`, without filters.
    ShowTables { database: Option<String> },
    /// `INSERT INTO name ...`, with or without inline data.
    Insert {
        /// `None` for `INSERT INTO FUNCTION ...`.
        table: Option<ObjectName>,
        /// Where the table's name (`[db.]name`) sits in the statement's text.
        target: Option<std::ops::Range<usize>>,
        /// The column list, as written; empty when there is none.
        columns: Vec<String>,
        /// `FORMAT Name` ending the SQL part.
        format: Option<InsertFormat>,
        /// The statement ends with `VALUES` or `FORMAT Name` and no data:
        /// the client sends the rows (the native protocol's blocks).
        client_sends_rows: bool,
    },
    /// `CREATE TABLE ... ENGINE = Kafka ...`, read (or why it does not read).
    CreateKafkaTable(Result<Box<CreateKafkaTable>, DdlError>),
    /// `CREATE MATERIALIZED VIEW ...` (whatever its source), read; one that
    /// does not read as a view kafkahouse handles is the backend's to judge.
    CreateMaterializedView(Result<Box<CreateView>, DdlError>),
    /// `DROP TABLE|VIEW [IF EXISTS] name`.
    Drop { name: ObjectName, if_exists: bool },
    /// `DROP DATABASE [IF EXISTS] name`.
    DropDatabase { database: String },
    /// `DETACH TABLE|VIEW [IF EXISTS] name`.
    Detach { name: ObjectName, if_exists: bool },
    /// `ATTACH TABLE|VIEW [IF NOT EXISTS] name` (the short form, without a
    /// definition).
    Attach {
        name: ObjectName,
        if_not_exists: bool,
    },
    /// `ALTER TABLE name MODIFY SETTING k = v, ...` or `RESET SETTING k, ...`:
    /// kafkahouse's when `name` is a Kafka table, the backend's otherwise.
    AlterSettings {
        name: ObjectName,
        modify: Vec<Setting>,
        reset: Vec<String>,
    },
    /// `CREATE | ALTER | DROP NAMED COLLECTION ...`, read.
    NamedCollection(Result<NamedCollectionStatement, DdlError>),
    /// `SYSTEM SYNC KAFKA [db.]name [TIMEOUT seconds]`: waits until the
    /// table's consumers have caught up (kafkahouse's own statement). Also
    /// `SYSTEM SYNC REPLICA name` (`replica`), which clients whose parser
    /// predates SYNC KAFKA can send; on other tables it is the backend's.
    SyncKafka {
        name: ObjectName,
        timeout_seconds: Option<u64>,
        replica: bool,
    },
    /// Anything else: DDL and commands that return no rows.
    Other,
    /// SQL longer than `max_query_size` bytes: refused unread, as ClickHouse
    /// refuses it (Code 62, "Max query size exceeded").
    OverMaxQuerySize { max_query_size: usize },
}

impl Kind {
    /// The kind's name, for logs. Never the statement's parts: a Kafka
    /// table's or a named collection's settings may hold passwords.
    pub fn name(&self) -> &'static str {
        match self {
            Kind::Use { .. } => "Use",
            Kind::Set { .. } => "Set",
            Kind::Query { .. } => "Query",
            Kind::Describe { .. } => "Describe",
            Kind::Exists { .. } => "Exists",
            Kind::ShowCreate { .. } => "ShowCreate",
            Kind::ShowTables { .. } => "ShowTables",
            Kind::Insert { .. } => "Insert",
            Kind::CreateKafkaTable(_) => "CreateKafkaTable",
            Kind::CreateMaterializedView(_) => "CreateMaterializedView",
            Kind::Drop { .. } => "Drop",
            Kind::DropDatabase { .. } => "DropDatabase",
            Kind::Detach { .. } => "Detach",
            Kind::Attach { .. } => "Attach",
            Kind::AlterSettings { .. } => "AlterSettings",
            Kind::NamedCollection(_) => "NamedCollection",
            Kind::SyncKafka { .. } => "SyncKafka",
            Kind::Other => "Other",
            Kind::OverMaxQuerySize { .. } => "OverMaxQuerySize",
        }
    }

    /// Whether the statement answers with rows.
    pub fn returns_rows(&self) -> bool {
        matches!(
            self,
            Kind::Query { .. }
                | Kind::Describe { .. }
                | Kind::Exists { .. }
                | Kind::ShowCreate { .. }
                | Kind::ShowTables { .. }
        )
    }
}

impl<'a> Statement<'a> {
    /// The output format the statement names (`... FORMAT JSONEachRow`), for
    /// the statements that answer with rows.
    pub fn output_format(&self) -> Option<String> {
        match &self.kind {
            Kind::Query { format, .. } => format.clone(),
            Kind::Describe { .. } | Kind::Exists { .. } | Kind::ShowCreate { .. } => {
                classify::output_format(&crate::tokens::significant(self.query))
            }
            _ => None,
        }
    }

    /// A statement that is all SQL (no INSERT data).
    pub fn new(sql: &'a str, kind: Kind) -> Self {
        Statement {
            sql,
            query: sql,
            kind,
        }
    }

    /// The INSERT data after the SQL (empty when there is none).
    pub fn data(&self) -> &'a str {
        self.sql[self.query.len()..].trim_start()
    }

    /// The statement for a client that formats results itself: a query's
    /// own `FORMAT Name` removed (its other parts as they are).
    pub fn without_format(&self) -> Statement<'a> {
        match &self.kind {
            Kind::Query {
                format: Some(_),
                tables,
                settings,
            } => Statement::new(
                without_output_format(self.sql),
                Kind::Query {
                    format: None,
                    tables: tables.clone(),
                    settings: settings.clone(),
                },
            ),
            _ => self.clone(),
        }
    }

    /// `INSERT INTO t [(columns)] VALUES | FORMAT Name` without data: the
    /// client sends the rows; these are the columns it names (empty: all).
    pub fn rows_from_client(&self) -> Option<&[String]> {
        match &self.kind {
            Kind::Insert {
                client_sends_rows: true,
                columns,
                ..
            } => Some(columns),
            _ => None,
        }
    }

    /// An INSERT ending with `FORMAT Name` and no data: the SQL before
    /// FORMAT and the format (the data comes separately, as over HTTP).
    pub fn insert_awaiting_format(&self) -> Option<(&'a str, &str)> {
        match &self.kind {
            Kind::Insert {
                format: Some(format),
                ..
            } if self.data().is_empty() && self.query.len() >= format.at => {
                Some((self.query[..format.at].trim_end(), format.name.as_str()))
            }
            _ => None,
        }
    }
}

/// `FORMAT Name` of an INSERT.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InsertFormat {
    pub name: String,
    /// Where the `FORMAT` keyword starts in the statement's text.
    pub at: usize,
}

/// One `name = value` of a SET statement; `value` has quotes removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Setting {
    pub name: String,
    pub value: String,
}

/// Splits `text` into statements, reading at most [`MAX_QUERY_SIZE`] bytes
/// of each one's SQL (see [`statements`]).
pub fn split(text: &str) -> Vec<Statement<'_>> {
    statements(text, MAX_QUERY_SIZE).collect()
}

/// The statements of `text`, one at a time. Never fails: text the tokenizer
/// cannot read becomes one statement that runs to the end, for the backend to
/// judge. A statement whose SQL (INSERT data aside) is longer than
/// `max_query_size` is [`Kind::OverMaxQuerySize`] and is the last one:
/// nothing past the limit is tokenized.
pub fn statements(text: &str, max_query_size: usize) -> impl Iterator<Item = Statement<'_>> {
    cut(text, max_query_size).filter_map(move |c| {
        let whole = text[c.start..c.end].trim();
        let sql = whole.strip_suffix(';').map(str::trim_end).unwrap_or(whole);
        if c.oversized {
            return Some(Statement {
                sql,
                query: "",
                kind: Kind::OverMaxQuerySize { max_query_size },
            });
        }
        // Text that is only comments is no statement.
        if c.tokens.is_empty() {
            return None;
        }
        let query_len = text[c.start..c.query_end.min(c.end)].trim().len();
        let query = &sql[..query_len.min(sql.len())];
        // Offsets into `sql` rather than the whole text.
        let offset = sql.as_ptr() as usize - text.as_ptr() as usize;
        let mut tokens = c.tokens;
        for t in &mut tokens {
            t.start -= offset;
            t.end -= offset;
        }
        let mut kind = classify::classify(query, &tokens);
        if let Kind::Insert {
            client_sends_rows, ..
        } = &mut kind
        {
            *client_sends_rows &= query.len() == sql.len();
        }
        Some(Statement { sql, query, kind })
    })
}

#[cfg(test)]
mod tests;
