//! `CREATE MATERIALIZED VIEW ... [TO dest] AS SELECT ...`, read from the
//! statement's tokens once: the names, the SELECT's text without a trailing
//! FORMAT clause, the table it reads, and the SELECT parsed by sqlparser from
//! the same tokens for planning. Uses the DDL cursor and `split`'s readers.

use sqlparser::dialect::ClickHouseDialect;
use sqlparser::keywords::Keyword;
use sqlparser::parser::Parser;
use sqlparser::tokenizer::Token;

use super::cursor::Cursor;
use super::{CreateView, DdlError};
use crate::split::table_reference_tokens;
use crate::tokens::Tok;

/// Reads a materialized view definition.
pub(crate) fn parse(sql: &str, tokens: &[Tok]) -> Result<CreateView, DdlError> {
    let mut c = Cursor::new(sql, tokens);
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
                let select = &tokens[c.pos + 1..];
                let (select, format) = without_format(select);
                let (Some(first), Some(last)) = (select.first(), select.last()) else {
                    return Err(c.error("expected a SELECT after AS"));
                };
                return Ok(CreateView {
                    if_not_exists,
                    name,
                    to,
                    select_sql: sql[first.start..last.end].to_string(),
                    format,
                    source: table_reference_tokens(select)
                        .into_iter()
                        .next()
                        .map(|(name, _)| name),
                    select: match crate::ternary::rewrite(&sql[first.start..last.end]) {
                        // ClickHouse's `c ? a : b`, which the parser does not know.
                        Some(rewritten) => parse_select(&crate::tokens::significant(&rewritten)),
                        None => parse_select(select),
                    },
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

/// The SELECT's tokens without a trailing top-level `FORMAT name` (which
/// ClickHouse ignores in a view: the tutorial's github_out_mv has one), and
/// that format.
fn without_format(tokens: &[Tok]) -> (&[Tok], Option<String>) {
    match tokens {
        [rest @ .., format, name] if format.is_keyword(Keyword::FORMAT) && !rest.is_empty() => {
            match name.name() {
                Some(n) => (rest, Some(n.to_string())),
                None => (tokens, None),
            }
        }
        _ => (tokens, None),
    }
}

/// The stack the SELECT is parsed on: sqlparser descends once per nested
/// expression (up to its recursion limit, 50), and a debug build takes
/// about 60 KiB a level, more than a 2 MiB thread has.
const PARSE_STACK: usize = 32 << 20;

/// The SELECT parsed by sqlparser's ClickHouse dialect from the tokens the
/// statement was cut with (string literals unescaped, as the parser expects
/// them); the parser's message when it does not parse. Runs on a thread of
/// its own with a stack sized for the parser's recursion limit, so no
/// caller's stack decides whether a deeply nested SELECT can be read.
fn parse_select(tokens: &[Tok]) -> Result<Box<sqlparser::ast::Statement>, String> {
    if crate::tokens::nesting_depth(tokens) > crate::tokens::MAX_SELECT_DEPTH {
        return Err(crate::tokens::too_deep());
    }
    let tokens: Vec<Token> = tokens
        .iter()
        .map(|t| match &t.token {
            Token::SingleQuotedString(s) => Token::SingleQuotedString(catalog::quote::unescape(s)),
            other => other.clone(),
        })
        .collect();
    let parse = move || {
        let mut parser = Parser::new(&ClickHouseDialect {}).with_tokens(tokens);
        let statement = parser.parse_statement().map_err(|e| e.to_string())?;
        match parser.peek_token().token {
            Token::EOF => Ok(Box::new(statement)),
            other => Err(format!("Expected: end of the SELECT, found: {other}")),
        }
    };
    std::thread::scope(|scope| {
        std::thread::Builder::new()
            .name("view-select".into())
            .stack_size(PARSE_STACK)
            .spawn_scoped(scope, parse)
            .map_err(|e| format!("cannot start the SELECT's parser: {e}"))?
            .join()
            .unwrap_or_else(|_| Err("the SELECT's parser failed".to_string()))
    })
}
