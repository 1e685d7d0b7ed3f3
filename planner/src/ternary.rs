//! ClickHouse's conditional operator `cond ? then : else`, which SQL parsers
//! do not know, rewritten as `if(cond, then, else)` in a view's SELECT
//! text. The operator binds loosest and groups to the right, as in
//! ClickHouse: `a > 1 AND b ? x : c ? y : z` is
//! `if(a > 1 AND b, x, if(c, y, z))`. Uses the tokenizer.

use sqlparser::keywords::Keyword;
use sqlparser::tokenizer::Token;

use crate::tokens::{significant, Tok};

/// How many operators one text may hold: each is a pass over the tokens.
const MAX_OPERATORS: usize = 256;

/// `sql` with every `?:` written as `if(...)`; `None` when it has none (or
/// one whose parts cannot be told apart, left for the parser to refuse).
pub fn rewrite(sql: &str) -> Option<String> {
    let mut text = sql.to_string();
    let mut changed = false;
    for _ in 0..MAX_OPERATORS {
        let tokens = significant(&text);
        // The last `?` first: its parts hold no other, so rewriting from the
        // right handles nesting and right grouping.
        let Some(q) = tokens.iter().rposition(is_question) else {
            break;
        };
        let (start, colon, end) = parts(&tokens, q)?;
        let cond = &text[tokens[start].start..tokens[q - 1].end];
        let then = &text[tokens[q + 1].start..tokens[colon - 1].end];
        let otherwise = &text[tokens[colon + 1].start..tokens[end - 1].end];
        let replaced = format!("if({cond}, {then}, {otherwise})");
        text.replace_range(tokens[start].start..tokens[end - 1].end, &replaced);
        changed = true;
    }
    changed.then_some(text)
}

fn is_question(t: &Tok) -> bool {
    matches!(&t.token, Token::Placeholder(p) if p == "?")
}

/// Where the operator at `q` starts (its condition's first token), where its
/// `:` is, and where it ends (one past its last token), all at `q`'s depth.
fn parts(tokens: &[Tok], q: usize) -> Option<(usize, usize, usize)> {
    // Left: back to a separator at this depth.
    let mut depth = 0i32;
    let mut start = q;
    while start > 0 {
        let t = &tokens[start - 1];
        match t.token {
            Token::RParen => depth += 1,
            Token::LParen if depth == 0 => break,
            Token::LParen => depth -= 1,
            Token::Comma if depth == 0 => break,
            // The `?` or `:` of an operator this one is a part of.
            Token::Colon if depth == 0 => break,
            _ if depth == 0 && (is_question(t) || ends_an_expression(t)) => break,
            _ => {}
        }
        start -= 1;
    }
    // Right: the `:` at this depth, then on to a separator.
    let mut depth = 0i32;
    let mut colon = None;
    let mut end = q + 1;
    while end < tokens.len() {
        let t = &tokens[end];
        match t.token {
            Token::LParen => depth += 1,
            Token::RParen if depth == 0 => break,
            Token::RParen => depth -= 1,
            Token::Comma if depth == 0 && colon.is_some() => break,
            Token::Colon if depth == 0 && colon.is_none() => colon = Some(end),
            // An enclosing operator's `:`.
            Token::Colon if depth == 0 => break,
            _ if depth == 0 && colon.is_some() && ends_an_expression(t) => break,
            _ => {}
        }
        end += 1;
    }
    let colon = colon?;
    // Every part holds at least one token.
    (start < q && colon > q + 1 && end > colon + 1).then_some((start, colon, end))
}

/// Keywords that end (or start) an expression: clause words, an alias.
fn ends_an_expression(t: &Tok) -> bool {
    matches!(
        t.keyword(),
        Some(
            Keyword::SELECT
                | Keyword::FROM
                | Keyword::WHERE
                | Keyword::PREWHERE
                | Keyword::GROUP
                | Keyword::ORDER
                | Keyword::HAVING
                | Keyword::LIMIT
                | Keyword::SETTINGS
                | Keyword::FORMAT
                | Keyword::UNION
                | Keyword::AS
                | Keyword::WHEN
                | Keyword::THEN
                | Keyword::ELSE
                | Keyword::END
                | Keyword::ON
                | Keyword::JOIN
                | Keyword::BY
                | Keyword::DISTINCT
        )
    )
}

#[cfg(test)]
mod tests {
    use super::rewrite;

    #[test]
    fn conditionals_become_if() {
        assert_eq!(
            rewrite("SELECT n > 5 ? 'big' : 'small' AS size FROM q").as_deref(),
            Some("SELECT if(n > 5, 'big', 'small') AS size FROM q")
        );
        assert_eq!(
            rewrite("SELECT a AND b ? x : c ? y : z, (n ? 1 : 2) + 1 FROM q WHERE m ? 1 : 0")
                .as_deref(),
            Some("SELECT if(a AND b, x, if(c, y, z)), (if(n, 1, 2)) + 1 FROM q WHERE if(m, 1, 0)")
        );
        assert_eq!(
            rewrite("SELECT concat(s, n ? '?' : ':') FROM q").as_deref(),
            Some("SELECT concat(s, if(n, '?', ':')) FROM q")
        );
        assert_eq!(
            rewrite("SELECT a ? b ? 1 : 2 : 3 FROM q").as_deref(),
            Some("SELECT if(a, if(b, 1, 2), 3) FROM q")
        );
        assert_eq!(rewrite("SELECT n FROM q"), None);
        // Without a `:`: left for the parser to refuse.
        assert_eq!(rewrite("SELECT n ? 1 FROM q"), None);
    }
}
