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
        Token::SingleQuotedString(s) if !negative => Some(unescape(s)),
        Token::Word(w) if !negative && w.quote_style.is_none() => Some(w.value.clone()),
        _ => None,
    }
}

/// Undoes ClickHouse string escapes (`\'`, `\\`, `''`, `\n`, `\t`).
pub(crate) fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some('n') => out.push('\n'),
                Some('t') => out.push('\t'),
                Some('r') => out.push('\r'),
                Some('0') => out.push('\0'),
                Some(other) => out.push(other),
                None => out.push('\\'),
            },
            '\'' if chars.peek() == Some(&'\'') => {
                chars.next();
                out.push('\'');
            }
            c => out.push(c),
        }
    }
    out
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
mod tests {
    use super::*;

    fn kinds(text: &str) -> Vec<(String, Kind)> {
        split(text)
            .into_iter()
            .map(|s| (s.sql.to_string(), s.kind))
            .collect()
    }

    fn name(database: Option<&str>, name: &str) -> ObjectName {
        ObjectName {
            database: database.map(str::to_string),
            name: name.to_string(),
        }
    }

    fn plain_query() -> Kind {
        Kind::Query {
            format: None,
            tables: vec![],
        }
    }

    #[test]
    fn one_statement_with_or_without_semicolon() {
        for text in ["SELECT 1", "SELECT 1;", "  SELECT 1 ;  \n", "SELECT 1;;"] {
            assert_eq!(
                kinds(text),
                vec![("SELECT 1".to_string(), plain_query())],
                "{text:?}"
            );
        }
    }

    #[test]
    fn empty_and_comment_only_text_has_no_statements() {
        assert!(split("").is_empty());
        assert!(split(" ; ;\n").is_empty());
        assert!(split("-- nothing\n/* at all */").is_empty());
    }

    #[test]
    fn several_statements_split_on_semicolons_outside_strings() {
        let got = kinds("CREATE DATABASE KafkaEngine; USE KafkaEngine; SELECT 'a;b' AS s");
        assert_eq!(got.len(), 3);
        assert_eq!(got[0], ("CREATE DATABASE KafkaEngine".into(), Kind::Other));
        assert_eq!(
            got[1],
            (
                "USE KafkaEngine".into(),
                Kind::Use {
                    database: "KafkaEngine".into()
                }
            )
        );
        assert_eq!(got[2].0, "SELECT 'a;b' AS s");
    }

    #[test]
    fn use_accepts_quoted_names() {
        assert_eq!(
            kinds("USE `my db`")[0].1,
            Kind::Use {
                database: "my db".into()
            }
        );
    }

    #[test]
    fn set_statements_are_parsed() {
        assert_eq!(
            kinds("SET max_threads = 4, date_time_input_format = 'best_effort', x = -1")[0].1,
            Kind::Set {
                settings: vec![
                    Setting {
                        name: "max_threads".into(),
                        value: "4".into()
                    },
                    Setting {
                        name: "date_time_input_format".into(),
                        value: "best_effort".into()
                    },
                    Setting {
                        name: "x".into(),
                        value: "-1".into()
                    },
                ]
            }
        );
        // Not a plain assignment: forwarded as is.
        assert_eq!(kinds("SET ROLE admin")[0].1, Kind::Other);
    }

    #[test]
    fn output_format_is_detected_only_as_a_clause() {
        let format = |text: &str| match &kinds(text)[0].1 {
            Kind::Query { format, .. } => format.clone(),
            other => panic!("{text}: {other:?}"),
        };
        assert_eq!(
            format("SELECT count() FROM github FORMAT JSONEachRow").as_deref(),
            Some("JSONEachRow")
        );
        assert_eq!(format("SELECT format('{}', 'x')"), None);
        assert_eq!(
            format("SELECT 1 FORMAT CSV SETTINGS max_threads = 1").as_deref(),
            Some("CSV")
        );
        assert_eq!(
            kinds("SHOW TABLES")[0].1,
            Kind::ShowTables { database: None }
        );
        assert_eq!(
            kinds("SHOW TABLES FROM KafkaEngine")[0].1,
            Kind::ShowTables {
                database: Some("KafkaEngine".into())
            }
        );
        assert_eq!(
            format("SHOW TABLES LIKE 'g%' FORMAT CSV").as_deref(),
            Some("CSV")
        );
    }

