//! sqlparser's ClickHouse tokenizer with byte offsets: the planner reads
//! tokens but forwards the user's own text, so it needs to know where each
//! token sits in it.

use sqlparser::dialect::ClickHouseDialect;
use sqlparser::keywords::Keyword;
use sqlparser::tokenizer::{Token, TokenWithSpan, Tokenizer};

/// A significant token (not whitespace or a comment) and its byte range.
#[derive(Debug, Clone, PartialEq)]
pub struct Tok {
    pub token: Token,
    pub start: usize,
    pub end: usize,
}

impl Tok {
    /// The unquoted keyword this token is, if any.
    pub fn keyword(&self) -> Option<Keyword> {
        match &self.token {
            Token::Word(w) if w.quote_style.is_none() && w.keyword != Keyword::NoKeyword => {
                Some(w.keyword)
            }
            _ => None,
        }
    }

    pub fn is_keyword(&self, keyword: Keyword) -> bool {
        self.keyword() == Some(keyword)
    }

    /// A name: a word, quoted or not, with quotes removed.
    pub fn name(&self) -> Option<&str> {
        match &self.token {
            Token::Word(w) => Some(&w.value),
            _ => None,
        }
    }
}

/// Significant tokens of `text` up to the first tokenizer error, if any.
pub fn significant(text: &str) -> Vec<Tok> {
    let raw = raw(text);
    let ends = ends(text, &raw);
    raw.into_iter()
        .zip(ends)
        .filter(|(t, _)| !matches!(t.0.token, Token::Whitespace(_)))
        .map(|((t, start), end)| Tok {
            token: t.token,
            start,
            end,
        })
        .collect()
}

/// Significant tokens of `text` from byte `start`, reading at most about
/// `max_bytes` of it (to the next character boundary), with offsets into
/// `text`; and where the text read ends. Tokenizing costs far more memory than
/// the text, so whatever a client may make long is read this way.
pub fn significant_prefix(text: &str, start: usize, max_bytes: usize) -> (Vec<Tok>, usize) {
    let mut end = start.saturating_add(max_bytes).min(text.len());
    while !text.is_char_boundary(end) {
        end += 1;
    }
    let tokens = significant(&text[start..end])
        .into_iter()
        .map(|t| Tok {
            start: t.start + start,
            end: t.end + start,
            token: t.token,
        })
        .collect();
    (tokens, end)
}

/// All tokens with their start offsets, whitespace included.
fn raw(text: &str) -> Vec<(TokenWithSpan, usize)> {
    let dialect = ClickHouseDialect {};
    let mut buf = Vec::new();
    // An error only ends the token list early: what follows an unreadable
    // token stays part of the statement it is in, for the backend to judge.
    let _ = Tokenizer::new(&dialect, text)
        .with_unescape(false)
        .tokenize_with_location_into_buf(&mut buf);
    let starts = byte_offsets(text, &buf);
    buf.into_iter().zip(starts).collect()
}

/// Each token ends where the next one starts (whitespace is a token too);
/// the last one ends at the end of what the tokenizer read.
fn ends(text: &str, raw: &[(TokenWithSpan, usize)]) -> Vec<usize> {
    let mut ends: Vec<usize> = raw.iter().skip(1).map(|(_, start)| *start).collect();
    if let Some((last, start)) = raw.last() {
        ends.push(start + last.token.to_string().len().min(text.len() - start));
    }
    ends
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

/// How deep the parentheses and brackets of `tokens` nest. sqlparser's
/// recursion limit does not cover every path (nested function calls such as
/// `tuple(tuple(...))` go uncounted), so a SELECT is measured before it is
/// parsed.
pub fn nesting_depth(tokens: &[Tok]) -> usize {
    let (mut depth, mut deepest) = (0usize, 0usize);
    for t in tokens {
        match t.token {
            Token::LParen | Token::LBracket | Token::LBrace => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            Token::RParen | Token::RBracket | Token::RBrace => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    deepest
}

/// The deepest nesting kafkahouse parses in a view's SELECT (ClickHouse's
/// own limit, `max_parser_depth`, is 1000; a debug build's parser needs about
/// 60 KiB of stack a level).
pub const MAX_SELECT_DEPTH: usize = 128;

/// ClickHouse's words for a statement nested past `MAX_SELECT_DEPTH`.
pub fn too_deep() -> String {
    format!("Maximum parse depth ({MAX_SELECT_DEPTH}) exceeded")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_cover_the_source_text() {
        let text = "SELECT 'é€' AS \"x y\", $1 -- c\nFROM t";
        let toks = significant(text);
        let slices: Vec<&str> = toks.iter().map(|t| &text[t.start..t.end]).collect();
        assert_eq!(
            slices,
            ["SELECT", "'é€'", "AS", "\"x y\"", ",", "$1", "FROM", "t"]
        );
        assert!(toks[0].is_keyword(Keyword::SELECT));
        assert_eq!(toks[3].name(), Some("x y"));
    }
}
