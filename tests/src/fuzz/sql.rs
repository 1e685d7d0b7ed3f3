//! SQL-ish input generators the fuzz targets share: names, literals,
//! comments, nesting, statements and scripts.

use proptest::prelude::*;
use proptest::sample::{select, Index};

/// Words the splitter and the DDL parsers look for.
pub const KEYWORDS: &[&str] = &[
    "SELECT", "INSERT", "INTO", "FORMAT", "VALUES", "CREATE", "TABLE", "ENGINE", "Kafka",
    "MATERIALIZED", "VIEW", "TO", "SETTINGS", "FROM", "WHERE", "AS", "JOIN", "ON", "USE",
    "SET", "SHOW", "TABLES", "DESCRIBE", "DESC", "EXISTS", "DROP", "DETACH", "ATTACH", "IF",
    "NOT", "SYSTEM", "SYNC", "KAFKA", "REPLICA", "TIMEOUT", "NAMED", "COLLECTION",
    "OVERRIDABLE", "NOT OVERRIDABLE", "ALTER", "DELETE", "WITH", "EXPLAIN", "DATABASE",
    "FUNCTION", "GROUP BY", "ORDER BY", "LIMIT", "UNION ALL", "DEFAULT", "MATERIALIZED",
    "ALIAS", "CLUSTER", "POPULATE", "MergeTree", "Memory", "Null", "JSONEachRow", "CSV",
    "CSVWithNames", "TabSeparated", "TSV", "RawBLOB", "Avro", "AvroConfluent", "Protobuf",
    "Native", "Values", "kafka_broker_list", "kafka_topic_list", "kafka_group_name",
    "kafka_format", "kafka_num_consumers", "kafka_handle_error_mode", "kafka_max_block_size",
    "kafka_skip_broken_messages", "format_schema", "_topic", "_offset", "_partition", "_key",
    "_error", "_raw_message", "system.one", "default", "NULL", "true", "count()", "now()",
];

/// Punctuation, quote and comment openers, control characters.
pub const PUNCT: &[&str] = &[
    ";", ";;", "(", ")", ",", ".", "=", "*", "::", "[", "]", "{", "}", "\\", "?", ":", "@",
    "#", "'", "\"", "`", "--", "/*", "*/", "$", "$$", "\n", "\r\n", "\t", "\0", "\u{feff}",
    "\u{a0}", "\u{2028}",
];

/// Column types, simple ones.
pub const SIMPLE_TYPES: &[&str] = &[
    "Int8", "Int16", "Int32", "Int64", "Int128", "Int256", "UInt8", "UInt16", "UInt32",
    "UInt64", "UInt128", "UInt256", "Float32", "Float64", "Bool", "String", "Date", "Date32",
    "DateTime", "UUID", "IPv4", "IPv6", "Nothing", "Decimal", "Enum8", "Nullable",
    "INT", "BIGINT", "TEXT", "VARCHAR", "double", "JSON", "Object('json')", "Dynamic",
    "Variant(String, UInt8)", "SimpleAggregateFunction(sum, UInt64)", "Point",
];

pub const FORMATS: &[&str] = &[
    "JSONEachRow", "JSONCompactEachRow", "CSV", "CSVWithNames", "TSV", "TabSeparated",
    "TabSeparatedWithNames", "RawBLOB", "Avro", "AvroConfluent", "Protobuf", "Native",
    "Values", "JSON", "Pretty", "Parquet", "LineAsString", "Null", "x", "",
];

/// Names: mostly from a small pool (so that statements meet the same
/// tables), sometimes new ones; never a table function's name.
pub fn name() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => select(&["t", "q", "kq", "v", "dest", "src", "kc", "db", "default"][..])
            .prop_map(str::to_string),
        1 => "[a-z]{1,5}[0-9]",
        1 => "`[^`]{0,6}`",
        1 => "\"[^\"]{0,6}\"",
        1 => "[\\p{L}]{1,4}",
    ]
}

/// `[db.]name`.
pub fn object_name() -> impl Strategy<Value = String> {
    (proptest::option::of(name()), name()).prop_map(|(db, n)| match db {
        Some(db) => format!("{db}.{n}"),
        None => n,
    })
}

