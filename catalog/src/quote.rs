//! ClickHouse's SQL spelling of names and values: identifiers in backquotes,
//! string literals in single quotes, setting values, TabSeparated escapes,
//! and the reverse for string literals. The one place kafkahouse writes SQL
//! text around a name or value it did not write itself; uses nothing else.

/// A ClickHouse identifier in backquotes: `` `a\`b` ``.
pub fn identifier(name: &str) -> String {
    escaped(name, '`')
}

/// `database.name`, both parts quoted.
pub fn qualified(database: &str, name: &str) -> String {
    format!("{}.{}", identifier(database), identifier(name))
}

/// A tuple element's name as ClickHouse's type parser reads it back: plain,
/// or quoted when it is empty or holds anything but letters, digits and `_`.
pub fn element_name(name: &str) -> String {
    let plain = name.chars().next().is_some_and(|c| c.is_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_alphanumeric() || c == '_');
    if plain {
        name.to_string()
    } else {
        identifier(name)
    }
}

/// A ClickHouse string literal: `'it\'s'`.
pub fn string(text: &str) -> String {
    escaped(text, '\'')
}

/// A setting's value as SQL: numbers as they are, anything else a string.
pub fn setting_value(value: &str) -> String {
    if value.parse::<f64>().is_ok() {
        value.to_string()
    } else {
        string(value)
    }
}

/// A value as TabSeparated writes it: backslash, tab, line breaks and NUL
/// escaped.
pub fn tsv(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\0' => out.push_str("\\0"),
            c => out.push(c),
        }
    }
    out
}

/// The text of a string literal's body (quotes already removed), with
/// ClickHouse's escapes (`\'`, `\\`, `''`, `\n`, `\t`, `\r`, `\0`) undone.
pub fn unescape(body: &str) -> String {
    let mut out = String::with_capacity(body.len());
    let mut chars = body.chars().peekable();
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

/// `text` between `quote`s, with the quote and backslash escaped.
fn escaped(text: &str, quote: char) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push(quote);
    for c in text.chars() {
        if c == quote || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push(quote);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_are_quoted() {
        assert_eq!(identifier("KafkaEngine"), "`KafkaEngine`");
        assert_eq!(identifier("a`b"), "`a\\`b`");
        assert_eq!(qualified("db", "t\\"), "`db`.`t\\\\`");
        assert_eq!(element_name("a_1"), "a_1");
        assert_eq!(element_name("a b"), "`a b`");
        assert_eq!(element_name(""), "``");
    }

    #[test]
    fn literals_round_trip() {
        for text in ["", "it's", "a\\b", "tab\there", "''"] {
            let quoted = string(text);
            let body = &quoted[1..quoted.len() - 1];
            assert_eq!(unescape(body), text);
        }
        assert_eq!(string("it's"), "'it\\'s'");
        assert_eq!(unescape("it''s"), "it's");
        assert_eq!(setting_value("1.5"), "1.5");
        assert_eq!(setting_value("best_effort"), "'best_effort'");
        assert_eq!(tsv("a\tb\nc\\"), "a\\tb\\nc\\\\");
    }
}
