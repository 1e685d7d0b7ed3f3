//! Formats and types: a topic carrying each format is consumed into a typed
//! destination, and the rows must equal what the embedded ClickHouse itself
//! parses from the same bytes (inserted with `INSERT ... FORMAT`). The
//! messages are ClickHouse's own rendering of rows holding every type of
//! seed 001, and kafkahouse's (INSERT INTO a Kafka table) for the way back.

use std::time::Duration;

use kafkahouse_tests::{
    avro_long, avro_string, confluent, serve_registry, Broker, ChHttp as Http, Kafkahouse,
};

/// Every type of seed 001's list, with extreme values in the rows below.
const COLUMNS: &str = "id UInt32, i8 Int8, i16 Int16, i32 Int32, i64 Int64, i128 Int128, \
    i256 Int256, u8 UInt8, u16 UInt16, u32 UInt32, u64 UInt64, u128 UInt128, u256 UInt256, \
    f32 Float32, f64 Float64, d Decimal(18, 4), d76 Decimal(76, 10), b Bool, s String, \
    fs FixedString(4), dt Date, d32 Date32, t DateTime('Asia/Tokyo'), t64 DateTime64(3, 'UTC'), \
    e8 Enum8('a' = 1, 'b' = 2), e16 Enum16('x' = 1000, 'y' = 2000), uuid UUID, ip4 IPv4, \
    ip6 IPv6, lc LowCardinality(String), n Nullable(Int32), m Map(String, UInt16), \
    tu Tuple(UInt8, String), tn Tuple(a Int32, b String), aa Array(Array(Int32))";

const ROWS: &str = "(1, -128, -32768, -2147483648, -9223372036854775808, \
    -170141183460469231731687303715884105728, \
    -57896044618658097711785492504343953926634992332820282019728792003956564819968, \
    255, 65535, 4294967295, 18446744073709551615, 340282366920938463463374607431768211455, \
    115792089237316195423570985008687907853269984665640564039457584007913129639935, \
    1.5, -2.25e100, 12345678901234.5678, -123456789012345678901234567890.0123456789, true, \
    'héllo \"q\" \\\\ , tab\\there\\nline', 'abcd', '2149-06-06', '1900-01-01', \
    '2020-01-02 03:04:05', '2020-01-02 03:04:05.678', 'b', 'y', \
    '61f0c404-5cb3-11e7-907b-a6006ad3dba0', '1.2.3.4', '2001:db8::1', 'low', NULL, \
    {'k1': 1, 'k2': 65535}, (7, 'seven'), (-1, 'minus'), [[1, 2], [], [3]]), \
    (2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, false, '', 'ab\\0\\0', '1970-01-01', \
    '1970-01-01', '1970-01-01 09:00:00', '1970-01-01 00:00:00', 'a', 'x', \
    '00000000-0000-0000-0000-000000000000', '0.0.0.0', '::', '', 5, {}, (0, ''), (0, ''), []), \
    (3, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 0.1, 0.2, -0.5, 1, true, 'three', 'x', \
    '2024-02-29', '2299-12-31', '2038-01-19 12:14:07', '2262-04-11 23:47:16.854', 'a', 'y', \
    'ffffffff-ffff-ffff-ffff-ffffffffffff', '255.255.255.255', 'ffff::ffff', 'l3', -7, \
    {'': 0}, (255, 'z'), (2147483647, ''), [[-1], [2147483647, -2147483648]]), \
    (4, -1, -2, -3, -4, -5, -6, 1, 2, 3, 4, 5, 6, -0.1, 1e-300, 0.0001, -1, false, '中文', 'four', \
    '2000-01-01', '1970-01-02', '2000-01-01 00:00:00', '1999-12-31 23:59:59.999', 'b', 'x', \
    '12345678-9abc-def0-1234-56789abcdef0', '10.0.0.1', '::ffff:10.0.0.1', 'l4', 0, \
    {'a': 1}, (1, 'one'), (-2147483648, 'min'), [[0]])";

/// The tutorial's kind of table, all of whose types the fast JSON decoder
/// reads (it must agree with the engine, or leave the block to it).
const TUTORIAL_COLUMNS: &str = "id UInt32, i8 Int8, u64 UInt64, i64 Int64, s String, \
    t DateTime, e8 Enum8('a' = 1, 'b' = 2), lc LowCardinality(String), n Nullable(Int32), \
    a Array(LowCardinality(String))";

