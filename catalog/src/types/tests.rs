//! Tests of the type model: parsing, printing, Arrow mapping, limits.

use super::*;

fn roundtrip(input: &str, canonical: &str) {
    let ty = ChType::parse(input).unwrap_or_else(|e| panic!("{input}: {e}"));
    assert_eq!(ty.to_string(), canonical, "canonical form of {input}");
    assert_eq!(
        ChType::parse(canonical).as_ref(),
        Ok(&ty),
        "reparse of {canonical}"
    );
}

#[test]
fn scalar_types_keep_their_names() {
    for name in [
        "Int8", "Int16", "Int32", "Int64", "Int128", "Int256", "UInt8", "UInt16", "UInt32",
        "UInt64", "UInt128", "UInt256", "Float32", "Float64", "Bool", "String", "Date",
        "Date32", "DateTime", "UUID", "IPv4", "IPv6",
    ] {
        roundtrip(name, name);
    }
}

#[test]
fn parameterised_types() {
    roundtrip("FixedString(16)", "FixedString(16)");
    roundtrip("Decimal(10,2)", "Decimal(10, 2)");
    roundtrip("Decimal32(4)", "Decimal(9, 4)");
    roundtrip("Decimal256(10)", "Decimal(76, 10)");
    roundtrip("DateTime('Europe/Moscow')", "DateTime('Europe/Moscow')");
    roundtrip("DateTime64(3)", "DateTime64(3)");
    roundtrip("DateTime64(6, 'UTC')", "DateTime64(6, 'UTC')");
    roundtrip(
        "Map(LowCardinality(String), Array(Nullable(UInt64)))",
        "Map(LowCardinality(String), Array(Nullable(UInt64)))",
    );
    roundtrip("Tuple(UInt8, String)", "Tuple(UInt8, String)");
    roundtrip(
        "Tuple(a UInt8, b Array(String))",
        "Tuple(a UInt8, b Array(String))",
    );
    roundtrip("Nullable(Nothing)", "Nullable(Nothing)");
}

#[test]
fn enums_with_and_without_values() {
    roundtrip(
        "Enum('none' = 0, 'open' = 1, 'closed' = 2)",
        "Enum8('none' = 0, 'open' = 1, 'closed' = 2)",
    );
    roundtrip("Enum('a', 'b')", "Enum8('a' = 1, 'b' = 2)");
    roundtrip("Enum('big' = 1000)", "Enum16('big' = 1000)");
    roundtrip("Enum16('x' = -5)", "Enum16('x' = -5)");
    roundtrip(r"Enum8('it\'s' = 1)", r"Enum8('it\'s' = 1)");
    assert!(ChType::parse("Enum8('big' = 1000)").is_err());
    assert!(ChType::parse("Enum('a' = 1, 'b')").is_err());
}

#[test]
fn sql_aliases_map_to_clickhouse_types() {
    assert_eq!(ChType::parse("BIGINT"), Ok(ChType::Int64));
    assert_eq!(ChType::parse("varchar"), Ok(ChType::String));
}

#[test]
fn bad_types_are_errors() {
    for bad in [
        "",
        "Foo",
        "Array(",
        "Array(String",
        "FixedString(0)",
        "Decimal(80, 2)",
        "DateTime64(12)",
        "String extra",
    ] {
        assert!(ChType::parse(bad).is_err(), "{bad} should not parse");
    }
}

#[test]
fn arrow_mapping() {
    let ty = ChType::parse("Array(LowCardinality(String))").unwrap();
    assert_eq!(
        ty.to_arrow(),
        DataType::List(Field::new("item", DataType::Utf8, false).into())
    );
    let nullable = ChType::parse("Nullable(UInt64)").unwrap();
    let field = nullable.to_arrow_field("x");
    assert!(field.is_nullable());
    assert_eq!(field.data_type(), &DataType::UInt64);
    assert_eq!(
        ChType::parse("DateTime64(3, 'UTC')").unwrap().to_arrow(),
        DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into()))
    );
    assert_eq!(
        ChType::parse("Decimal(10, 2)").unwrap().to_arrow(),
        DataType::Decimal128(10, 2)
    );
    assert_eq!(
        ChType::parse("Decimal(50, 2)").unwrap().to_arrow(),
        DataType::Decimal256(50, 2)
    );
    assert_eq!(
        ChType::parse("Enum('a', 'b')").unwrap().to_arrow(),
        DataType::Utf8
    );
    match ChType::parse("Map(String, UInt8)").unwrap().to_arrow() {
        DataType::Map(entries, false) => match entries.data_type() {
            DataType::Struct(fields) => {
                assert_eq!(fields[0].name(), "key");
                assert_eq!(fields[1].data_type(), &DataType::UInt8);
            }
            other => panic!("map entries are {other:?}"),
        },
        other => panic!("Map maps to {other:?}"),
    }
    match ChType::parse("Tuple(a UInt8, String)").unwrap().to_arrow() {
        DataType::Struct(fields) => {
            assert_eq!(fields[0].name(), "a");
            assert_eq!(fields[1].name(), "2");
        }
        other => panic!("Tuple maps to {other:?}"),
    }
}

