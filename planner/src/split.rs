//! Cutting a query string into statements and classifying each one.
//!
//! Works on sqlparser's ClickHouse tokenizer rather than its parser: the
//! parser rejects much of what ClickHouse accepts (table-level SETTINGS after
//! ENGINE, DETACH/ATTACH, SYSTEM, ...), and whatever we cannot classify is
//! still forwarded, as written, for the backend to judge.

use sqlparser::dialect::ClickHouseDialect;
use sqlparser::keywords::Keyword;
use sqlparser::tokenizer::{Token, TokenWithSpan, Tokenizer};

/// One statement of a query string, with the text to forward verbatim.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement<'a> {
    /// The statement as the user wrote it, without surrounding whitespace and
    /// the terminating `;`. For `INSERT ... FORMAT X` it includes the data.
    pub sql: &'a str,
    pub kind: Kind,
}

/// What a statement is, as far as kafkahouse needs to know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    /// `USE db`: changes the session's current database.
    Use { database: String },
    /// `SET name = value, ...`: changes session settings.
    Set { settings: Vec<Setting> },
    /// A statement that returns rows (SELECT, WITH, SHOW, DESCRIBE, EXISTS,
    /// EXPLAIN). `format` is set when the user asked for an output format.
    Query { format: Option<String> },
    /// `INSERT ...`, with or without inline data.
    Insert,
    /// `CREATE TABLE ... ENGINE = Kafka ...`.
    CreateKafkaTable,
    /// Anything else: DDL and commands that return no rows.
    Other,
}

/// One `name = value` of a SET statement; `value` has quotes removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Setting {
    pub name: String,
    pub value: String,
}

/// Splits `text` into statements. Never fails: text the tokenizer cannot read
/// becomes one statement that runs to the end, for the backend to judge.
pub fn split(text: &str) -> Vec<Statement<'_>> {
    let mut statements = Vec::new();
    let mut pos = 0;
    while pos < text.len() {
        let rest = &text[pos..];
        let tokens = tokenize(rest);
        let cut = cut_statement(rest, &tokens);
        let sql = rest[..cut.end].trim();
        let sql = sql.strip_suffix(';').map(str::trim_end).unwrap_or(sql);
        if !sql.is_empty() {
            let tokens = tokenize(sql);
            let significant: Vec<&Token> = tokens
                .iter()
                .map(|t| &t.token)
                .filter(|t| !matches!(t, Token::Whitespace(_)))
                .collect();
            statements.push(Statement {
                sql,
                kind: classify(&significant),
            });
        }
        pos += cut.next;
    }
    statements
}

/// Replaces `$1`, `$2`, ... with the SQL literals `literal(n)` returns (1-based).
/// Returns `None` when a placeholder has no value.
pub fn bind_placeholders(sql: &str, literal: impl Fn(usize) -> Option<String>) -> Option<String> {
    let tokens = tokenize(sql);
    let offsets = byte_offsets(sql, &tokens);
    let mut out = String::with_capacity(sql.len());
    let mut last = 0;
    for (i, t) in tokens.iter().enumerate() {
        if let Token::Placeholder(p) = &t.token {
            if let Some(n) = p.strip_prefix('$').and_then(|n| n.parse::<usize>().ok()) {
                out.push_str(&sql[last..offsets[i]]);
                out.push_str(&literal(n)?);
                last = offsets[i] + p.len();
            }
        }
    }
    out.push_str(&sql[last..]);
    Some(out)
}

/// How many `$n` parameters a statement takes (the highest n).
pub fn placeholder_count(sql: &str) -> usize {
    let tokens = tokenize(sql);
    tokens
        .iter()
        .filter_map(|t| match &t.token {
            Token::Placeholder(p) => p.strip_prefix('$')?.parse::<usize>().ok(),
            _ => None,
        })
        .max()
        .unwrap_or(0)
}

