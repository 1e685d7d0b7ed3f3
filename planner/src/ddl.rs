//! The DDL kafkahouse handles itself: `CREATE TABLE ... ENGINE = Kafka` and
//! `CREATE MATERIALIZED VIEW ... TO ...`. Read from tokens, since sqlparser's
//! parser rejects table-level SETTINGS after ENGINE; column types are kept
//! as the user's text for the catalog's type parser.

use sqlparser::keywords::Keyword;
use sqlparser::tokenizer::Token;

use crate::split::{literal_value, ObjectName, Setting};
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
    /// The engine's positional arguments, as literal values.
    pub engine_args: Vec<String>,
    /// `ENGINE = Kafka(collection [, key = value ...])`: a named collection
    /// and the settings given with it, which override the collection's.
    pub collection: Option<(String, Vec<Setting>)>,
    pub settings: Vec<Setting>,
}

/// `CREATE`, `ALTER` or `DROP NAMED COLLECTION`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NamedCollectionStatement {
    /// `CREATE NAMED COLLECTION [IF NOT EXISTS] name [ON CLUSTER c] AS k = v [[NOT] OVERRIDABLE], ...`
    Create {
        name: String,
        if_not_exists: bool,
        params: Vec<Setting>,
    },
    /// `ALTER NAMED COLLECTION [IF EXISTS] name [ON CLUSTER c] [SET k = v, ...] [DELETE k, ...]`
    Alter {
        name: String,
        if_exists: bool,
        set: Vec<Setting>,
        delete: Vec<String>,
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
    /// The SELECT exactly as written.
    pub select_sql: String,
}