#[test]
fn tutorial_destination_columns_parse() {
    let ty = ChType::parse("Enum('CommitCommentEvent' = 1, 'CreateEvent' = 2, 'DeleteEvent' = 3, 'ForkEvent' = 4, 'GollumEvent' = 5, 'IssueCommentEvent' = 6, 'IssuesEvent' = 7, 'MemberEvent' = 8, 'PublicEvent' = 9, 'PullRequestEvent' = 10, 'PullRequestReviewCommentEvent' = 11, 'PushEvent' = 12, 'ReleaseEvent' = 13, 'SponsorshipEvent' = 14, 'WatchEvent' = 15, 'GistEvent' = 16, 'FollowEvent' = 17, 'DownloadEvent' = 18, 'PullRequestReviewEvent' = 19, 'ForkApplyEvent' = 20, 'Event' = 21, 'TeamAddEvent' = 22)").unwrap();
    match ty {
        ChType::Enum8(values) => assert_eq!(values.len(), 22),
        other => panic!("got {other}"),
    }
}

#[test]
fn serde_uses_the_clickhouse_spelling() {
    let ty = ChType::parse("Array(Nullable(DateTime('UTC')))").unwrap();
    let json = serde_json::to_string(&ty).unwrap();
    assert_eq!(json, "\"Array(Nullable(DateTime('UTC')))\"");
    let back: ChType = serde_json::from_str(&json).unwrap();
    assert_eq!(back, ty);
}

#[test]
fn nesting_is_limited_before_the_stack_is() {
    let nested = |depth: usize| {
        format!("{}UInt8{}", "Array(".repeat(depth), ")".repeat(depth))
    };
    let deepest = nested(MAX_TYPE_DEPTH - 1);
    assert!(ChType::parse(&deepest).is_ok());
    for depth in [MAX_TYPE_DEPTH, 5_000, 1_000_000] {
        let e = ChType::parse(&nested(depth)).unwrap_err();
        assert!(e.too_deep, "depth {depth}");
        assert!(e.to_string().starts_with("Maximum parse depth (100) exceeded"), "{e}");
        assert!(e.to_string().len() < 300, "the message names only the start");
    }
    // Depth counts through every family that nests.
    let mixed = "Map(String, Tuple(a Nullable(String), b ".repeat(60) + "UInt8" + &"))".repeat(60);
    assert!(ChType::parse(&mixed).unwrap_err().too_deep);
}

#[test]
fn fixed_string_length_is_clickhouse_s_limit() {
    assert!(ChType::parse("FixedString(16777215)").is_ok());
    let e = ChType::parse("FixedString(1099511627776)").unwrap_err();
    assert!(!e.too_deep);
    assert!(ChType::parse("FixedString(16777216)").is_err());
}

#[test]
fn tuple_element_names_print_so_that_they_parse_back() {
    for input in [
        "Map(Int8, Tuple(`` DateTime('UTC')))",
        "Tuple(`a b` UInt8, `x\\`y` String, \"q\"\"r\" Int8, plain_1 Int8)",
    ] {
        let ty = ChType::parse(input).unwrap_or_else(|e| panic!("{input}: {e}"));
        let printed = ty.to_string();
        assert_eq!(ChType::parse(&printed).as_ref(), Ok(&ty), "{printed}");
    }
    assert_eq!(
        ChType::parse("Tuple(`a b` UInt8)").unwrap().to_string(),
        "Tuple(`a b` UInt8)"
    );
}
