//! `CREATE TABLE ... ENGINE = Kafka`: read from the statement's tokens,
//! column types kept as the user's text for the catalog's type parser.
//! Uses the DDL cursor.

use sqlparser::keywords::Keyword;
use sqlparser::tokenizer::Token;

use super::cursor::Cursor;
use super::{ColumnExpression, CreateKafkaTable, DdlError};
use crate::tokens::Tok;

/// Reads a Kafka table definition.
pub(crate) fn parse(sql: &str, tokens: &[Tok]) -> Result<CreateKafkaTable, DdlError> {
    let mut c = Cursor::new(sql, tokens);
    c.expect_keyword(Keyword::CREATE)?;
    c.expect_keyword(Keyword::TABLE)?;
    let if_not_exists = c.eat_keywords(&[Keyword::IF, Keyword::NOT, Keyword::EXISTS]);
    let name = c.object_name()?;
    c.expect(&Token::LParen, "'(' and the column list")?;
    let (columns, expressions) = columns(&mut c)?;
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
        expressions,
        engine_args,
        collection,
        settings,
    })
}

/// Column definitions up to the closing `)`, and the columns with an
/// expression clause. Types are kept as text; CODEC, TTL and COMMENT after
/// the type are skipped.
#[allow(clippy::type_complexity)]
fn columns(
    c: &mut Cursor<'_>,
) -> Result<(Vec<(String, String)>, Vec<(String, ColumnExpression)>), DdlError> {
    let mut columns = Vec::new();
    let mut expressions = Vec::new();
    loop {
        let name = c.name()?;
        let type_start = c
            .peek()
            .map(|t| t.start)
            .ok_or_else(|| c.error("expected a type"))?;
        let mut type_end = type_start;
        let mut depth = 0i32;
        let mut in_type = true;
        let mut expression = None;
        loop {
            let t = c
                .peek()
                .ok_or_else(|| c.error("unterminated column list"))?;
            match &t.token {
                Token::LParen => depth += 1,
                Token::RParen if depth == 0 => break,
                Token::RParen => depth -= 1,
                Token::Comma if depth == 0 => break,
                _ if depth == 0 && is_column_clause(t) => {
                    in_type = false;
                    expression = expression.or(match t.keyword() {
                        Some(Keyword::DEFAULT) => Some(ColumnExpression::Default),
                        Some(Keyword::MATERIALIZED) => Some(ColumnExpression::Materialized),
                        Some(Keyword::EPHEMERAL) => Some(ColumnExpression::Ephemeral),
                        Some(Keyword::ALIAS) => Some(ColumnExpression::Alias),
                        _ => None,
                    });
                }
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
        if let Some(expression) = expression {
            expressions.push((name.clone(), expression));
        }
        columns.push((name, ty));
        if c.eat(&Token::RParen) {
            return Ok((columns, expressions));
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
