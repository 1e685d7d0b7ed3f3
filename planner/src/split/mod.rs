//! Cutting a query string into statements and classifying each one.
//!
//! Works on sqlparser's ClickHouse tokenizer rather than its parser: the
//! parser rejects much of what ClickHouse accepts (table-level SETTINGS after
//! ENGINE, DETACH/ATTACH, SYSTEM, ...), and whatever we cannot classify is
//! still forwarded, as written, for the backend to judge.

use sqlparser::keywords::Keyword;
use sqlparser::tokenizer::Token;

use crate::cut::cut;
pub use crate::cut::MAX_QUERY_SIZE;
use crate::tokens::{significant, significant_prefix, Tok};

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
    Insert { table: Option<ObjectName> },
    /// `CREATE TABLE ... ENGINE = Kafka ...`.
    CreateKafkaTable,
    /// `CREATE MATERIALIZED VIEW ...` (whatever its source).
    CreateMaterializedView,
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
    /// `CREATE | ALTER | DROP NAMED COLLECTION ...`.
    NamedCollection,
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
        Some(Statement {
            sql,
            query: &sql[..query_len.min(sql.len())],
            kind: classify(&c.tokens),
        })
    })
}

fn classify(tokens: &[Tok]) -> Kind {
    let Some(first) = tokens.first() else {
        return Kind::Other;
    };
    if first.token == Token::LParen {
        return query(tokens);
    }
    let Some(keyword) = first.keyword() else {
        return Kind::Other;
    };
    let rest = &tokens[1..];
    match keyword {
        Keyword::SELECT | Keyword::WITH | Keyword::EXPLAIN => query(tokens),
        Keyword::SHOW => match rest {
            [t] if t.is_keyword(Keyword::TABLES) => Kind::ShowTables { database: None },
            [t, from, db]
                if t.is_keyword(Keyword::TABLES)
                    && (from.is_keyword(Keyword::FROM) || from.is_keyword(Keyword::IN)) =>
            {
                db.name()
                    .map(|d| Kind::ShowTables {
                        database: Some(d.to_string()),
                    })
                    .unwrap_or_else(|| query(tokens))
            }
            [c, ..] if c.is_keyword(Keyword::CREATE) => {
                simple_target(&rest[1..], &[Keyword::TABLE, Keyword::VIEW])
                    .map(|name| Kind::ShowCreate { name })
                    .unwrap_or_else(|| query(tokens))
            }
            _ => query(tokens),
        },
        Keyword::DESCRIBE | Keyword::DESC => simple_target(rest, &[Keyword::TABLE])
            .map(|name| Kind::Describe { name })
            .unwrap_or_else(|| query(tokens)),
        Keyword::EXISTS => simple_target(rest, &[Keyword::TABLE, Keyword::VIEW])
            .map(|name| Kind::Exists { name })
            .unwrap_or_else(|| query(tokens)),
        Keyword::INSERT => Kind::Insert {
            table: insert_target(rest),
        },
        Keyword::USE => match rest {
            [db] => db
                .name()
                .map(|d| Kind::Use {
                    database: d.to_string(),
                })
                .unwrap_or(Kind::Other),
            _ => Kind::Other,
        },
        Keyword::SET => parse_set(rest)
            .map(|settings| Kind::Set { settings })
            .unwrap_or(Kind::Other),
        Keyword::SYSTEM if is_word(rest.first(), "SYNC") && is_word(rest.get(1), "KAFKA") => {
            sync_kafka(&rest[2..], false).unwrap_or(Kind::Other)
        }
        Keyword::SYSTEM if is_word(rest.first(), "SYNC") && is_word(rest.get(1), "REPLICA") => {
            sync_kafka(&rest[2..], true).unwrap_or(Kind::Other)
        }
        Keyword::CREATE | Keyword::ALTER | Keyword::DROP if is_named_collection(rest) => {
            Kind::NamedCollection
        }
        Keyword::CREATE if is_materialized_view(rest) => Kind::CreateMaterializedView,
        Keyword::CREATE if is_kafka_engine(tokens) => Kind::CreateKafkaTable,
        Keyword::DROP
            if rest
                .first()
                .is_some_and(|t| t.is_keyword(Keyword::DATABASE)) =>
        {
            let mut at = 1;
            if rest.get(1).is_some_and(|t| t.is_keyword(Keyword::IF))
                && rest.get(2).is_some_and(|t| t.is_keyword(Keyword::EXISTS))
            {
                at = 3;
            }
            rest.get(at)
                .and_then(Tok::name)
                .map(|d| Kind::DropDatabase {
                    database: d.to_string(),
                })
                .unwrap_or(Kind::Other)
        }
        Keyword::DROP => object_statement(rest, &[Keyword::IF, Keyword::EXISTS])
            .map(|(name, flag)| Kind::Drop {
                name,
                if_exists: flag,
            })
            .unwrap_or(Kind::Other),
        Keyword::DETACH => object_statement(rest, &[Keyword::IF, Keyword::EXISTS])
            .map(|(name, flag)| Kind::Detach {
                name,
                if_exists: flag,
            })
            .unwrap_or(Kind::Other),
        Keyword::ATTACH => object_statement(rest, &[Keyword::IF, Keyword::NOT, Keyword::EXISTS])
            .filter(|_| {
                !rest
                    .iter()
                    .any(|t| t.token == Token::LParen || t.is_keyword(Keyword::AS))
            })
            .map(|(name, flag)| Kind::Attach {
                name,
                if_not_exists: flag,
            })
            .unwrap_or(Kind::Other),
        _ => Kind::Other,
    }
}

