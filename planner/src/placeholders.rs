//! `$1`, `$2`, ... in a statement (the PostgreSQL extended protocol's
//! parameters), found by a scan of the text that skips quotes and comments.
//! No tokenizing: a prepared INSERT may carry a long VALUES list, and a scan
//! allocates nothing per token.
//!
//! Uses nothing else of the planner.

/// Replaces `$1`, `$2`, ... with the SQL literals `literal(n)` returns (1-based).
/// Returns `None` when a placeholder has no value.
pub fn bind_placeholders(sql: &str, literal: impl Fn(usize) -> Option<String>) -> Option<String> {
    let mut out = String::with_capacity(sql.len());
    let mut last = 0;
    for (range, n) in placeholders(sql) {
        out.push_str(&sql[last..range.start]);
        out.push_str(&literal(n)?);
        last = range.end;
    }
    out.push_str(&sql[last..]);
    Some(out)
}

/// How many `$n` parameters a statement takes (the highest n).
pub fn placeholder_count(sql: &str) -> usize {
    placeholders(sql).map(|(_, n)| n).max().unwrap_or(0)
}

/// Each `$n` outside quotes and comments, with its byte range.
fn placeholders(sql: &str) -> impl Iterator<Item = (std::ops::Range<usize>, usize)> + '_ {
    let bytes = sql.as_bytes();
    let mut i = 0;
    std::iter::from_fn(move || {
        while i < bytes.len() {
            let start = i;
            match bytes[i] {
                q @ (b'\'' | b'"' | b'`') => i = quoted_end(bytes, i + 1, q),
                b'-' if bytes.get(i + 1) == Some(&b'-') => {
                    i = memchr(bytes, i, b'\n').map_or(bytes.len(), |n| n + 1)
                }
                b'/' if bytes.get(i + 1) == Some(&b'*') => {
                    i = sql[i + 2..].find("*/").map_or(bytes.len(), |n| i + 2 + n + 2)
                }
                b'$' if i == 0 || !is_word_byte(bytes[i - 1]) => {
                    let digits = bytes[i + 1..]
                        .iter()
                        .take_while(|b| b.is_ascii_digit())
                        .count();
                    i += 1 + digits;
                    if digits > 0 && !bytes.get(i).is_some_and(|b| is_word_byte(*b)) {
                        if let Ok(n) = sql[start + 1..i].parse() {
                            return Some((start..i, n));
                        }
                    }
                }
                b if is_word_byte(b) => {
                    while i < bytes.len() && (is_word_byte(bytes[i]) || bytes[i] == b'$') {
                        i += 1;
                    }
                }
                _ => i += 1,
            }
        }
        None
    })
}

/// After the quote that closes one opened with `q`; backslash escapes, and
/// a doubled quote is two quoted parts in a row.
fn quoted_end(bytes: &[u8], mut i: usize, q: u8) -> usize {
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b if b == q => return i + 1,
            _ => i += 1,
        }
    }
    bytes.len()
}

fn memchr(bytes: &[u8], from: usize, b: u8) -> Option<usize> {
    bytes[from..].iter().position(|x| *x == b).map(|p| from + p)
}

fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b >= 0x80
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_bound_outside_strings() {
        let sql = "SELECT $1, '$2', $2 FROM t WHERE x = $1";
        assert_eq!(placeholder_count(sql), 2);
        let bound = bind_placeholders(sql, |n| Some(format!("'v{n}'"))).unwrap();
        assert_eq!(bound, "SELECT 'v1', '$2', 'v2' FROM t WHERE x = 'v1'");
        assert_eq!(bind_placeholders("SELECT $3", |_| None), None);
    }

    #[test]
    fn quotes_comments_and_words_hide_dollars() {
        let sql = "SELECT \"$1\", `$2`, 'it''s $3', 'a\\'$4' -- $5\n/* $6 */ a$7, $8x, ($9)";
        assert_eq!(placeholder_count(sql), 9);
        let bound = bind_placeholders(sql, |n| (n == 9).then(|| "0".to_string())).unwrap();
        assert!(bound.ends_with("a$7, $8x, (0)"), "{bound}");
    }

    #[test]
    fn multibyte_text_keeps_offsets_right() {
        let bound = bind_placeholders("SELECT 'é€', $1", |_| Some("7".into())).unwrap();
        assert_eq!(bound, "SELECT 'é€', 7");
    }

    #[test]
    fn a_long_values_list_is_scanned_not_tokenized() {
        let sql = format!("INSERT INTO t VALUES {}($1)", "('x', 1),".repeat(200_000));
        assert_eq!(placeholder_count(&sql), 1);
    }
}