/// Tokens of `text` up to the first tokenizer error, if any: what follows an
/// unreadable token stays part of the statement it is in.
fn tokenize(text: &str) -> Vec<TokenWithSpan> {
    let dialect = ClickHouseDialect {};
    let mut buf = Vec::new();
    // An error only ends the token list early; see above.
    let _ = Tokenizer::new(&dialect, text)
        .with_unescape(false)
        .tokenize_with_location_into_buf(&mut buf);
    buf
}

/// Byte offset of each token's start (the tokenizer counts lines and chars).
fn byte_offsets(text: &str, tokens: &[TokenWithSpan]) -> Vec<usize> {
    let mut offsets = Vec::with_capacity(tokens.len());
    let (mut line, mut column, mut byte) = (1u64, 1u64, 0usize);
    let mut chars = text.char_indices().peekable();
    for t in tokens {
        let target = t.span.start;
        while (line, column) < (target.line, target.column) {
            match chars.next() {
                Some((_, '\n')) => {
                    line += 1;
                    column = 1;
                }
                Some(_) => column += 1,
                None => break,
            }
            byte = chars.peek().map(|(i, _)| *i).unwrap_or(text.len());
        }
        offsets.push(byte);
    }
    offsets
}

struct Cut {
    /// End of the statement's text (before `;` handling, which trims it).
    end: usize,
    /// Where the next statement starts.
    next: usize,
}

/// Finds where the first statement of `text` ends.
fn cut_statement(text: &str, tokens: &[TokenWithSpan]) -> Cut {
    let offsets = byte_offsets(text, tokens);
    let mut first_word: Option<Keyword> = None;
    let mut seen_select = false;
    let mut i = 0;
    while i < tokens.len() {
        match &tokens[i].token {
            Token::SemiColon => {
                let end = offsets[i] + 1;
                return Cut { end, next: end };
            }
            Token::Whitespace(_) => {}
            Token::Word(w) => {
                if first_word.is_none() {
                    first_word = Some(w.keyword);
                }
                if matches!(w.keyword, Keyword::SELECT | Keyword::WITH) {
                    seen_select = true;
                }
                // INSERT ... FORMAT Name <data>: the data is not SQL; it runs to a
                // `;` that ends a line, or to the end of the text.
                if first_word == Some(Keyword::INSERT)
                    && !seen_select
                    && w.keyword == Keyword::FORMAT
                    && w.quote_style.is_none()
                {
                    if let Some((j, Token::Word(name))) = next_significant(tokens, i + 1) {
                        if !name.value.eq_ignore_ascii_case("Values") {
                            let data_start = offsets[j] + name.value.len();
                            return cut_inline_data(text, data_start);
                        }
                    }
                }
            }
            _ => {
                if first_word.is_none() {
                    first_word = Some(Keyword::NoKeyword);
                }
            }
        }
        i += 1;
    }
    // No `;`: the statement runs to the end. That includes the case where the
    // tokenizer stopped on something it cannot read: the backend judges it.
    Cut {
        end: text.len(),
        next: text.len(),
    }
}

fn cut_inline_data(text: &str, data_start: usize) -> Cut {
    let bytes = text.as_bytes();
    let mut i = data_start;
    while let Some(off) = text[i..].find(';') {
        let semi = i + off;
        let after = &bytes[semi + 1..];
        let line_end = after
            .iter()
            .position(|b| !matches!(b, b' ' | b'\t' | b'\r'))
            .map(|p| after[p] == b'\n')
            .unwrap_or(true);
        if line_end {
            return Cut {
                end: semi + 1,
                next: semi + 1,
            };
        }
        i = semi + 1;
    }
    Cut {
        end: text.len(),
        next: text.len(),
    }
}

fn next_significant(tokens: &[TokenWithSpan], from: usize) -> Option<(usize, &Token)> {
    tokens
        .iter()
        .enumerate()
        .skip(from)
        .find(|(_, t)| !matches!(t.token, Token::Whitespace(_)))
        .map(|(i, t)| (i, &t.token))
}

