//! A view's SELECT as the embedded ClickHouse engine runs it over one block:
//! the user's text as written, with each reference to the Kafka table
//! pointed at the block (registered as `arrowstream(name)`), its columns
//! converted back from their Arrow form to the types the table declares;
//! and the engine's errors put back in the user's terms. Uses the
//! planner's token readers and the catalog's types and quoting.

use sqlparser::keywords::Keyword;
use sqlparser::tokenizer::Token;

use catalog::kafka::{error_columns, virtual_columns};
use catalog::{quote, ChType, ColumnDef};

/// The columns a view reads, in ClickHouse types: the table's, then its
/// virtual columns (with `_raw_message` and `_error` when it streams parse
/// errors), in the order of `view::source_schema`.
pub fn source_columns(columns: &[ColumnDef], stream_errors: bool) -> Vec<(String, ChType)> {
    let mut all: Vec<(String, ChType)> = columns
        .iter()
        .map(|c| (c.name.clone(), c.ty.clone()))
        .collect();
    all.extend(
        virtual_columns()
            .into_iter()
            .map(|(n, t)| (n.to_string(), t)),
    );
    if stream_errors {
        all.extend(error_columns().into_iter().map(|(n, t)| (n.to_string(), t)));
    }
    all
}

/// `select_sql`, a SELECT over the Kafka table `database.table` with
/// `columns`, as the engine runs it over a block of that table registered
/// as `stream` (with `_raw_message` and `_error` when `stream_errors`).
pub fn over_kafka_block(
    select_sql: &str,
    (database, table): (&str, &str),
    columns: &[ColumnDef],
    stream_errors: bool,
    stream: &str,
) -> String {
    let names: Vec<String> = columns.iter().map(|c| c.name.clone()).collect();
    let block = block_source(&source_columns(columns, stream_errors), stream);
    over_block(select_sql, database, table, &names, &block)
}

/// `message`, an error of the engine about a query made by
/// [`over_kafka_block`], as the user wrote the query: ClickHouse quotes the
/// query it ran (in its own formatting), in which each `(SELECT ... FROM
/// arrowstream(...))` stands where the user named `table`.
pub fn as_written(message: &str, table: &str) -> String {
    let mut message = message.to_string();
    while let Some(at) = message.find("arrowstream(") {
        let Some(open) = message[..at].rfind("(SELECT ") else {
            break;
        };
        let Some(close) = message[at..].find("))").map(|i| at + i + 2) else {
            break;
        };
        let mut end = close;
        for alias in [format!(" AS {table}"), format!(" AS `{table}`")] {
            if message[close..].starts_with(&alias) {
                end = close + alias.len();
            }
        }
        message.replace_range(open..end, table);
    }
    message
}

/// The block registered as `stream`, as a subquery with `columns` in the
/// types the table declares.
fn block_source(columns: &[(String, ChType)], stream: &str) -> String {
    let conversions: Vec<String> = columns
        .iter()
        .map(|(name, ty)| format!("{} AS {}", from_arrow(name, ty), quote::identifier(name)))
        .collect();
    format!(
        "(SELECT {} FROM arrowstream({}))",
        conversions.join(", "),
        quote::identifier(stream)
    )
}

/// `select_sql` with every `FROM`/`JOIN` reference to `database.table` (or
/// `table`) reading `block` (from [`block_source`]), under the table's name
/// unless the user gave it an alias; and `*` (or `alias.*`) in the SELECT
/// list spelled as the table's own `columns`, which is what ClickHouse's `*`
/// means for a Kafka table (the block also carries the virtual columns).
fn over_block(
    select_sql: &str,
    database: &str,
    table: &str,
    columns: &[String],
    block: &str,
) -> String {
    let tokens = crate::tokens::significant(select_sql);
    let mut edits: Vec<(std::ops::Range<usize>, String)> = stars(&tokens)
        .into_iter()
        .map(|(range, qualifier)| {
            let spelled: Vec<String> = columns
                .iter()
                .map(|c| format!("{qualifier}{}", quote::identifier(c)))
                .collect();
            (range, spelled.join(", "))
        })
        .collect();
    for (name, range) in crate::split::table_references(select_sql) {
        let ours = name.name == table && name.database.as_deref().is_none_or(|d| d == database);
        if ours {
            let alias = if has_alias(&tokens, range.end) {
                String::new()
            } else {
                format!(" AS {}", quote::identifier(table))
            };
            edits.push((range, format!("{block}{alias}")));
        }
    }
    edits.sort_by_key(|(range, _)| range.start);
    let mut out = String::with_capacity(select_sql.len() + block.len());
    let mut copied = 0;
    for (range, text) in edits {
        if range.start < copied {
            continue;
        }
        out.push_str(&select_sql[copied..range.start]);
        out.push_str(&text);
        copied = range.end;
    }
    out.push_str(&select_sql[copied..]);
    out
}