fn query(tokens: &[Tok]) -> Kind {
    Kind::Query {
        format: output_format(tokens),
        tables: referenced_tables(tokens),
    }
}

/// `[db.]name` at the start of `tokens`, and how many tokens it took.
fn object_name(tokens: &[Tok]) -> Option<(ObjectName, usize)> {
    let first = tokens.first()?.name()?.to_string();
    match (tokens.get(1), tokens.get(2).and_then(Tok::name)) {
        (Some(dot), Some(name)) if dot.token == Token::Period => Some((
            ObjectName {
                database: Some(first),
                name: name.to_string(),
            },
            3,
        )),
        _ => Some((
            ObjectName {
                database: None,
                name: first,
            },
            1,
        )),
    }
}

/// `[TABLE] [db.]name` and nothing else (then it is about one table).
fn simple_target(tokens: &[Tok], optional: &[Keyword]) -> Option<ObjectName> {
    let skip = usize::from(
        tokens
            .first()
            .is_some_and(|t| optional.iter().any(|k| t.is_keyword(*k))),
    );
    let (name, used) = object_name(&tokens[skip..])?;
    match &tokens[skip + used..] {
        [] => Some(name),
        // `DESCRIBE t FORMAT X` and the like go to the backend.
        _ => None,
    }
}

/// `TABLE|VIEW [flag words] [db.]name [ON CLUSTER ..|SYNC|PERMANENTLY ...]`.
fn object_statement(tokens: &[Tok], flag: &[Keyword]) -> Option<(ObjectName, bool)> {
    let kind = tokens.first()?;
    if !(kind.is_keyword(Keyword::TABLE) || kind.is_keyword(Keyword::VIEW)) {
        return None;
    }
    let mut rest = &tokens[1..];
    let has_flag = rest.len() > flag.len() && rest.iter().zip(flag).all(|(t, k)| t.is_keyword(*k));
    if has_flag {
        rest = &rest[flag.len()..];
    }
    let (name, _) = object_name(rest)?;
    Some((name, has_flag))
}