fn classify(tokens: &[&Token]) -> Kind {
    let Some(first) = tokens.first() else {
        return Kind::Other;
    };
    let keyword = match first {
        Token::Word(w) if w.quote_style.is_none() => w.keyword,
        Token::LParen => {
            return Kind::Query {
                format: output_format(tokens),
            }
        }
        _ => return Kind::Other,
    };
    match keyword {
        Keyword::SELECT
        | Keyword::WITH
        | Keyword::SHOW
        | Keyword::DESCRIBE
        | Keyword::DESC
        | Keyword::EXISTS
        | Keyword::EXPLAIN => Kind::Query {
            format: output_format(tokens),
        },
        Keyword::INSERT => Kind::Insert,
        Keyword::USE => match tokens {
            [_, Token::Word(db)] => Kind::Use {
                database: db.value.clone(),
            },
            _ => Kind::Other,
        },
        Keyword::SET => parse_set(&tokens[1..])
            .map(|settings| Kind::Set { settings })
            .unwrap_or(Kind::Other),
        Keyword::CREATE if is_kafka_engine(tokens) => Kind::CreateKafkaTable,
        _ => Kind::Other,
    }
}

/// `FORMAT Name` at the top level of a query, as the last clause (optionally
/// followed by SETTINGS). `format(...)` the function does not count.
fn output_format(tokens: &[&Token]) -> Option<String> {
    let mut depth = 0i32;
    for (i, t) in tokens.iter().enumerate() {
        match t {
            Token::LParen => depth += 1,
            Token::RParen => depth -= 1,
            Token::Word(w)
                if depth == 0 && w.keyword == Keyword::FORMAT && w.quote_style.is_none() =>
            {
                if let Some(Token::Word(name)) = tokens.get(i + 1) {
                    let ends = match tokens.get(i + 2) {
                        None => true,
                        Some(Token::Word(next)) => next.keyword == Keyword::SETTINGS,
                        Some(_) => false,
                    };
                    if ends {
                        return Some(name.value.clone());
                    }
                }
            }
            _ => {}
        }
    }
    None
}

fn parse_set(tokens: &[&Token]) -> Option<Vec<Setting>> {
    let mut settings = Vec::new();
    let mut i = 0;
    loop {
        let name = match tokens.get(i)? {
            Token::Word(w) => w.value.clone(),
            _ => return None,
        };
        if tokens.get(i + 1) != Some(&&Token::Eq) {
            return None;
        }
        i += 2;
        let negative = tokens.get(i) == Some(&&Token::Minus);
        if negative {
            i += 1;
        }
        let value = match tokens.get(i)? {
            Token::Number(n, _) if negative => format!("-{n}"),
            Token::Number(n, _) => n.clone(),
            Token::SingleQuotedString(s) if !negative => unescape(s),
            Token::Word(w) if !negative && w.quote_style.is_none() => w.value.clone(),
            _ => return None,
        };
        settings.push(Setting { name, value });
        i += 1;
        match tokens.get(i) {
            None => return Some(settings),
            Some(Token::Comma) => i += 1,
            Some(_) => return None,
        }
    }
}