/// The `*` and `alias.*` items of the outermost SELECT list: each one's byte
/// range and its qualifier as written (`alias.` or empty). An item followed
/// by a column transformer (`* EXCEPT (...)`) is left alone.
fn stars(tokens: &[crate::tokens::Tok]) -> Vec<(std::ops::Range<usize>, String)> {
    let mut found = Vec::new();
    let mut depth = 0i32;
    for (i, t) in tokens.iter().enumerate() {
        match &t.token {
            Token::LParen => depth += 1,
            Token::RParen => depth -= 1,
            _ if depth == 0 && t.is_keyword(Keyword::FROM) => break,
            Token::Mul if depth == 0 => {
                let before = i.checked_sub(1).and_then(|j| tokens.get(j));
                let after = tokens.get(i + 1);
                let item_ends =
                    after.is_none_or(|a| a.token == Token::Comma || a.is_keyword(Keyword::FROM));
                if !item_ends {
                    continue;
                }
                match before.map(|b| &b.token) {
                    Some(Token::Period) => {
                        let Some(q) = i.checked_sub(2).and_then(|j| tokens.get(j)) else {
                            continue;
                        };
                        if matches!(q.token, Token::Word(_)) {
                            found.push((q.start..t.end, format!("{}.", &tokens_text(q))));
                        }
                    }
                    Some(Token::Comma) => found.push((t.start..t.end, String::new())),
                    Some(Token::Word(w))
                        if w.keyword == Keyword::SELECT || w.keyword == Keyword::DISTINCT =>
                    {
                        found.push((t.start..t.end, String::new()))
                    }
                    _ => {}
                }
            }
            _ => {}
        }
    }
    found
}

/// A name token as ClickHouse would read it back.
fn tokens_text(t: &crate::tokens::Tok) -> String {
    quote::identifier(t.name().unwrap_or_default())
}

/// Whether the table reference ending at byte `end` is followed by an alias
/// (`q AS x`, `q x`).
fn has_alias(tokens: &[crate::tokens::Tok], end: usize) -> bool {
    let Some(next) = tokens.iter().find(|t| t.start >= end) else {
        return false;
    };
    match &next.token {
        Token::Word(w) if w.quote_style.is_some() => true,
        Token::Word(w) => w.keyword == Keyword::AS || w.keyword == Keyword::NoKeyword,
        _ => false,
    }
}

/// The column `name` of the block, read back into `ty` from the Arrow form
/// `ChType::to_arrow` gives it.
fn from_arrow(name: &str, ty: &ChType) -> String {
    let column = quote::identifier(name);
    match ty {
        // Kept as ClickHouse's little-endian bytes.
        ChType::Int256 => format!("reinterpretAsInt256({column})"),
        ChType::UInt256 => format!("reinterpretAsUInt256({column})"),
        // ClickHouse's UUID bytes are two little-endian halves;
        // reinterpretAsUUID reads them big-endian.
        ChType::Uuid => format!(
            "reinterpretAsUUID(concat(reverse(substring({column}, 1, 8)), reverse(substring({column}, 9, 8))))"
        ),
        _ => format!("CAST({column}, {})", quote::string(&ty.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn columns() -> Vec<(String, ChType)> {
        vec![
            ("n".into(), ChType::UInt32),
            ("t".into(), ChType::parse("DateTime('UTC')").unwrap()),
        ]
    }

    const BLOCK: &str = "(SELECT CAST(`n`, 'UInt32') AS `n`, CAST(`t`, 'DateTime(\\'UTC\\')') AS `t` FROM arrowstream(`s1`))";

    fn over(select: &str) -> String {
        let names = ["n".to_string(), "t".to_string()];
        over_block(select, "db", "q", &names, &block_source(&columns(), "s1"))
    }

    #[test]
    fn references_to_the_table_read_the_block() {
        assert_eq!(
            over("SELECT n * 2 AS n FROM q WHERE n > 1"),
            format!("SELECT n * 2 AS n FROM {BLOCK} AS `q` WHERE n > 1")
        );
        assert_eq!(
            over("SELECT q.n FROM db.q"),
            format!("SELECT q.n FROM {BLOCK} AS `q`")
        );
    }

    #[test]
    fn a_star_is_the_tables_own_columns() {
        assert_eq!(
            over("SELECT *, _offset AS o FROM q"),
            format!("SELECT `n`, `t`, _offset AS o FROM {BLOCK} AS `q`")
        );
        assert_eq!(
            over("SELECT x.* FROM q x WHERE n IN (SELECT 1)"),
            format!("SELECT `x`.`n`, `x`.`t` FROM {BLOCK} x WHERE n IN (SELECT 1)")
        );
        assert_eq!(over("SELECT n * 2 FROM q").matches("n * 2").count(), 1);
    }

    #[test]
    fn errors_name_the_table_not_the_block() {
        let ran = "Code: 46. Unknown function nosuch. In scope SELECT nosuch(n) FROM \
                   (SELECT CAST(n, 'UInt32') AS n FROM arrowstream(s1)) AS q. (UNKNOWN_FUNCTION)";
        assert_eq!(
            as_written(ran, "q"),
            "Code: 46. Unknown function nosuch. In scope SELECT nosuch(n) FROM q. (UNKNOWN_FUNCTION)"
        );
        assert_eq!(as_written("no query here", "q"), "no query here");
    }

    #[test]
    fn aliases_and_other_tables_are_kept() {
        assert_eq!(
            over("SELECT x.n FROM q AS x JOIN dims d ON d.n = x.n"),
            format!("SELECT x.n FROM {BLOCK} AS x JOIN dims d ON d.n = x.n")
        );
        assert_eq!(over("SELECT n FROM other.q"), "SELECT n FROM other.q");
    }
}