/// Where the target table's name (`[db.]name`) sits in the text of an
/// `INSERT INTO` statement, as a byte range, so that the statement can be
/// redirected to another table without touching the rest of the user's text.
pub fn insert_target_span(sql: &str) -> Option<std::ops::Range<usize>> {
    // The name comes before any data: never tokenize the data.
    let (tokens, _) = significant_prefix(sql, 0, MAX_QUERY_SIZE);
    let mut rest = tokens.get(1..)?;
    if !tokens.first()?.is_keyword(Keyword::INSERT) {
        return None;
    }
    for keyword in [Keyword::INTO, Keyword::TABLE] {
        if rest.first()?.is_keyword(keyword) {
            rest = &rest[1..];
        }
    }
    let (_, used) = object_name(rest)?;
    Some(rest[0].start..rest[used - 1].end)
}

fn insert_target(tokens: &[Tok]) -> Option<ObjectName> {
    let mut rest = tokens;
    if rest.first()?.is_keyword(Keyword::INTO) {
        rest = &rest[1..];
    }
    if rest.first()?.is_keyword(Keyword::TABLE) {
        rest = &rest[1..];
    }
    if rest.first()?.is_keyword(Keyword::FUNCTION) {
        return None;
    }
    object_name(rest).map(|(name, _)| name)
}

/// `sql` without a trailing top-level `FORMAT name` clause (which a
/// materialized view's SELECT may carry, and ClickHouse ignores there).
pub fn without_output_format(sql: &str) -> &str {
    let tokens = significant(sql);
    let mut depth = 0i32;
    for (i, t) in tokens.iter().enumerate() {
        match &t.token {
            Token::LParen => depth += 1,
            Token::RParen => depth -= 1,
            _ if depth == 0
                && t.is_keyword(Keyword::FORMAT)
                && tokens.get(i + 1).and_then(Tok::name).is_some()
                && tokens
                    .get(i + 2)
                    .is_none_or(|n| n.token == Token::SemiColon) =>
            {
                return sql[..t.start].trim_end();
            }
            _ => {}
        }
    }
    sql.trim_end().trim_end_matches(';').trim_end()
}

/// Tables named right after FROM or JOIN, with where their names sit in
/// `sql` (byte ranges), so that a query can be pointed at another table.
/// Reads at most [`MAX_QUERY_SIZE`] bytes: `sql` may be an INSERT with its data.
pub fn table_references(sql: &str) -> Vec<(ObjectName, std::ops::Range<usize>)> {
    table_reference_tokens(&significant_prefix(sql, 0, MAX_QUERY_SIZE).0)
}

/// Tables named right after FROM or JOIN (not subqueries or functions),
/// with their byte ranges.
fn table_reference_tokens(tokens: &[Tok]) -> Vec<(ObjectName, std::ops::Range<usize>)> {
    let mut found = Vec::new();
    for (i, t) in tokens.iter().enumerate() {
        if t.is_keyword(Keyword::FROM) || t.is_keyword(Keyword::JOIN) {
            if let Some((name, used)) = object_name(&tokens[i + 1..]) {
                let is_function = tokens
                    .get(i + 1 + used)
                    .is_some_and(|n| n.token == Token::LParen);
                if !is_function {
                    found.push((name, tokens[i + 1].start..tokens[i + used].end));
                }
            }
        }
    }
    found
}

/// Tables named right after FROM or JOIN (not subqueries or functions).
fn referenced_tables(tokens: &[Tok]) -> Vec<ObjectName> {
    table_reference_tokens(tokens)
        .into_iter()
        .map(|(name, _)| name)
        .collect()
}

/// `FORMAT Name` at the top level of a query, as the last clause (optionally
/// followed by SETTINGS). `format(...)` the function does not count.
fn output_format(tokens: &[Tok]) -> Option<String> {
    let mut depth = 0i32;
    for (i, t) in tokens.iter().enumerate() {
        match &t.token {
            Token::LParen => depth += 1,
            Token::RParen => depth -= 1,
            _ if depth == 0 && t.is_keyword(Keyword::FORMAT) => {
                if let Some(name) = tokens.get(i + 1).and_then(Tok::name) {
                    let ends = match tokens.get(i + 2) {
                        None => true,
                        Some(next) => next.is_keyword(Keyword::SETTINGS),
                    };
                    if ends {
                        return Some(name.to_string());
                    }
                }
            }
            _ => {}
        }
    }
    None
}