struct Cursor<'a> {
    sql: &'a str,
    tokens: Vec<Tok>,
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn new(sql: &'a str) -> Self {
        Cursor {
            sql,
            tokens: significant(sql),
            pos: 0,
        }
    }

    fn peek(&self) -> Option<&Tok> {
        self.tokens.get(self.pos)
    }

    fn next(&mut self) -> Option<Tok> {
        let t = self.tokens.get(self.pos).cloned();
        self.pos += 1;
        t
    }

    fn eat_keyword(&mut self, keyword: Keyword) -> bool {
        if self.peek().is_some_and(|t| t.is_keyword(keyword)) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn eat_keywords(&mut self, keywords: &[Keyword]) -> bool {
        let matches = keywords.iter().enumerate().all(|(i, k)| {
            self.tokens
                .get(self.pos + i)
                .is_some_and(|t| t.is_keyword(*k))
        });
        if matches {
            self.pos += keywords.len();
        }
        matches
    }

    fn eat(&mut self, token: &Token) -> bool {
        if self.peek().is_some_and(|t| &t.token == token) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn expect(&mut self, token: &Token, what: &str) -> Result<(), DdlError> {
        if self.eat(token) {
            Ok(())
        } else {
            Err(self.error(&format!("expected {what}")))
        }
    }

    fn expect_keyword(&mut self, keyword: Keyword) -> Result<(), DdlError> {
        if self.eat_keyword(keyword) {
            Ok(())
        } else {
            Err(self.error(&format!("expected {keyword:?}")))
        }
    }

    fn name(&mut self) -> Result<String, DdlError> {
        match self.peek().and_then(Tok::name) {
            Some(name) => {
                let name = name.to_string();
                self.pos += 1;
                Ok(name)
            }
            None => Err(self.error("expected a name")),
        }
    }

    fn object_name(&mut self) -> Result<ObjectName, DdlError> {
        let first = self.name()?;
        if self.eat(&Token::Period) {
            Ok(ObjectName {
                database: Some(first),
                name: self.name()?,
            })
        } else {
            Ok(ObjectName {
                database: None,
                name: first,
            })
        }
    }

    /// An unquoted word that is not a literal of another kind.
    fn peek_is_bare_name(&self) -> bool {
        matches!(self.peek().map(|t| &t.token), Some(Token::Word(w)) if w.quote_style.is_none())
    }

    fn peek_at_is(&self, ahead: usize, token: &Token) -> bool {
        self.tokens
            .get(self.pos + ahead)
            .is_some_and(|t| &t.token == token)
    }

    fn expect_word(&mut self, word: &str) -> Result<(), DdlError> {
        if self
            .peek()
            .and_then(Tok::name)
            .is_some_and(|n| n.eq_ignore_ascii_case(word))
        {
            self.pos += 1;
            Ok(())
        } else {
            Err(self.error(&format!("expected {word}")))
        }
    }

    /// `[NOT] OVERRIDABLE` after a collection's key, accepted and ignored.
    fn overridable(&mut self) {
        let is = |t: Option<&Tok>| {
            t.is_some_and(|t| {
                matches!(&t.token, Token::Word(w) if w.quote_style.is_none() && w.value.eq_ignore_ascii_case("OVERRIDABLE"))
            })
        };
        if self.peek().is_some_and(|t| t.is_keyword(Keyword::NOT))
            && is(self.tokens.get(self.pos + 1))
        {
            self.pos += 2;
        } else if is(self.peek()) {
            self.pos += 1;
        }
    }

    /// `ON CLUSTER name`, accepted and ignored (there is one server).
    fn on_cluster(&mut self) -> Result<(), DdlError> {
        if self.eat_keywords(&[Keyword::ON, Keyword::CLUSTER]) {
            self.name()?;
        }
        Ok(())
    }

    /// `name = literal`.
    fn setting(&mut self) -> Result<Setting, DdlError> {
        let name = self.name()?;
        self.expect(&Token::Eq, "'=' after a setting name")?;
        let value = self.literal()?;
        Ok(Setting { name, value })
    }

    fn literal(&mut self) -> Result<String, DdlError> {
        let negative = self.eat(&Token::Minus);
        let value = self
            .peek()
            .and_then(|t| literal_value(&t.token, negative))
            .ok_or_else(|| self.error("expected a literal"))?;
        self.pos += 1;
        Ok(value)
    }

    fn error(&self, what: &str) -> DdlError {
        let at = self.peek().map(|t| t.start).unwrap_or(self.sql.len());
        let near: String = self.sql[at..].chars().take(40).collect();
        DdlError(format!("{what} at position {} ('{near}')", at + 1))
    }
}

/// Reads a Kafka table definition.
pub fn parse_create_kafka_table(sql: &str) -> Result<CreateKafkaTable, DdlError> {
    let mut c = Cursor::new(sql);
    c.expect_keyword(Keyword::CREATE)?;
    c.expect_keyword(Keyword::TABLE)?;
    let if_not_exists = c.eat_keywords(&[Keyword::IF, Keyword::NOT, Keyword::EXISTS]);
    let name = c.object_name()?;
    c.expect(&Token::LParen, "'(' and the column list")?;
    let columns = columns(&mut c)?;
    c.expect_keyword(Keyword::ENGINE)?;
    c.eat(&Token::Eq);
    if c.next()
        .and_then(|t| t.name().map(str::to_string))
        .as_deref()
        != Some("Kafka")
    {
        return Err(DdlError("expected ENGINE = Kafka".into()));
    }
    let mut engine_args = Vec::new();
    let mut collection = None;
    if c.eat(&Token::LParen) && !c.eat(&Token::RParen) {
        // An unquoted name first is a named collection, which may be
        // followed by `key = value` overrides only.
        if c.peek_is_bare_name() && !c.peek_at_is(1, &Token::Eq) {
            let name = c.name()?;
            let mut overrides = Vec::new();
            while c.eat(&Token::Comma) {
                overrides.push(c.setting()?);
            }
            c.expect(&Token::RParen, "')' after the named collection's settings")?;
            collection = Some((name, overrides));
        } else {
            loop {
                engine_args.push(c.literal()?);
                if c.eat(&Token::RParen) {
                    break;
                }
                c.expect(&Token::Comma, "',' or ')' in the engine arguments")?;
            }
        }
    }
    let mut settings = Vec::new();
    if c.eat_keyword(Keyword::SETTINGS) {
        loop {
            settings.push(c.setting()?);
            if !c.eat(&Token::Comma) {
                break;
            }
        }
    }
    if c.eat_keyword(Keyword::COMMENT) {
        c.literal()?;
    }
    if c.peek().is_some() {
        return Err(c.error("unexpected text after the Kafka table definition"));
    }
    Ok(CreateKafkaTable {
        if_not_exists,
        name,
        columns,
        engine_args,
        collection,
        settings,
    })
}

/// Reads a `CREATE | ALTER | DROP NAMED COLLECTION` statement.
pub fn parse_named_collection(sql: &str) -> Result<NamedCollectionStatement, DdlError> {
    let mut c = Cursor::new(sql);
    let verb = c
        .next()
        .and_then(|t| t.keyword())
        .ok_or_else(|| DdlError("expected CREATE, ALTER or DROP".into()))?;
    c.expect_word("NAMED")?;
    c.expect_word("COLLECTION")?;
    let statement = match verb {
        Keyword::CREATE => {
            let if_not_exists = c.eat_keywords(&[Keyword::IF, Keyword::NOT, Keyword::EXISTS]);
            let name = c.name()?;
            c.on_cluster()?;
            c.expect_keyword(Keyword::AS)?;
            let mut params = Vec::new();
            loop {
                params.push(c.setting()?);
                // Whether a key may be overridden is not enforced here.
                c.overridable();
                if !c.eat(&Token::Comma) {
                    break;
                }
            }
            NamedCollectionStatement::Create {
                name,
                if_not_exists,
                params,
            }
        }
        Keyword::ALTER => {
            let if_exists = c.eat_keywords(&[Keyword::IF, Keyword::EXISTS]);
            let name = c.name()?;
            c.on_cluster()?;
            let (mut set, mut delete) = (Vec::new(), Vec::new());
            if c.eat_keyword(Keyword::SET) {
                loop {
                    set.push(c.setting()?);
                    c.overridable();
                    if !c.eat(&Token::Comma) {
                        break;
                    }
                }
            }
            if c.eat_keyword(Keyword::DELETE) {
                loop {
                    delete.push(c.name()?);
                    if !c.eat(&Token::Comma) {
                        break;
                    }
                }
            }
            if set.is_empty() && delete.is_empty() {
                return Err(c.error("expected SET or DELETE"));
            }
            NamedCollectionStatement::Alter {
                name,
                if_exists,
                set,
                delete,
            }
        }
        Keyword::DROP => {
            let if_exists = c.eat_keywords(&[Keyword::IF, Keyword::EXISTS]);
            let name = c.name()?;
            c.on_cluster()?;
            NamedCollectionStatement::Drop { name, if_exists }
        }
        _ => return Err(DdlError("expected CREATE, ALTER or DROP".into())),
    };
    if c.peek().is_some() {
        return Err(c.error("unexpected text after the named collection statement"));
    }
    Ok(statement)
}

/// Column definitions up to the closing `)`. Types are kept as text; column
/// clauses after the type (DEFAULT, COMMENT, CODEC, ...) are skipped.
fn columns(c: &mut Cursor<'_>) -> Result<Vec<(String, String)>, DdlError> {
    let mut columns = Vec::new();
    loop {
        let name = c.name()?;
        let type_start = c
            .peek()
            .map(|t| t.start)
            .ok_or_else(|| c.error("expected a type"))?;
        let mut type_end = type_start;
        let mut depth = 0i32;
        let mut in_type = true;
        loop {
            let t = c
                .peek()
                .ok_or_else(|| c.error("unterminated column list"))?;
            match &t.token {
                Token::LParen => depth += 1,
                Token::RParen if depth == 0 => break,
                Token::RParen => depth -= 1,
                Token::Comma if depth == 0 => break,
                _ if depth == 0 && is_column_clause(t) => in_type = false,
                _ => {}
            }
            if in_type {
                type_end = t.end;
            }
            c.pos += 1;
        }
        let ty = c.sql[type_start..type_end].trim().to_string();
        if ty.is_empty() {
            return Err(c.error(&format!("column {name} has no type")));
        }
        columns.push((name, ty));
        if c.eat(&Token::RParen) {
            return Ok(columns);
        }
        c.expect(&Token::Comma, "',' between columns")?;
    }
}

fn is_column_clause(t: &Tok) -> bool {
    matches!(
        t.keyword(),
        Some(
            Keyword::DEFAULT
                | Keyword::MATERIALIZED
                | Keyword::ALIAS
                | Keyword::EPHEMERAL
                | Keyword::COMMENT
        )
    ) || matches!(&t.token, sqlparser::tokenizer::Token::Word(w)
        if w.quote_style.is_none() && (w.value.eq_ignore_ascii_case("CODEC") || w.value.eq_ignore_ascii_case("TTL")))
}

/// Reads a materialized view definition.
pub fn parse_create_materialized_view(sql: &str) -> Result<CreateView, DdlError> {
    let mut c = Cursor::new(sql);
    c.expect_keyword(Keyword::CREATE)?;
    if c.eat_keywords(&[Keyword::OR, Keyword::REPLACE]) {
        return Err(DdlError(
            "CREATE OR REPLACE MATERIALIZED VIEW is not supported for Kafka tables; DROP VIEW first"
                .into(),
        ));
    }
    c.expect_keyword(Keyword::MATERIALIZED)?;
    c.expect_keyword(Keyword::VIEW)?;
    let if_not_exists = c.eat_keywords(&[Keyword::IF, Keyword::NOT, Keyword::EXISTS]);
    let name = c.object_name()?;
    let mut to = None;
    // Everything up to the top-level AS: TO dest [(cols)], ENGINE, POPULATE...
    let mut depth = 0i32;
    while let Some(t) = c.peek().cloned() {
        match &t.token {
            Token::LParen => depth += 1,
            Token::RParen => depth -= 1,
            _ if depth == 0 && t.is_keyword(Keyword::AS) => {
                let select_sql = c.sql[t.end..].trim().to_string();
                if select_sql.is_empty() {
                    return Err(c.error("expected a SELECT after AS"));
                }
                return Ok(CreateView {
                    if_not_exists,
                    name,
                    to,
                    select_sql,
                });
            }
            _ if depth == 0 && t.is_keyword(Keyword::TO) && to.is_none() => {
                c.pos += 1;
                to = Some(c.object_name()?);
                continue;
            }
            _ => {}
        }
        c.pos += 1;
    }
    Err(c.error("expected AS SELECT"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const TUTORIAL_QUEUE: &str = "CREATE TABLE github_queue
(
    file_time DateTime,
    event_type Enum('CommitCommentEvent' = 1, 'CreateEvent' = 2),
    actor_login LowCardinality(String),
    labels Array(LowCardinality(String)),
    review_comments UInt32
)
   ENGINE = Kafka('kafka_host:9092', 'github', 'clickhouse',
            'JSONEachRow') SETTINGS kafka_thread_per_consumer = 0, kafka_num_consumers = 1;";

    #[test]
    fn tutorial_kafka_table() {
        let sql = TUTORIAL_QUEUE.trim_end_matches(';');
        let t = parse_create_kafka_table(sql).unwrap();
        assert!(!t.if_not_exists);
        assert_eq!(t.name.name, "github_queue");
        assert_eq!(t.columns.len(), 5);
        assert_eq!(
            t.columns[1].1,
            "Enum('CommitCommentEvent' = 1, 'CreateEvent' = 2)"
        );
        assert_eq!(
            t.columns[3],
            ("labels".into(), "Array(LowCardinality(String))".into())
        );
        assert_eq!(
            t.engine_args,
            ["kafka_host:9092", "github", "clickhouse", "JSONEachRow"]
        );
        assert_eq!(
            t.settings,
            vec![
                Setting {
                    name: "kafka_thread_per_consumer".into(),
                    value: "0".into()
                },
                Setting {
                    name: "kafka_num_consumers".into(),
                    value: "1".into()
                },
            ]
        );
    }

    #[test]
    fn settings_form_with_database_and_column_clauses() {
        let t = parse_create_kafka_table(
            "CREATE TABLE IF NOT EXISTS db.q (a String DEFAULT 'x' COMMENT 'c', `b c` Nullable(Int8)) \
             ENGINE = Kafka SETTINGS kafka_broker_list = 'b:9092', kafka_topic_list = 't', \
             kafka_group_name = 'g', kafka_format = 'JSONEachRow', kafka_max_block_size = 100",
        )
        .unwrap();
        assert!(t.if_not_exists);
        assert_eq!(t.name.database.as_deref(), Some("db"));
        assert_eq!(
            t.columns,
            vec![
                ("a".into(), "String".into()),
                ("b c".into(), "Nullable(Int8)".into())
            ]
        );
        assert!(t.engine_args.is_empty());
        assert_eq!(t.settings.len(), 5);
        assert_eq!(t.settings[4].value, "100");
    }

    #[test]
    fn malformed_definitions_say_where() {
        let e = parse_create_kafka_table("CREATE TABLE q (a) ENGINE = Kafka").unwrap_err();
        assert!(e.0.contains("column a has no type"), "{e}");
        let e = parse_create_kafka_table("CREATE TABLE q (a String) ENGINE = Kafka('x' 'y')")
            .unwrap_err();
        assert!(e.0.contains("engine arguments"), "{e}");
        let e = parse_create_kafka_table("CREATE TABLE q (a String) ENGINE = Kafka SETTINGS x")
            .unwrap_err();
        assert!(e.0.contains("'='"), "{e}");
    }

    #[test]
    fn tutorial_views() {
        let v = parse_create_materialized_view(
            "CREATE MATERIALIZED VIEW github_mv TO github AS\nSELECT *\nFROM github_queue",
        )
        .unwrap();
        assert_eq!(v.name.name, "github_mv");
        assert_eq!(v.to.as_ref().map(|t| t.name.as_str()), Some("github"));
        assert_eq!(v.select_sql, "SELECT *\nFROM github_queue");
        let v = parse_create_materialized_view(
            "CREATE MATERIALIZED VIEW IF NOT EXISTS db.mv TO db.dest (a String) AS SELECT a AS a FROM q WHERE a != 'x'",
        )
        .unwrap();
        assert!(v.if_not_exists);
        assert_eq!(v.to.unwrap().database.as_deref(), Some("db"));
        assert_eq!(v.select_sql, "SELECT a AS a FROM q WHERE a != 'x'");
        let v = parse_create_materialized_view(
            "CREATE MATERIALIZED VIEW mv ENGINE = MergeTree ORDER BY a AS SELECT 1 AS a",
        )
        .unwrap();
        assert_eq!(v.to, None);
    }

    #[test]
    fn kafka_table_from_a_named_collection_with_overrides() {
        let t = parse_create_kafka_table(
            "CREATE TABLE q (a UInt8) ENGINE = Kafka(kc, kafka_format = 'CSV', kafka_num_consumers = 2) SETTINGS kafka_max_block_size = 10",
        )
        .unwrap();
        assert!(t.engine_args.is_empty());
        let (name, overrides) = t.collection.unwrap();
        assert_eq!(name, "kc");
        assert_eq!(
            overrides,
            vec![
                Setting {
                    name: "kafka_format".into(),
                    value: "CSV".into()
                },
                Setting {
                    name: "kafka_num_consumers".into(),
                    value: "2".into()
                },
            ]
        );
        assert_eq!(t.settings.len(), 1);
        // A quoted first argument is still a broker list.
        let t = parse_create_kafka_table(
            "CREATE TABLE q (a UInt8) ENGINE = Kafka('b:9092', 't', 'g', 'JSONEachRow')",
        )
        .unwrap();
        assert!(t.collection.is_none());
        assert_eq!(t.engine_args.len(), 4);
        assert!(
            parse_create_kafka_table("CREATE TABLE q (a UInt8) ENGINE = Kafka(kc, 'x')").is_err()
        );
    }

    #[test]
    fn named_collection_statements() {
        assert_eq!(
            parse_named_collection(
                "CREATE NAMED COLLECTION IF NOT EXISTS kc ON CLUSTER c AS kafka_broker_list = 'b:9092', kafka_sasl_password = 'p' NOT OVERRIDABLE, kafka_num_consumers = 2 OVERRIDABLE"
            )
            .unwrap(),
            NamedCollectionStatement::Create {
                name: "kc".into(),
                if_not_exists: true,
                params: vec![
                    Setting { name: "kafka_broker_list".into(), value: "b:9092".into() },
                    Setting { name: "kafka_sasl_password".into(), value: "p".into() },
                    Setting { name: "kafka_num_consumers".into(), value: "2".into() },
                ],
            }
        );
        assert_eq!(
            parse_named_collection(
                "alter named collection kc SET kafka_format = 'CSV' DELETE kafka_num_consumers"
            )
            .unwrap(),
            NamedCollectionStatement::Alter {
                name: "kc".into(),
                if_exists: false,
                set: vec![Setting {
                    name: "kafka_format".into(),
                    value: "CSV".into()
                }],
                delete: vec!["kafka_num_consumers".into()],
            }
        );
        assert_eq!(
            parse_named_collection("DROP NAMED COLLECTION IF EXISTS kc").unwrap(),
            NamedCollectionStatement::Drop {
                name: "kc".into(),
                if_exists: true
            }
        );
        assert!(parse_named_collection("ALTER NAMED COLLECTION kc").is_err());
        assert!(parse_named_collection("CREATE NAMED COLLECTION kc AS").is_err());
    }
}
