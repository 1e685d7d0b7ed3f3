//! Where statements end in a query text, with bounded work.
//!
//! A text may hold many statements, and an `INSERT` may carry any amount of
//! data after its SQL. Only the SQL is tokenized, and never more than
//! `max_query_size` bytes of one statement (ClickHouse's own limit on the part
//! it parses, 262,144 bytes by default): tokens cost about 250 times the text
//! they come from, so tokenizing whatever a client sends would let one query
//! take gigabytes. Tokens are read in windows that grow with the statement, and
//! a window's tokens serve every statement that ends inside it, so the work is
//! linear in the text. INSERT data is scanned byte by byte, never tokenized.
//!
//! Uses only the tokenizer (`tokens`).

use sqlparser::keywords::Keyword;
use sqlparser::tokenizer::Token;

use crate::tokens::{significant_prefix, Tok};

/// ClickHouse's default `max_query_size`: the most bytes of a statement's SQL
/// (not its INSERT data) that are parsed.
pub const MAX_QUERY_SIZE: usize = 262_144;

/// In a text that starts with `INSERT ... FORMAT Name`, where the format's
/// name ends: the data follows (an HTTP body holds both). Reads at most
/// `MAX_QUERY_SIZE` bytes, as the query must fit in them.
pub fn insert_format_end(text: &str) -> Option<usize> {
    let (tokens, _) = significant_prefix(text, 0, MAX_QUERY_SIZE + 1);
    if !tokens.first()?.is_keyword(Keyword::INSERT) {
        return None;
    }
    tokens
        .windows(2)
        .find(|w| w[0].is_keyword(Keyword::FORMAT) && w[1].name().is_some())
        .map(|w| w[1].end)
}

/// The first window read for a statement; windows grow fourfold from here.
const FIRST_WINDOW: usize = 1024;

/// One statement found in the text: byte offsets into the whole text.
#[derive(Debug)]
pub(crate) struct Cut {
    /// Where the statement starts (its leading whitespace included).
    pub start: usize,
    /// Where its SQL ends: the data of `INSERT ... VALUES | FORMAT` starts
    /// here; otherwise the same as `end` less the `;`.
    pub query_end: usize,
    /// After its `;`, or the end of the text.
    pub end: usize,
    /// The significant tokens of its SQL (no `;`, no data).
    pub tokens: Vec<Tok>,
    /// Its SQL is longer than `max_query_size`: it was not read whole.
    pub oversized: bool,
}

/// The statements of `text`, one at a time (a text may hold millions: none is
/// kept once read). Stops after an oversized one: what follows it could not
/// be told apart from it.
pub(crate) fn cut(text: &str, max_query_size: usize) -> Cuts<'_> {
    Cuts {
        text,
        max_query_size,
        pos: 0,
        window: Vec::new(),
        window_end: 0,
        first: 0,
        done: false,
    }
}

pub(crate) struct Cuts<'t> {
    text: &'t str,
    max_query_size: usize,
    /// Where the next statement starts.
    pos: usize,
    /// Tokens of `text[..window_end]` read from an earlier statement start
    /// (absolute offsets); those of the next statement start at `first`.
    window: Vec<Tok>,
    window_end: usize,
    first: usize,
    done: bool,
}