const TUTORIAL_ROWS: &str = "(1, -128, 18446744073709551615, -9223372036854775808, 'héllo \"q\"', \
    '2020-01-02 03:04:05', 'b', 'low', NULL, ['x', 'y']), \
    (2, 0, 0, 0, '', '1970-01-01 00:00:00', 'a', '', 5, []), \
    (3, 127, 1, 9223372036854775807, 'three\\ttab', '2038-01-19 03:14:07', 'a', 'l3', -7, ['']), \
    (4, -1, 2, -1, '中文', '2106-02-07 06:28:15', 'b', 'l4', 0, ['z'])";

/// The formats whose messages are made from the typed rows.
const FORMATS: [&str; 9] = [
    "JSONEachRow",
    "JSONCompactEachRow",
    "JSONStringsEachRow",
    "CSV",
    "CSVWithNames",
    "TSV",
    "TSVWithNames",
    "Avro",
    "MsgPack",
];

/// One format's topic: messages id 1, id 2, then ids 3 and 4 in one message
/// (where the format allows several rows in a message).
async fn messages_of(http: &Http, table: &str, format: &str) -> Vec<Vec<u8>> {
    let mut messages = Vec::new();
    for ids in ["1", "2", "3, 4"] {
        messages.push(
            http.post(
                &format!("SELECT * FROM {table} WHERE id IN ({ids}) ORDER BY id FORMAT {format}"),
                Vec::new(),
            )
            .await,
        );
    }
    messages
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_format_reads_what_clickhouse_reads_from_the_same_bytes() {
    let broker = Broker::start();
    let dir = tempfile::tempdir().expect("temp dir");
    let server = Kafkahouse::embedded(dir.path());
    let http = Http::new(&server);
    let b = &broker.bootstrap;

    http.run(&format!(
        "CREATE TABLE src ({COLUMNS}) ENGINE = MergeTree ORDER BY id"
    ))
    .await;
    http.run(&format!("INSERT INTO src VALUES {ROWS}")).await;
    http.run(&format!(
        "CREATE TABLE tutorial_src ({TUTORIAL_COLUMNS}) ENGINE = MergeTree ORDER BY id"
    ))
    .await;
    http.run(&format!("INSERT INTO tutorial_src VALUES {TUTORIAL_ROWS}"))
        .await;

    // (name, source rows, columns, format)
    let mut cases: Vec<(String, &str, &str, &str)> = FORMATS
        .iter()
        .map(|f| (f.to_lowercase(), "src", COLUMNS, *f))
        .collect();
    cases.push((
        "tutorial".into(),
        "tutorial_src",
        TUTORIAL_COLUMNS,
        "JSONEachRow",
    ));

    for (name, source, columns, format) in &cases {
        broker.create_topic(&format!("in_{name}"), 1);
        broker.create_topic(&format!("out_{name}"), 1);
        let messages = messages_of(&http, source, format).await;
        broker.produce_bytes(&format!("in_{name}"), &messages).await;
        // The reference: the engine's own parse of the same bytes.
        http.run(&format!(
            "CREATE TABLE ref_{name} ({columns}) ENGINE = MergeTree ORDER BY id"
        ))
        .await;
        for m in &messages {
            http.post(
                &format!("INSERT INTO ref_{name} FORMAT {format}"),
                m.clone(),
            )
            .await;
        }
        for direction in ["in", "out"] {
            http.run(&format!(
                "CREATE TABLE q_{direction}_{name} ({columns}) ENGINE = Kafka('{b}', '{direction}_{name}', 'g_{direction}_{name}', '{format}')"
            ))
            .await;
            http.run(&format!(
                "CREATE TABLE dest_{direction}_{name} ({columns}) ENGINE = MergeTree ORDER BY id"
            ))
            .await;
            http.run(&format!(
                "CREATE MATERIALIZED VIEW mv_{direction}_{name} TO dest_{direction}_{name} AS SELECT * FROM q_{direction}_{name}"
            ))
            .await;
        }
        // The way back: kafkahouse writes the rows to Kafka in the format.
        http.run(&format!("INSERT INTO q_out_{name} SELECT * FROM {source}"))
            .await;
    }

    for (name, _, _, format) in &cases {
        let reference = http
            .run(&format!("SELECT * FROM ref_{name} ORDER BY id FORMAT TSV"))
            .await;
        assert_eq!(reference.lines().count(), 4, "{format}: {reference}");
        for direction in ["in", "out"] {
            let count = http
                .wait_for(
                    &format!("SELECT count() FROM dest_{direction}_{name}"),
                    "4",
                    Duration::from_secs(60),
                )
                .await;
            assert_eq!(
                count,
                "4",
                "{format} ({direction}): rows in the destination\n{}",
                server.log()
            );
            let got = http
                .run(&format!(
                    "SELECT * FROM dest_{direction}_{name} ORDER BY id FORMAT TSV"
                ))
                .await;
            if std::env::var_os("SHOW_ROWS").is_some() {
                eprintln!("== {format} {direction}\n{got}");
            }
            assert_eq!(
                got, reference,
                "{format} ({direction}): kafkahouse's rows differ from ClickHouse's parse"
            );
        }
    }
}

/// A table read from a topic through kafkahouse, and the same messages
/// inserted by the engine itself, with the same format settings.
struct Case {
    name: &'static str,
    format: &'static str,
    columns: &'static str,
    /// Format settings, as the Kafka table's SETTINGS and the reference
    /// insert's URL parameters.
    settings: &'static [(&'static str, &'static str)],
    messages: Vec<Vec<u8>>,
    rows: usize,
}

fn texts(messages: &[&str]) -> Vec<Vec<u8>> {
    messages.iter().map(|m| m.as_bytes().to_vec()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn string_formats_settings_protobuf_and_confluent_avro() {
    let broker = Broker::start();
    let dir = tempfile::tempdir().expect("temp dir");
    // kafka_schema files are found under format_schema_path.
    let schemas = dir.path().join("format_schemas");
    std::fs::create_dir_all(&schemas).expect("schema dir");
    std::fs::write(
        schemas.join("row.proto"),
        "syntax = \"proto3\";\nmessage Row {\n  uint32 id = 1;\n  string name = 2;\n  repeated int64 values = 3;\n  double score = 4;\n}\n",
    )
    .expect("proto file");
    let server = Kafkahouse::embedded(dir.path());
    let http = Http::new(&server);
    let b = &broker.bootstrap;
    let registry = serve_registry();
    let schema = format!("{}:Row", schemas.join("row.proto").display());

    // Protobuf messages, as ClickHouse writes them.
    http.run("CREATE TABLE pb_src (id UInt32, name String, values Array(Int64), score Float64) ENGINE = MergeTree ORDER BY id").await;
    http.run("INSERT INTO pb_src VALUES (1, 'one', [1, -2], 0.5), (2, '', [], 0), (3, 'three', [3], -1e10)").await;
    let mut protobuf = Vec::new();
    let mut protobuf_single = Vec::new();
    for ids in ["1", "2, 3"] {
        let query = format!("SELECT * FROM pb_src WHERE id IN ({ids}) ORDER BY id FORMAT Protobuf");
        protobuf.push(
            http.post_with(&query, Vec::new(), &[("format_schema", &schema)])
                .await
                .expect("Protobuf"),
        );
    }
    for id in ["1", "2", "3"] {
        let query = format!("SELECT * FROM pb_src WHERE id = {id} FORMAT ProtobufSingle");
        protobuf_single.push(
            http.post_with(&query, Vec::new(), &[("format_schema", &schema)])
                .await
                .expect("ProtobufSingle"),
        );
    }

    let mut v1 = Vec::new();
    avro_long(&mut v1, 1);
    avro_string(&mut v1, "first");
    let mut v2 = Vec::new();
    avro_long(&mut v2, 2);
    avro_string(&mut v2, "evolved");
    avro_long(&mut v2, 42);

    let cases = vec![
        Case {
            name: "csv_semicolon",
            format: "CSV",
            columns: "id UInt32, s String",
            settings: &[("format_csv_delimiter", ";")],
            messages: texts(&["1;a", "2;\"b;c\"\n3;d"]),
            rows: 3,
        },
        Case {
            name: "best_effort",
            format: "JSONEachRow",
            columns: "id UInt32, t DateTime('UTC')",
            settings: &[("date_time_input_format", "best_effort")],
            messages: texts(&[
                r#"{"id":1,"t":"2020-01-02T03:04:05+01:00"}"#,
                r#"{"id":2,"t":"1577934245"}"#,
                r#"{"id":3,"t":"02 Jan 2020 03:04:05 GMT"}"#,
            ]),
            rows: 3,
        },
        Case {
            name: "numbers_as_strings",
            format: "JSONEachRow",
            columns: "id UInt32, s String",
            settings: &[("input_format_json_read_numbers_as_strings", "1")],
            messages: texts(&[r#"{"id":1,"s":123}"#, r#"{"id":2,"s":"x","extra":1}"#]),
            rows: 2,
        },
        Case {
            name: "null_as_default",
            format: "JSONEachRow",
            columns: "id UInt32, n Int32, m Nullable(Int32)",
            settings: &[
                ("input_format_null_as_default", "1"),
                ("input_format_skip_unknown_fields", "1"),
            ],
            messages: texts(&[r#"{"id":1,"n":null,"m":null}"#, r#"{"id":2,"n":5,"m":6}"#]),
            rows: 2,
        },
        Case {
            name: "json_strings",
            format: "JSONCompactStringsEachRow",
            columns: "id UInt32, s String",
            settings: &[],
            messages: texts(&[r#"["1","a"]"#, "[\"2\",\"b\"]\n[\"3\",\"c\"]"]),
            rows: 3,
        },
        Case {
            name: "lines",
            format: "LineAsString",
            columns: "line String",
            settings: &[],
            messages: texts(&["a\nb", "c", "d,e\tf"]),
            rows: 4,
        },
        Case {
            name: "json_as_string",
            format: "JSONAsString",
            columns: "json String",
            settings: &[],
            messages: texts(&[r#"{"a":1}"#, r#"{"b":[2, {"c":"}"}]}"#]),
            rows: 2,
        },
        Case {
            name: "raw",
            format: "RawBLOB",
            columns: "raw String",
            settings: &[],
            messages: texts(&["x,y\nz", "{}", "tab\there"]),
            rows: 3,
        },
        Case {
            name: "protobuf",
            format: "Protobuf",
            columns: "id UInt32, name String, values Array(Int64), score Float64",
            settings: &[],
            messages: protobuf,
            rows: 3,
        },
        Case {
            name: "protobuf_single",
            format: "ProtobufSingle",
            columns: "id UInt32, name String, values Array(Int64), score Float64",
            settings: &[],
            messages: protobuf_single,
            rows: 3,
        },
        Case {
            name: "confluent",
            format: "AvroConfluent",
            columns: "id Int64, name String",
            settings: &[],
            messages: vec![confluent(1, v1), confluent(2, v2)],
            rows: 2,
        },
    ];

    for case in &cases {
        let name = case.name;
        broker.create_topic(name, 1);
        broker.produce_bytes(name, &case.messages).await;
        let mut settings: Vec<String> = case
            .settings
            .iter()
            .map(|(k, v)| format!("{k} = '{v}'"))
            .collect();
        let mut reference_settings: Vec<(&str, &str)> = case.settings.to_vec();
        if case.format.starts_with("Protobuf") {
            settings.push("kafka_schema = 'row.proto:Row'".into());
            reference_settings.push(("format_schema", &schema));
        }
        if case.format == "AvroConfluent" {
            settings.push(format!("format_avro_schema_registry_url = '{registry}'"));
            reference_settings.push(("format_avro_schema_registry_url", &registry));
        }
        let settings = if settings.is_empty() {
            String::new()
        } else {
            format!(" SETTINGS {}", settings.join(", "))
        };
        http.run(&format!(
            "CREATE TABLE q_{name} ({}) ENGINE = Kafka('{b}', '{name}', 'g_{name}', '{}'){settings}",
            case.columns, case.format
        ))
        .await;
        http.run(&format!(
            "CREATE TABLE dest_{name} ({}) ENGINE = MergeTree ORDER BY tuple()",
            case.columns
        ))
        .await;
        http.run(&format!(
            "CREATE MATERIALIZED VIEW mv_{name} TO dest_{name} AS SELECT * FROM q_{name}"
        ))
        .await;
        http.run(&format!(
            "CREATE TABLE ref_{name} ({}) ENGINE = MergeTree ORDER BY tuple()",
            case.columns
        ))
        .await;
        for m in &case.messages {
            http.post_with(
                &format!("INSERT INTO ref_{name} FORMAT {}", case.format),
                m.clone(),
                &reference_settings,
            )
            .await
            .unwrap_or_else(|e| panic!("{name}: the reference insert failed: {e}"));
        }
    }
    for case in &cases {
        let name = case.name;
        let expected = case.rows.to_string();
        let count = http
            .wait_for(
                &format!("SELECT count() FROM dest_{name}"),
                &expected,
                Duration::from_secs(60),
            )
            .await;
        assert_eq!(
            count,
            expected,
            "{name}: rows in the destination\n{}",
            server.log()
        );
        let got = http
            .run(&format!(
                "SELECT * FROM dest_{name} ORDER BY ALL FORMAT TSV"
            ))
            .await;
        let reference = http
            .run(&format!("SELECT * FROM ref_{name} ORDER BY ALL FORMAT TSV"))
            .await;
        if std::env::var_os("SHOW_ROWS").is_some() {
            eprintln!("== {name}\n{got}");
        }
        assert_eq!(
            got, reference,
            "{name}: kafkahouse's rows differ from ClickHouse's parse"
        );
    }
}