/// Literals in every quote style, escaped, doubled and unterminated.
pub fn quoted() -> impl Strategy<Value = String> {
    prop_oneof![
        "'[^'\\\\]{0,10}'",
        "'([^'\\\\]|\\\\.|''){0,10}'",
        "\"[^\"]{0,10}\"",
        "`[^`]{0,10}`",
        "'[^']{0,10}",
        "\\$\\$[^$]{0,10}\\$\\$",
        "\\$[a-z]{0,3}\\$[^$]{0,10}\\$[a-z]{0,3}\\$",
        "[eEbBxX]'[0-9a-fA-F\\\\']{0,8}'",
    ]
}

pub fn comment() -> impl Strategy<Value = String> {
    prop_oneof![
        "-- [^\n]{0,12}\n",
        "--[^\n]{0,12}",
        "#[^\n]{0,8}\n",
        "/\\*[^*]{0,12}\\*/",
        "/\\* /\\* [^*]{0,6} \\*/ \\*/",
        "/\\*[^*]{0,12}",
    ]
}

pub fn number() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<i64>().prop_map(|n| n.to_string()),
        any::<u64>().prop_map(|n| n.to_string()),
        any::<f64>().prop_map(|n| n.to_string()),
        "[0-9]{19,60}",
        "-?[0-9]{1,5}\\.[0-9]{0,5}([eE][+-]?[0-9]{1,4})?",
        "0[xXbB][0-9a-fA-F_]{1,20}",
        select(&["inf", "-inf", "nan", "1e400", "-0", "0x", "1_000", "18446744073709551616"][..])
            .prop_map(str::to_string),
    ]
}

/// `$1` placeholders, some with numbers no usize holds.
pub fn placeholder() -> impl Strategy<Value = String> {
    prop_oneof![
        (1usize..12).prop_map(|n| format!("${n}")),
        "\\$[0-9]{1,30}",
        "\\$[a-z]{0,3}",
        Just("$0".to_string()),
    ]
}

/// How deep to nest: past any sane limit, and past what a thread's stack
/// holds for a recursive reader.
pub fn depth() -> impl Strategy<Value = usize> {
    prop_oneof![4 => 1usize..300, 2 => 300usize..5_000, 1 => 5_000usize..30_000]
}

/// Parentheses (or brackets) thousands deep, balanced or not.
pub fn nesting() -> impl Strategy<Value = String> {
    (depth(), select(&["(", "[", "Array(", "tuple(", "(SELECT "][..]), any::<Index>())
        .prop_map(|(open, opener, close)| {
            let closer = if opener.ends_with('(') || opener.ends_with(' ') { ")" } else { "]" };
            format!("{}1{}", opener.repeat(open), closer.repeat(close.index(open + 3)))
        })
}

/// Texts around ClickHouse's max_query_size (262,144 bytes): one long
/// literal, comment or name, INSERT data, thousands of statements.
pub fn big() -> impl Strategy<Value = String> {
    (
        240_000usize..320_000,
        select(&["SELECT '{}'", "SELECT 1 /* {} */", "SELECT `{}`", "INSERT INTO t FORMAT CSV\n{}", "SELECT {}"][..]),
        select(&["a", "1,'x'\n", "SELECT 1;", "(", "\\'", "é"][..]),
    )
        .prop_map(|(size, template, unit)| template.replace("{}", &unit.repeat(size / unit.len())))
}

pub fn non_ascii() -> impl Strategy<Value = String> {
    prop_oneof!["\\PC{1,8}", "[\u{80}-\u{10ffff}]{1,4}", "[ёжзъ€😀\u{301}]{1,6}"]
}

/// Random bytes as text (invalid UTF-8 replaced).
pub fn lossy_bytes() -> impl Strategy<Value = String> {
    proptest::collection::vec(any::<u8>(), 0..48)
        .prop_map(|b| String::from_utf8_lossy(&b).into_owned())
}

/// One piece of a soup.
pub fn fragment() -> impl Strategy<Value = String> {
    prop_oneof![
        8 => select(KEYWORDS).prop_map(str::to_string),
        2 => select(KEYWORDS).prop_map(|k| k.to_lowercase()),
        5 => select(PUNCT).prop_map(str::to_string),
        4 => name(),
        3 => quoted(),
        2 => comment(),
        2 => number(),
        2 => placeholder(),
        1 => nesting(),
        1 => non_ascii(),
        1 => lossy_bytes(),
        1 => any::<String>(),
    ]
}