impl Iterator for Cuts<'_> {
    type Item = Cut;

    fn next(&mut self) -> Option<Cut> {
        let (text, max) = (self.text, self.max_query_size);
        while !self.done && self.pos < text.len() {
            let pos = self.pos;
            let tokens = &self.window[self.first..];
            match statement_end(text, tokens, self.window_end) {
                End::Semicolon(i) => {
                    let end = tokens[i].end;
                    let cut = Cut {
                        start: pos,
                        query_end: end - 1,
                        end,
                        tokens: tokens[..i].to_vec(),
                        oversized: end - pos > max,
                    };
                    self.done = cut.oversized;
                    self.first += i + 1;
                    self.pos = end;
                    return Some(cut);
                }
                End::Data {
                    tokens: n,
                    data_start,
                } => {
                    let end = data_end(text, data_start, &tokens[n - 1]);
                    let cut = Cut {
                        start: pos,
                        query_end: data_start,
                        end,
                        tokens: tokens[..n].to_vec(),
                        oversized: data_start - pos > max,
                    };
                    self.done = cut.oversized;
                    // The window's tokens past the data start read data as SQL.
                    self.pos = end;
                    self.window.clear();
                    self.first = 0;
                    self.window_end = end;
                    return Some(cut);
                }
                End::NotInWindow if self.window_end == text.len() => {
                    // The rest of the text is one statement (or only comments).
                    // Tokens may stop early at text the tokenizer cannot read;
                    // the statement still runs to the end, for the backend to judge.
                    self.done = true;
                    return Some(Cut {
                        start: pos,
                        query_end: text.len(),
                        end: text.len(),
                        oversized: text.len() - pos > max,
                        tokens: tokens.to_vec(),
                    });
                }
                End::NotInWindow if self.window_end - pos > max => {
                    self.done = true;
                    return Some(Cut {
                        start: pos,
                        query_end: self.window_end,
                        end: text.len(),
                        tokens: Vec::new(),
                        oversized: true,
                    });
                }
                End::NotInWindow => {
                    let size = ((self.window_end - pos) * 4)
                        .max(FIRST_WINDOW)
                        .min(max + 1);
                    let (tokens, end) = significant_prefix(text, pos, size);
                    self.window = tokens;
                    self.window_end = end;
                    self.first = 0;
                }
            }
        }
        None
    }
}

enum End {
    /// The statement ends at this token, a `;`.
    Semicolon(usize),
    /// `INSERT ... VALUES` or `... FORMAT Name`: the first `tokens` tokens are
    /// the SQL, data follows from `data_start`.
    Data { tokens: usize, data_start: usize },
    /// No end among these tokens.
    NotInWindow,
}

/// Where the statement that `tokens` start ends, if they show it. The window
/// they were read from ends at `window_end`: a word that reaches it may be
/// cut in two, so it decides nothing unless the text ends there too.
fn statement_end(text: &str, tokens: &[Tok], window_end: usize) -> End {
    let whole = |t: &Tok| t.end < window_end || t.end == text.len();
    let insert = tokens
        .first()
        .is_some_and(|t| t.is_keyword(Keyword::INSERT) && whole(t));
    let mut seen_select = false;
    for (i, t) in tokens.iter().enumerate() {
        if t.token == Token::SemiColon {
            return End::Semicolon(i);
        }
        if !insert || seen_select || !whole(t) {
            continue;
        }
        if matches!(t.keyword(), Some(Keyword::SELECT | Keyword::WITH)) {
            seen_select = true;
        } else if t.is_keyword(Keyword::VALUES) {
            return End::Data {
                tokens: i + 1,
                data_start: t.end,
            };
        } else if t.is_keyword(Keyword::FORMAT) {
            if let Some(name) = tokens.get(i + 1).filter(|n| n.name().is_some() && whole(n)) {
                return End::Data {
                    tokens: i + 2,
                    data_start: name.end,
                };
            }
        }
    }
    End::NotInWindow
}

/// Where INSERT data that starts at `data_start` ends (after its `;`). The
/// Values format is SQL literals: its data ends at a `;` outside quotes.
/// Other formats are not SQL: their data runs to a `;` that ends a line, or to
/// the end of the text.
fn data_end(text: &str, data_start: usize, last_sql_token: &Tok) -> usize {
    let values = last_sql_token.is_keyword(Keyword::VALUES)
        || last_sql_token
            .name()
            .is_some_and(|n| n.eq_ignore_ascii_case("Values"));
    if values {
        values_end(text, data_start)
    } else {
        line_end_semicolon(text, data_start)
    }
}