fn parse_set(tokens: &[Tok]) -> Option<Vec<Setting>> {
    let mut settings = Vec::new();
    let mut i = 0;
    loop {
        let name = tokens.get(i)?.name()?.to_string();
        if tokens.get(i + 1)?.token != Token::Eq {
            return None;
        }
        i += 2;
        let negative = tokens.get(i)?.token == Token::Minus;
        if negative {
            i += 1;
        }
        let value = literal_value(&tokens.get(i)?.token, negative)?;
        settings.push(Setting { name, value });
        i += 1;
        match tokens.get(i) {
            None => return Some(settings),
            Some(t) if t.token == Token::Comma => i += 1,
            Some(_) => return None,
        }
    }
}

/// The value of a literal token: numbers as written, strings unescaped,
/// bare words (true, best_effort) as they are.
pub(crate) fn literal_value(token: &Token, negative: bool) -> Option<String> {
    match token {
        Token::Number(n, _) if negative => Some(format!("-{n}")),
        Token::Number(n, _) => Some(n.clone()),
        Token::SingleQuotedString(s) if !negative => Some(catalog::quote::unescape(s)),
        Token::Word(w) if !negative && w.quote_style.is_none() => Some(w.value.clone()),
        _ => None,
    }
}


fn is_materialized_view(tokens: &[Tok]) -> bool {
    let mut rest = tokens;
    if rest.len() >= 2 && rest[0].is_keyword(Keyword::OR) && rest[1].is_keyword(Keyword::REPLACE) {
        rest = &rest[2..];
    }
    rest.len() >= 2
        && rest[0].is_keyword(Keyword::MATERIALIZED)
        && rest[1].is_keyword(Keyword::VIEW)
}

/// `CREATE ... ENGINE = Kafka` at the top level.
/// An unquoted word, compared without case (for words sqlparser does not
/// know as keywords).
fn is_word(t: Option<&Tok>, word: &str) -> bool {
    t.is_some_and(|t| {
        matches!(&t.token, Token::Word(w) if w.quote_style.is_none() && w.value.eq_ignore_ascii_case(word))
    })
}

/// `NAMED COLLECTION` right after CREATE, ALTER or DROP.
fn is_named_collection(rest: &[Tok]) -> bool {
    is_word(rest.first(), "NAMED") && is_word(rest.get(1), "COLLECTION")
}

/// `[db.]name [TIMEOUT n]` after `SYSTEM SYNC KAFKA` (or `REPLICA`).
fn sync_kafka(tokens: &[Tok], replica: bool) -> Option<Kind> {
    let (name, used) = object_name(tokens)?;
    let rest = &tokens[used..];
    let timeout_seconds = match rest {
        [] => None,
        [t, n] if is_word(Some(t), "TIMEOUT") => match &n.token {
            Token::Number(n, _) => Some(n.parse().ok()?),
            _ => return None,
        },
        _ => return None,
    };
    Some(Kind::SyncKafka {
        name,
        timeout_seconds,
        replica,
    })
}

fn is_kafka_engine(tokens: &[Tok]) -> bool {
    let mut depth = 0i32;
    for (i, t) in tokens.iter().enumerate() {
        match &t.token {
            Token::LParen => depth += 1,
            Token::RParen => depth -= 1,
            _ if depth == 0 && t.is_keyword(Keyword::ENGINE) => {
                let mut j = i + 1;
                if tokens.get(j).is_some_and(|e| e.token == Token::Eq) {
                    j += 1;
                }
                // Engine names are case-sensitive in ClickHouse.
                return tokens.get(j).and_then(Tok::name) == Some("Kafka");
            }
            _ => {}
        }
    }
    false
}

#[cfg(test)]
mod tests;
