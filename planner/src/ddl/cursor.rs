//! A cursor over a statement's significant tokens, with the small readers
//! the DDL statements share (names, literals, settings). Uses the tokenizer's
//! `Tok` and the statement types of `split`.

use sqlparser::keywords::Keyword;
use sqlparser::tokenizer::Token;

use super::DdlError;
use crate::split::{literal_value, ObjectName, Setting};
use crate::tokens::Tok;

/// Reads a statement's tokens front to back; `sql` is the statement's text,
/// which the tokens' offsets point into.
pub(crate) struct Cursor<'a> {
    pub(crate) sql: &'a str,
    pub(crate) tokens: &'a [Tok],
    pub(crate) pos: usize,
}

impl<'a> Cursor<'a> {
    pub(crate) fn new(sql: &'a str, tokens: &'a [Tok]) -> Self {
        Cursor {
            sql,
            tokens,
            pos: 0,
        }
    }

    pub(crate) fn peek(&self) -> Option<&Tok> {
        self.tokens.get(self.pos)
    }

    pub(crate) fn next(&mut self) -> Option<Tok> {
        let t = self.tokens.get(self.pos).cloned();
        self.pos += 1;
        t
    }

    pub(crate) fn eat_keyword(&mut self, keyword: Keyword) -> bool {
        if self.peek().is_some_and(|t| t.is_keyword(keyword)) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    pub(crate) fn eat_keywords(&mut self, keywords: &[Keyword]) -> bool {
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

    pub(crate) fn eat(&mut self, token: &Token) -> bool {
        if self.peek().is_some_and(|t| &t.token == token) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    pub(crate) fn expect(&mut self, token: &Token, what: &str) -> Result<(), DdlError> {
        if self.eat(token) {
            Ok(())
        } else {
            Err(self.error(&format!("expected {what}")))
        }
    }

    pub(crate) fn expect_keyword(&mut self, keyword: Keyword) -> Result<(), DdlError> {
        if self.eat_keyword(keyword) {
            Ok(())
        } else {
            Err(self.error(&format!("expected {keyword:?}")))
        }
    }

    pub(crate) fn name(&mut self) -> Result<String, DdlError> {
        match self.peek().and_then(Tok::name) {
            Some(name) => {
                let name = name.to_string();
                self.pos += 1;
                Ok(name)
            }
            None => Err(self.error("expected a name")),
        }
    }

    pub(crate) fn object_name(&mut self) -> Result<ObjectName, DdlError> {
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
    pub(crate) fn peek_is_bare_name(&self) -> bool {
        matches!(self.peek().map(|t| &t.token), Some(Token::Word(w)) if w.quote_style.is_none())
    }

    pub(crate) fn peek_at_is(&self, ahead: usize, token: &Token) -> bool {
        self.tokens
            .get(self.pos + ahead)
            .is_some_and(|t| &t.token == token)
    }

    pub(crate) fn expect_word(&mut self, word: &str) -> Result<(), DdlError> {
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

    /// `[NOT] OVERRIDABLE` after a collection's key: `Some(false)` for NOT
    /// OVERRIDABLE, `Some(true)` for OVERRIDABLE, `None` when not said.
    pub(crate) fn overridable(&mut self) -> Option<bool> {
        let is = |t: Option<&Tok>| {
            t.is_some_and(|t| {
                matches!(&t.token, Token::Word(w) if w.quote_style.is_none() && w.value.eq_ignore_ascii_case("OVERRIDABLE"))
            })
        };
        if self.peek().is_some_and(|t| t.is_keyword(Keyword::NOT))
            && is(self.tokens.get(self.pos + 1))
        {
            self.pos += 2;
            Some(false)
        } else if is(self.peek()) {
            self.pos += 1;
            Some(true)
        } else {
            None
        }
    }

    /// `ON CLUSTER name`, accepted and ignored (there is one server).
    pub(crate) fn on_cluster(&mut self) -> Result<(), DdlError> {
        if self.eat_keywords(&[Keyword::ON, Keyword::CLUSTER]) {
            self.name()?;
        }
        Ok(())
    }

    /// `name = literal`.
    pub(crate) fn setting(&mut self) -> Result<Setting, DdlError> {
        let name = self.name()?;
        self.expect(&Token::Eq, "'=' after a setting name")?;
        let value = self.literal()?;
        Ok(Setting { name, value })
    }

    pub(crate) fn literal(&mut self) -> Result<String, DdlError> {
        let negative = self.eat(&Token::Minus);
        let value = self
            .peek()
            .and_then(|t| literal_value(&t.token, negative))
            .ok_or_else(|| self.error("expected a literal"))?;
        self.pos += 1;
        Ok(value)
    }

    pub(crate) fn error(&self, what: &str) -> DdlError {
        let at = self.peek().map(|t| t.start).unwrap_or(self.sql.len());
        let near: String = self.sql[at..].chars().take(40).collect();
        DdlError(format!("{what} at position {} ('{near}')", at + 1))
    }
}