fn values_end(text: &str, data_start: usize) -> usize {
    let bytes = text.as_bytes();
    let mut i = data_start;
    let mut quote: Option<u8> = None;
    while i < bytes.len() {
        let b = bytes[i];
        match quote {
            Some(_) if b == b'\\' => i += 1,
            Some(q) if b == q => quote = None,
            Some(_) => {}
            None if matches!(b, b'\'' | b'"' | b'`') => quote = Some(b),
            None if b == b';' => return i + 1,
            None => {}
        }
        i += 1;
    }
    text.len()
}

fn line_end_semicolon(text: &str, data_start: usize) -> usize {
    let bytes = text.as_bytes();
    let mut i = data_start;
    while let Some(off) = text[i..].find(';') {
        let semi = i + off;
        let after = &bytes[semi + 1..];
        let ends_line = after
            .iter()
            .position(|b| !matches!(b, b' ' | b'\t' | b'\r'))
            .map(|p| after[p] == b'\n')
            .unwrap_or(true);
        if ends_line {
            return semi + 1;
        }
        i = semi + 1;
    }
    text.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pieces(text: &str, max: usize) -> Vec<(&str, &str, bool)> {
        cut(text, max)
            .map(|c| {
                (
                    text[c.start..c.query_end].trim(),
                    text[c.query_end..c.end].trim(),
                    c.oversized,
                )
            })
            .collect()
    }

    #[test]
    fn statements_values_and_format_data() {
        let text = "SELECT 1; INSERT INTO t VALUES (1, 'a;b'), (2, 'c\\';'); \
                    INSERT INTO t FORMAT JSONEachRow\n{\"a\":\"x;y\"}\n;\nSELECT 2";
        assert_eq!(
            pieces(text, MAX_QUERY_SIZE),
            [
                ("SELECT 1", ";", false),
                ("INSERT INTO t VALUES", "(1, 'a;b'), (2, 'c\\';');", false),
                ("INSERT INTO t FORMAT JSONEachRow", "{\"a\":\"x;y\"}\n;", false),
                ("SELECT 2", "", false),
            ]
        );
    }

    #[test]
    fn a_statement_over_the_limit_is_not_read_whole() {
        let long = format!("SELECT 1{}", ",1".repeat(1_000_000));
        let cuts: Vec<Cut> = cut(&long, MAX_QUERY_SIZE).collect();
        assert_eq!(cuts.len(), 1);
        assert!(cuts[0].oversized);
        assert!(cuts[0].tokens.is_empty(), "nothing past the limit is kept");
        // The limit counts the SQL, not INSERT data.
        let insert = format!("INSERT INTO t VALUES {}", "(1),".repeat(200_000));
        assert_eq!(pieces(&insert, MAX_QUERY_SIZE).len(), 1);
        assert!(!pieces(&insert, MAX_QUERY_SIZE)[0].2);
        let json = format!("INSERT INTO t FORMAT JSONEachRow\n{}", "{\"a\":1}\n".repeat(100_000));
        assert!(!pieces(&json, MAX_QUERY_SIZE)[0].2);
        // A statement right at the limit is read.
        let at = format!("SELECT '{}'", "x".repeat(100));
        assert!(!pieces(&at, at.len())[0].2);
        assert!(pieces(&at, at.len() - 1)[0].2);
    }

    #[test]
    fn many_statements_share_windows() {
        let text = "SELECT 1;".repeat(50_000);
        let cuts: Vec<Cut> = cut(&text, MAX_QUERY_SIZE).collect();
        assert_eq!(cuts.len(), 50_000);
        assert!(cuts.iter().all(|c| c.tokens.len() == 2 && !c.oversized));
        // Statements longer than the first window, and a string that a window
        // boundary cuts in two.
        let text = format!("SELECT '{}'; SELECT 2", "é;".repeat(3_000));
        let cuts = pieces(&text, MAX_QUERY_SIZE);
        assert_eq!(cuts.len(), 2);
        assert_eq!(cuts[1].0, "SELECT 2");
    }
}