/// Undoes ClickHouse string escapes (`\'`, `\\`, `''`, `\n`, `\t`).
fn unescape(s: &str) -> String {
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

/// `CREATE ... ENGINE = Kafka` at the top level.
fn is_kafka_engine(tokens: &[&Token]) -> bool {
    let mut depth = 0i32;
    for (i, t) in tokens.iter().enumerate() {
        match t {
            Token::LParen => depth += 1,
            Token::RParen => depth -= 1,
            Token::Word(w) if depth == 0 && w.keyword == Keyword::ENGINE => {
                let mut j = i + 1;
                if tokens.get(j) == Some(&&Token::Eq) {
                    j += 1;
                }
                // Engine names are case-sensitive in ClickHouse.
                return matches!(tokens.get(j), Some(Token::Word(e)) if e.value == "Kafka");
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

    #[test]
    fn one_statement_with_or_without_semicolon() {
        for text in ["SELECT 1", "SELECT 1;", "  SELECT 1 ;  \n", "SELECT 1;;"] {
            assert_eq!(
                kinds(text),
                vec![("SELECT 1".to_string(), Kind::Query { format: None })],
                "{text:?}"
            );
        }
    }

    #[test]
    fn empty_and_comment_only_text_has_no_statements() {
        assert!(split("").is_empty());
        assert!(split(" ; ;\n").is_empty());
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
        assert_eq!(
            kinds("SELECT count() FROM github FORMAT JSONEachRow")[0].1,
            Kind::Query {
                format: Some("JSONEachRow".into())
            }
        );
        assert_eq!(
            kinds("SELECT format('{}', 'x')")[0].1,
            Kind::Query { format: None }
        );
        assert_eq!(
            kinds("SELECT 1 FORMAT CSV SETTINGS max_threads = 1")[0].1,
            Kind::Query {
                format: Some("CSV".into())
            }
        );
        assert_eq!(kinds("SHOW TABLES")[0].1, Kind::Query { format: None });
        assert_eq!(
            kinds("DESCRIBE TABLE github")[0].1,
            Kind::Query { format: None }
        );
        assert_eq!(
            kinds("EXISTS TABLE github")[0].1,
            Kind::Query { format: None }
        );
    }

    #[test]
    fn inline_insert_data_is_not_tokenized_as_sql() {
        // A JSON string with an escaped quote and a semicolon would confuse a
        // SQL tokenizer; the data runs to the `;` that ends a line.
        let text = "INSERT INTO github FORMAT JSONEachRow {\"title\":\"a \\\"q\\\"; b\"}\n{\"title\":\"c\"};\nSELECT count() FROM github";
        let got = kinds(text);
        assert_eq!(got.len(), 2, "{got:?}");
        assert_eq!(got[0].1, Kind::Insert);
        assert!(got[0].0.ends_with("{\"title\":\"c\"}"), "{:?}", got[0].0);
        assert_eq!(got[1].0, "SELECT count() FROM github");
    }

    #[test]
    fn insert_values_is_sql() {
        let got = kinds("INSERT INTO t VALUES (1, 'x;y'); SELECT 1");
        assert_eq!(got.len(), 2);
        assert_eq!(
            got[0],
            ("INSERT INTO t VALUES (1, 'x;y')".into(), Kind::Insert)
        );
        let got = kinds("INSERT INTO t FORMAT Values (1, 'a'); SELECT 1");
        assert_eq!(got.len(), 2);
    }

    #[test]
    fn insert_select_with_format_is_not_inline_data() {
        let got = kinds("INSERT INTO t SELECT * FROM s FORMAT JSONEachRow; SELECT 1");
        assert_eq!(got.len(), 2);
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
    fn placeholders_are_bound_outside_strings() {
        let sql = "SELECT $1, '$2', $2 FROM t WHERE x = $1";
        assert_eq!(placeholder_count(sql), 2);
        let bound = bind_placeholders(sql, |n| Some(format!("'v{n}'"))).unwrap();
        assert_eq!(bound, "SELECT 'v1', '$2', 'v2' FROM t WHERE x = 'v1'");
        assert_eq!(bind_placeholders("SELECT $3", |_| None), None);
    }

    #[test]
    fn multibyte_text_keeps_offsets_right() {
        let got = kinds("SELECT 'é€'; SELECT $1 AS ü");
        assert_eq!(got[1].0, "SELECT $1 AS ü");
        let bound = bind_placeholders("SELECT 'é€', $1", |_| Some("7".into())).unwrap();
        assert_eq!(bound, "SELECT 'é€', 7");
    }
}