pub fn separator() -> impl Strategy<Value = &'static str> {
    select(&[" ", " ", " ", "", "\n", "\t", "  ", "\r\n", ";", "; ", ";\n"][..])
}

/// Fragments in any order.
pub fn soup() -> impl Strategy<Value = String> {
    proptest::collection::vec((fragment(), separator()), 0..40).prop_map(|parts| {
        parts
            .into_iter()
            .flat_map(|(f, s)| [f, s.to_string()])
            .collect()
    })
}

/// A column type: nested, with parameters in and out of range, named
/// and unnamed tuples, enums with awkward names.
pub fn type_name() -> impl Strategy<Value = String> {
    let param = || {
        prop_oneof![
            4 => (0i64..80).prop_map(|n| n.to_string()),
            1 => any::<i64>().prop_map(|n| n.to_string()),
            1 => "[0-9]{19,40}",
            1 => select(&["", "-1", "1.5", "'x'", "x", "256", "65536", "16777216"][..])
                .prop_map(str::to_string),
        ]
    };
    let timezone = || {
        prop_oneof![
            select(&["'UTC'", "'Europe/Amsterdam'", "'Nowhere/City'", "''", "UTC", "'"][..])
                .prop_map(str::to_string),
            quoted(),
        ]
    };
    let enum_value = (
        prop_oneof!["'[a-z]{0,4}'", "'([^'\\\\]|\\\\.|''){0,6}'", non_ascii().prop_map(|s| format!("'{s}'"))],
        param(),
    )
        .prop_map(|(n, v)| format!("{n} = {v}"));
    let leaf = prop_oneof![
        6 => select(SIMPLE_TYPES).prop_map(str::to_string),
        1 => (param(), param()).prop_map(|(p, s)| format!("Decimal({p}, {s})")),
        1 => (select(&["Decimal32", "Decimal64", "Decimal128", "Decimal256"][..]), param())
            .prop_map(|(d, s)| format!("{d}({s})")),
        1 => param().prop_map(|n| format!("FixedString({n})")),
        1 => timezone().prop_map(|tz| format!("DateTime({tz})")),
        1 => (param(), proptest::option::of(timezone())).prop_map(|(p, tz)| match tz {
            Some(tz) => format!("DateTime64({p}, {tz})"),
            None => format!("DateTime64({p})"),
        }),
        1 => (select(&["Enum8", "Enum16", "Enum"][..]), proptest::collection::vec(enum_value, 0..5))
            .prop_map(|(e, values)| format!("{e}({})", values.join(", "))),
        1 => name(),
    ];
    leaf.prop_recursive(6, 48, 4, |inner| {
        prop_oneof![
            2 => inner.clone().prop_map(|t| format!("Array({t})")),
            2 => inner.clone().prop_map(|t| format!("Nullable({t})")),
            2 => inner.clone().prop_map(|t| format!("LowCardinality({t})")),
            1 => (inner.clone(), inner.clone()).prop_map(|(k, v)| format!("Map({k}, {v})")),
            1 => proptest::collection::vec((proptest::option::of(name()), inner.clone()), 0..4)
                .prop_map(|elems| {
                    let elems: Vec<String> = elems
                        .into_iter()
                        .map(|(n, t)| match n {
                            Some(n) => format!("{n} {t}"),
                            None => t,
                        })
                        .collect();
                    format!("Tuple({})", elems.join(", "))
                }),
            1 => proptest::collection::vec((name(), inner), 0..3).prop_map(|elems| {
                let elems: Vec<String> = elems.into_iter().map(|(n, t)| format!("{n} {t}")).collect();
                format!("Nested({})", elems.join(", "))
            }),
        ]
    })
}

/// A type nested thousands deep, closed or not.
pub fn deep_type() -> impl Strategy<Value = String> {
    (
        depth(),
        select(&["Array(", "Nullable(", "LowCardinality(", "Tuple(", "Map(String, ", "Tuple(a "][..]),
        select(&["UInt8", "String", ""][..]),
        any::<bool>(),
    )
        .prop_map(|(depth, wrapper, leaf, closed)| {
            let close = if closed { depth } else { depth / 2 };
            format!("{}{leaf}{}", wrapper.repeat(depth), ")".repeat(close))
        })
}