    #[test]
    fn tables_of_a_query() {
        match &kinds("SELECT * FROM KafkaEngine.github_queue AS q JOIN other o ON 1 WHERE x IN (SELECT y FROM numbers(3))")[0].1 {
            Kind::Query { tables, .. } => assert_eq!(
                tables,
                &vec![name(Some("KafkaEngine"), "github_queue"), name(None, "other")]
            ),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn statements_about_one_table() {
        assert_eq!(
            kinds("DESCRIBE TABLE q")[0].1,
            Kind::Describe {
                name: name(None, "q")
            }
        );
        assert_eq!(
            kinds("DESC db.q")[0].1,
            Kind::Describe {
                name: name(Some("db"), "q")
            }
        );
        assert_eq!(
            kinds("EXISTS TABLE q")[0].1,
            Kind::Exists {
                name: name(None, "q")
            }
        );
        assert_eq!(
            kinds("SHOW CREATE TABLE q")[0].1,
            Kind::ShowCreate {
                name: name(None, "q")
            }
        );
        assert_eq!(
            kinds("DROP TABLE IF EXISTS db.q SYNC")[0].1,
            Kind::Drop {
                name: name(Some("db"), "q"),
                if_exists: true
            }
        );
        assert_eq!(
            kinds("DROP VIEW github_mv")[0].1,
            Kind::Drop {
                name: name(None, "github_mv"),
                if_exists: false
            }
        );
        assert_eq!(
            kinds("DETACH TABLE github_queue")[0].1,
            Kind::Detach {
                name: name(None, "github_queue"),
                if_exists: false
            }
        );
        assert_eq!(
            kinds("ATTACH TABLE github_queue")[0].1,
            Kind::Attach {
                name: name(None, "github_queue"),
                if_not_exists: false
            }
        );
        // ATTACH with a definition is ClickHouse's business.
        assert_eq!(
            kinds("ATTACH TABLE t (a UInt8) ENGINE = Memory")[0].1,
            Kind::Other
        );
        assert_eq!(
            kinds("DROP DATABASE IF EXISTS KafkaEngine")[0].1,
            Kind::DropDatabase {
                database: "KafkaEngine".into()
            }
        );
        assert_eq!(
            kinds("INSERT INTO db.t VALUES (1)")[0].1,
            Kind::Insert {
                table: Some(name(Some("db"), "t"))
            }
        );
        assert_eq!(
            kinds("CREATE MATERIALIZED VIEW github_mv TO github AS SELECT * FROM github_queue")[0]
                .1,
            Kind::CreateMaterializedView
        );
    }

    #[test]
    fn inline_insert_data_is_not_tokenized_as_sql() {
        // A JSON string with an escaped quote and a semicolon would confuse a
        // SQL tokenizer; the data runs to the `;` that ends a line.
        let text = "INSERT INTO github FORMAT JSONEachRow {\"title\":\"a \\\"q\\\"; b\"}\n{\"title\":\"c\"};\nSELECT count() FROM github";
        let got = kinds(text);
        assert_eq!(got.len(), 2, "{got:?}");
        assert!(matches!(got[0].1, Kind::Insert { .. }));
        assert!(got[0].0.ends_with("{\"title\":\"c\"}"), "{:?}", got[0].0);
        assert_eq!(got[1].0, "SELECT count() FROM github");
    }

    #[test]
    fn insert_values_is_sql() {
        let got = kinds("INSERT INTO t VALUES (1, 'x;y'); SELECT 1");
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].0, "INSERT INTO t VALUES (1, 'x;y')");
        let got = kinds("INSERT INTO t FORMAT Values (1, 'a'); SELECT 1");
        assert_eq!(got.len(), 2);
    }

    #[test]
    fn insert_select_with_format_is_not_inline_data() {
        let got = kinds("INSERT INTO t SELECT * FROM s FORMAT JSONEachRow; SELECT 1");
        assert_eq!(got.len(), 2);
    }

