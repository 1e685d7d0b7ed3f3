//! `CREATE | ALTER | DROP NAMED COLLECTION`, read from the statement's
//! tokens. Uses the DDL cursor.

use sqlparser::keywords::Keyword;
use sqlparser::tokenizer::Token;

use super::cursor::Cursor;
use super::{DdlError, NamedCollectionStatement};
use crate::tokens::Tok;

/// Reads a `CREATE | ALTER | DROP NAMED COLLECTION` statement.
pub(crate) fn parse(sql: &str, tokens: &[Tok]) -> Result<NamedCollectionStatement, DdlError> {
    let mut c = Cursor::new(sql, tokens);
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
            let mut not_overridable = Vec::new();
            loop {
                let setting = c.setting()?;
                if c.overridable() == Some(false) {
                    not_overridable.push(setting.name.clone());
                }
                params.push(setting);
                if !c.eat(&Token::Comma) {
                    break;
                }
            }
            NamedCollectionStatement::Create {
                name,
                if_not_exists,
                params,
                not_overridable,
            }
        }
        Keyword::ALTER => {
            let if_exists = c.eat_keywords(&[Keyword::IF, Keyword::EXISTS]);
            let name = c.name()?;
            c.on_cluster()?;
            let (mut set, mut delete, mut not_overridable) = (Vec::new(), Vec::new(), Vec::new());
            if c.eat_keyword(Keyword::SET) {
                loop {
                    let setting = c.setting()?;
                    if c.overridable() == Some(false) {
                        not_overridable.push(setting.name.clone());
                    }
                    set.push(setting);
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
                not_overridable,
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