/// What a type-reading parser may meet: well-formed types, deep ones,
/// and damaged ones.
pub fn type_text() -> impl Strategy<Value = String> {
    prop_oneof![
        6 => type_name(),
        2 => deep_type(),
        3 => damaged(type_name()),
        1 => soup(),
    ]
}

/// What to do to a text at a position.
#[derive(Debug, Clone)]
pub enum Damage {
    Insert(String),
    Delete(usize),
    Truncate,
}

/// `text` with a few insertions, deletions or a cut.
pub fn damaged(text: impl Strategy<Value = String>) -> impl Strategy<Value = String> {
    let damage = prop_oneof![
        3 => fragment().prop_map(Damage::Insert),
        2 => (1usize..8).prop_map(Damage::Delete),
        1 => Just(Damage::Truncate),
    ];
    (text, proptest::collection::vec((any::<Index>(), damage), 0..4)).prop_map(|(mut text, damages)| {
        for (at, damage) in damages {
            let mut pos = at.index(text.len() + 1);
            while !text.is_char_boundary(pos) {
                pos -= 1;
            }
            match damage {
                Damage::Insert(s) => text.insert_str(pos, &s),
                Damage::Delete(n) => {
                    let mut end = (pos + n).min(text.len());
                    while !text.is_char_boundary(end) {
                        end += 1;
                    }
                    text.replace_range(pos..end, "");
                }
                Damage::Truncate => text.truncate(pos),
            }
        }
        text
    })
}

fn list(
    item: impl Strategy<Value = String>,
    len: std::ops::Range<usize>,
) -> impl Strategy<Value = String> {
    proptest::collection::vec(item, len).prop_map(|items| items.join(", "))
}

/// A setting's value.
pub fn value() -> impl Strategy<Value = String> {
    prop_oneof![quoted(), number(), name(), Just("'127.0.0.1:1'".to_string()), soup()]
}

/// `CREATE TABLE ... ENGINE = Kafka ...` in its forms.
pub fn create_kafka_table() -> impl Strategy<Value = String> {
    let column = (
        name(),
        type_text(),
        proptest::option::of((select(&["DEFAULT", "MATERIALIZED", "ALIAS", "CODEC"][..]), value())),
    )
        .prop_map(|(n, t, extra)| match extra {
            Some((k, v)) => format!("{n} {t} {k} {v}"),
            None => format!("{n} {t}"),
        });
    let setting = (
        prop_oneof![
            3 => select(&[
                "kafka_broker_list", "kafka_topic_list", "kafka_group_name", "kafka_format",
                "kafka_num_consumers", "kafka_handle_error_mode", "kafka_max_block_size",
                "kafka_skip_broken_messages", "kafka_row_delimiter", "format_schema",
                "kafka_schema", "kafka_commit_every_batch", "kafka_thread_per_consumer",
                "kafka_poll_timeout_ms", "kafka_flush_interval_ms", "kafka_client_id",
            ][..]).prop_map(str::to_string),
            1 => name(),
        ],
        value(),
    )
        .prop_map(|(k, v)| format!("{k} = {v}"));
    (
        any::<bool>(),
        object_name(),
        list(column, 0..5),
        select(&["ENGINE = Kafka", "ENGINE=Kafka", "engine = kafka", "ENGINE = Kafka()", "ENGINE = MergeTree"][..]),
        proptest::option::of(list(value(), 0..6)),
        proptest::option::of(list(setting, 0..8)),
    )
        .prop_map(|(if_not_exists, table, columns, engine, args, settings)| {
            let mut sql = format!(
                "CREATE TABLE {}{table} ({columns}) {engine}",
                if if_not_exists { "IF NOT EXISTS " } else { "" }
            );
            if let Some(args) = args {
                sql.push_str(&format!("({args})"));
            }
            if let Some(settings) = settings {
                sql.push_str(&format!(" SETTINGS {settings}"));
            }
            sql
        })
}

/// `CREATE MATERIALIZED VIEW ... TO ... AS SELECT ...`.
pub fn create_materialized_view() -> impl Strategy<Value = String> {
    (
        object_name(),
        proptest::option::of(object_name()),
        proptest::option::of(list((name(), type_text()).prop_map(|(n, t)| format!("{n} {t}")), 0..3)),
        soup(),
        object_name(),
        proptest::option::of(select(FORMATS)),
        select(&["", "IF NOT EXISTS ", "OR REPLACE "][..]),
    )
        .prop_map(|(view, to, columns, select_list, source, format, flag)| {
            let mut sql = format!("CREATE MATERIALIZED VIEW {flag}{view}");
            if let Some(to) = to {
                sql.push_str(&format!(" TO {to}"));
            }
            if let Some(columns) = columns {
                sql.push_str(&format!(" ({columns})"));
            }
            sql.push_str(&format!(" AS SELECT {select_list} FROM {source}"));
            if let Some(format) = format {
                sql.push_str(&format!(" FORMAT {format}"));
            }
            sql
        })
}