    #[test]
    fn view_selects_lose_their_format_and_show_their_tables() {
        let sql = "SELECT a, b\nFROM KafkaEngine.github\nFORMAT JsonEachRow;";
        assert_eq!(
            without_output_format(sql),
            "SELECT a, b\nFROM KafkaEngine.github"
        );
        assert_eq!(
            without_output_format("SELECT format(x) FROM t;"),
            "SELECT format(x) FROM t"
        );
        let refs = table_references(
            "SELECT * FROM github AS g JOIN db.other ON 1 WHERE x IN (SELECT y FROM numbers(3))",
        );
        let sql =
            "SELECT * FROM github AS g JOIN db.other ON 1 WHERE x IN (SELECT y FROM numbers(3))";
        let names: Vec<&str> = refs.iter().map(|(_, r)| &sql[r.clone()]).collect();
        assert_eq!(names, ["github", "db.other"]);
    }

    #[test]
    fn insert_target_spans() {
        let sql = "INSERT INTO KafkaEngine.github_queue SELECT * FROM github LIMIT 100 FORMAT JSONEachRow";
        assert_eq!(
            &sql[insert_target_span(sql).unwrap()],
            "KafkaEngine.github_queue"
        );
        let sql = "insert into table `q` (a) VALUES (1)";
        assert_eq!(&sql[insert_target_span(sql).unwrap()], "`q`");
        assert!(insert_target_span("SELECT 1").is_none());
    }

    #[test]
    fn system_sync_kafka_is_recognised() {
        assert_eq!(
            kinds("SYSTEM SYNC KAFKA db.q TIMEOUT 30")[0].1,
            Kind::SyncKafka {
                name: ObjectName {
                    database: Some("db".into()),
                    name: "q".into()
                },
                timeout_seconds: Some(30),
                replica: false,
            }
        );
        assert!(matches!(
            kinds("SYSTEM SYNC REPLICA q")[0].1,
            Kind::SyncKafka { replica: true, .. }
        ));
        assert!(matches!(
            kinds("system sync kafka q")[0].1,
            Kind::SyncKafka {
                timeout_seconds: None,
                ..
            }
        ));
        // Malformed: left to whoever handles Other (the backend's error).
        assert_eq!(kinds("SYSTEM SYNC KAFKA q TIMEOUT soon")[0].1, Kind::Other);
        assert_eq!(kinds("SYSTEM SYNC REPLICA t STRICT")[0].1, Kind::Other);
    }

    #[test]
    fn named_collection_statements_are_recognised() {
        for text in [
            "CREATE NAMED COLLECTION kc AS kafka_broker_list = 'b:9092'",
            "alter named collection kc DELETE x",
            "DROP NAMED COLLECTION IF EXISTS kc",
        ] {
            assert_eq!(kinds(text)[0].1, Kind::NamedCollection, "{text}");
        }
        assert_eq!(
            kinds("CREATE TABLE q (a String) ENGINE = Kafka(kc)")[0].1,
            Kind::CreateKafkaTable
        );
        assert!(matches!(kinds("DROP TABLE named")[0].1, Kind::Drop { .. }));
    }

    #[test]
    fn tutorial_kafka_table_is_recognised() {
        let text = "CREATE TABLE github_queue (file_time DateTime, labels Array(LowCardinality(String)))\n   ENGINE = Kafka('kafka_host:9092', 'github', 'clickhouse',\n            'JSONEachRow') SETTINGS kafka_thread_per_consumer = 0, kafka_num_consumers = 1;";
        assert_eq!(kinds(text)[0].1, Kind::CreateKafkaTable);
        assert_eq!(
            kinds("CREATE TABLE q (a String) ENGINE = Kafka SETTINGS kafka_broker_list = 'b:9092'")
                [0]
            .1,
            Kind::CreateKafkaTable
        );
        assert_eq!(
            kinds("CREATE TABLE github (a String) ENGINE = MergeTree ORDER BY a")[0].1,
            Kind::Other
        );
    }

    #[test]
    fn untokenizable_text_goes_through_whole() {
        let got = kinds("SELECT 'unterminated; SELECT 2");
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].0, "SELECT 'unterminated; SELECT 2");
    }

    #[test]
    fn multibyte_text_keeps_offsets_right() {
        let got = kinds("SELECT 'é€'; SELECT $1 AS ü");
        assert_eq!(got[1].0, "SELECT $1 AS ü");
    }
}
