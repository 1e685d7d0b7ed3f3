//! What a statement is, read from its significant tokens: the statement
//! kinds of `split`, the Kafka DDL read by `ddl` from the same tokens, and
//! the small readers (names, literals, table references) they share.

use sqlparser::keywords::Keyword;
use sqlparser::tokenizer::Token;

use super::{InsertFormat, Kind, ObjectName, Setting, MAX_QUERY_SIZE};
use crate::tokens::{significant, significant_prefix, Tok};

/// The kind of the statement `sql`, whose significant tokens (no `;`, no
/// INSERT data) are `tokens`, with offsets into `sql`.
pub(super) fn classify(sql: &str, tokens: &[Tok]) -> Kind {
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
        Keyword::INSERT => insert(rest),
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
            Kind::NamedCollection(crate::ddl::named_collection(sql, tokens))
        }
        Keyword::ALTER => alter_settings(rest).unwrap_or(Kind::Other),
        Keyword::CREATE if is_materialized_view(rest) => {
            Kind::CreateMaterializedView(crate::ddl::materialized_view(sql, tokens).map(Box::new))
        }
        Keyword::CREATE if is_kafka_engine(tokens) => {
            Kind::CreateKafkaTable(crate::ddl::kafka_table(sql, tokens).map(Box::new))
        }
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
        settings: query_settings(tokens),
    }
}

/// The `name = value` pairs after the last top-level SETTINGS of a query,
/// as far as they read as such.
fn query_settings(tokens: &[Tok]) -> Vec<Setting> {
    let mut depth = 0i32;
    let mut last = None;
    for (i, t) in tokens.iter().enumerate() {
        match &t.token {
            Token::LParen => depth += 1,
            Token::RParen => depth -= 1,
            _ if depth == 0 && t.is_keyword(Keyword::SETTINGS) => last = Some(i),
            _ => {}
        }
    }
    let Some(at) = last else {
        return Vec::new();
    };
    let mut settings = Vec::new();
    let mut rest = &tokens[at + 1..];
    while let [name, eq, value, tail @ ..] = rest {
        let (negative, value, tail) = match (&value.token, tail) {
            (Token::Minus, [v, tail @ ..]) => (true, v, tail),
            _ => (false, value, tail),
        };
        let (Some(n), true, Some(v)) = (
            name.name(),
            eq.token == Token::Eq,
            literal_value(&value.token, negative),
        ) else {
            break;
        };
        settings.push(Setting {
            name: n.to_string(),
            value: v,
        });
        match tail {
            [comma, more @ ..] if comma.token == Token::Comma => rest = more,
            _ => break,
        }
    }
    settings
}

/// `INSERT [INTO] [TABLE] [db.]name [(columns)] ...` (tokens after INSERT).
fn insert(tokens: &[Tok]) -> Kind {
    let mut rest = tokens;
    for keyword in [Keyword::INTO, Keyword::TABLE] {
        if rest.first().is_some_and(|t| t.is_keyword(keyword)) {
            rest = &rest[1..];
        }
    }
    let named = match rest.first() {
        Some(t) if t.is_keyword(Keyword::FUNCTION) => None,
        _ => object_name(rest),
    };
    let (table, target) = match &named {
        Some((name, used)) => (Some(name.clone()), Some(rest[0].start..rest[used - 1].end)),
        None => (None, None),
    };
    let format = match tokens {
        [.., keyword, name] if keyword.is_keyword(Keyword::FORMAT) => {
            name.name().map(|n| InsertFormat {
                name: n.to_string(),
                at: keyword.start,
            })
        }
        _ => None,
    };
    let ends_before_rows =
        format.is_some() || tokens.last().is_some_and(|t| t.is_keyword(Keyword::VALUES));
    // The column list: the first parenthesis, before VALUES or FORMAT.
    let columns = match tokens.iter().position(|t| t.token == Token::LParen) {
        None => Some(Vec::new()),
        Some(open) => {
            let mut names = Some(Vec::new());
            for t in &tokens[open + 1..] {
                match (&t.token, t.name(), names.as_mut()) {
                    (Token::RParen, _, _) => break,
                    (Token::Comma, _, _) => {}
                    (_, Some(n), Some(list)) => list.push(n.to_string()),
                    _ => names = None,
                }
            }
            names
        }
    };
    Kind::Insert {
        table,
        target,
        client_sends_rows: ends_before_rows && columns.is_some(),
        columns: columns.unwrap_or_default(),
        format,
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
        // An output format is the frontend's business (`Statement::output_format`).
        [format, f] if format.is_keyword(Keyword::FORMAT) && f.name().is_some() => Some(name),
        // Anything else (`DESCRIBE t SETTINGS ...`, `EXISTS t AND ...`) goes to the backend.
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
pub(crate) fn table_reference_tokens(tokens: &[Tok]) -> Vec<(ObjectName, std::ops::Range<usize>)> {
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
pub(crate) fn output_format(tokens: &[Tok]) -> Option<String> {
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

/// `TABLE [db.]name MODIFY SETTING k = v, ...` or `... RESET SETTING k, ...`
/// after ALTER; any other ALTER is the backend's.
fn alter_settings(tokens: &[Tok]) -> Option<Kind> {
    if !tokens.first()?.is_keyword(Keyword::TABLE) {
        return None;
    }
    let (name, used) = object_name(&tokens[1..])?;
    let rest = &tokens[1 + used..];
    let (verb, setting) = (rest.first()?, rest.get(1)?);
    if !is_word(Some(setting), "SETTING") {
        return None;
    }
    if is_word(Some(verb), "MODIFY") {
        let modify = parse_set(&rest[2..])?;
        return Some(Kind::AlterSettings {
            name,
            modify,
            reset: Vec::new(),
        });
    }
    if !is_word(Some(verb), "RESET") {
        return None;
    }
    let mut reset = Vec::new();
    for (i, t) in rest[2..].iter().enumerate() {
        if i % 2 == 0 {
            reset.push(t.name()?.to_string());
        } else if t.token != Token::Comma {
            return None;
        }
    }
    if reset.is_empty() || rest.len().is_multiple_of(2) {
        return None;
    }
    Some(Kind::AlterSettings {
        name,
        modify: Vec::new(),
        reset,
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