/// `CREATE | ALTER | DROP NAMED COLLECTION`.
pub fn named_collection() -> impl Strategy<Value = String> {
    let pair = || {
        (name(), value(), select(&["", " OVERRIDABLE", " NOT OVERRIDABLE"][..]))
            .prop_map(|(k, v, o)| format!("{k} = {v}{o}"))
    };
    prop_oneof![
        (select(&["", "IF NOT EXISTS "][..]), name(), proptest::option::of(name()), list(pair(), 0..5))
            .prop_map(|(flag, n, cluster, pairs)| match cluster {
                Some(c) => format!("CREATE NAMED COLLECTION {flag}{n} ON CLUSTER {c} AS {pairs}"),
                None => format!("CREATE NAMED COLLECTION {flag}{n} AS {pairs}"),
            }),
        (name(), proptest::option::of(list(pair(), 0..4)), proptest::option::of(list(name(), 0..3)))
            .prop_map(|(n, set, delete)| {
                let mut sql = format!("ALTER NAMED COLLECTION {n}");
                if let Some(set) = set {
                    sql.push_str(&format!(" SET {set}"));
                }
                if let Some(delete) = delete {
                    sql.push_str(&format!(" DELETE {delete}"));
                }
                sql
            }),
        (select(&["", "IF EXISTS "][..]), name()).prop_map(|(f, n)| format!("DROP NAMED COLLECTION {f}{n}")),
    ]
}

/// Statements kafkahouse classifies, with their parts generated.
pub fn statement() -> impl Strategy<Value = String> {
    prop_oneof![
        2 => (soup(), object_name(), proptest::option::of(select(FORMATS)))
            .prop_map(|(list, table, format)| match format {
                Some(f) => format!("SELECT {list} FROM {table} FORMAT {f}"),
                None => format!("SELECT {list} FROM {table}"),
            }),
        2 => (object_name(), select(FORMATS), soup())
            .prop_map(|(t, f, data)| format!("INSERT INTO {t} FORMAT {f}\n{data}")),
        1 => (object_name(), soup()).prop_map(|(t, v)| format!("INSERT INTO TABLE {t} VALUES ({v})")),
        1 => (object_name(), soup()).prop_map(|(t, rest)| format!("INSERT INTO {t} SELECT {rest}")),
        2 => create_kafka_table(),
        2 => create_materialized_view(),
        1 => named_collection(),
        1 => (
            select(&["USE", "DROP TABLE", "DROP TABLE IF EXISTS", "DROP VIEW", "DETACH TABLE", "ATTACH TABLE IF NOT EXISTS",
                "DESCRIBE", "DESCRIBE TABLE", "EXISTS TABLE", "SHOW CREATE TABLE", "SHOW TABLES FROM", "DROP DATABASE",
                "SYSTEM SYNC KAFKA", "SYSTEM SYNC REPLICA", "SET", "EXPLAIN SELECT * FROM"][..]),
            object_name(),
            soup(),
        )
            .prop_map(|(head, n, rest)| format!("{head} {n} {rest}")),
        1 => (object_name(), number()).prop_map(|(n, t)| format!("SYSTEM SYNC KAFKA {n} TIMEOUT {t}")),
        1 => list((name(), value()).prop_map(|(k, v)| format!("{k} = {v}")), 0..4)
            .prop_map(|s| format!("SET {s}")),
    ]
}

/// A query text: statements and soups, joined by semicolons and
/// whitespace, then perhaps damaged.
pub fn script() -> impl Strategy<Value = String> {
    let piece = prop_oneof![3 => statement(), 2 => soup(), 1 => damaged(statement())];
    damaged(proptest::collection::vec((piece, separator()), 0..5).prop_map(|parts| {
        parts
            .into_iter()
            .flat_map(|(p, s)| [p, s.to_string()])
            .collect::<String>()
    }))
}
