//! The same answers as ClickHouse for drivers and producing (issue 14):
//! clickhouse-driver sends and receives typed values (every type it reads),
//! into the embedded
//! engine, through 18.16 and into a Kafka table; produced messages take their
//! key and timestamp from `_key` and `_timestamp` in every format.

use kafkahouse_tests::kafka::{run, Setup, WAIT};
use kafkahouse_tests::{wait_for, Broker, ChHttp, Kafkahouse};

/// What a clickhouse-driver script in tests/clients printed, asserting it
/// succeeded.
async fn driver(script: &str, server: &Kafkahouse, args: &[&str]) -> String {
    let path = format!("{}/clients/{script}", env!("CARGO_MANIFEST_DIR"));
    let out = tokio::process::Command::new("python3")
        .arg(path)
        .arg(server.native_addr.ip().to_string())
        .arg(server.native_addr.port().to_string())
        .args(args)
        .output()
        .await
        .expect("python3");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// What `clickhouse_driver_types.py` prints when every value came back as
/// the Python value it was inserted as.
const TYPED_ROUND_TRIP: &str = "inserted 2\nsame True\n\
    types ['date', 'datetime', 'list', 'str', 'Decimal', 'UUID', 'NoneType', 'str', 'list']\n";

/// clickhouse-driver sends and receives typed values as with ClickHouse: a
/// typed INSERT of dates, times, lists, enums, decimals and UUIDs worked
/// only for String and number columns (every column was announced as
/// String), and results came back as strings ('2024-01-02', '[1,2]').
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clickhouse_driver_gets_and_sends_types() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let server = Kafkahouse::embedded(&dir.path().join("data"));
    let out = driver("clickhouse_driver_types.py", &server, &[]).await;
    assert_eq!(out, TYPED_ROUND_TRIP);
}

/// Every type reaches clickhouse-driver as ClickHouse sends it: the
/// backend's Native blocks are passed through (Map, Tuple, Bool and Int128
/// and wider arrived as text), in as many blocks as the backend wrote; and
/// a typed INSERT of those types works (they were announced as text, which
/// the driver cannot send a dict or a bool as).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clickhouse_driver_reads_every_type() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let server = Kafkahouse::embedded(&dir.path().join("data"));
    let out = driver("clickhouse_driver_result_types.py", &server, &[]).await;
    assert_eq!(
        out,
        "m True dict\nt True tuple\nb True bool\ni128 True int\nu256 True int\n\
         d64 True datetime\ndec True Decimal\nip6 True IPv6Address\nlcn True str\n\
         nested True dict\nu True UUID\nd32 True date\nrows 300000\n\
         inserted 2\nsame True\ninserted 100000\nsum (100002, -170141183460469231731687303710883855723)\n"
    );
}

/// The same against ClickHouse 18.16, which takes LowCardinality columns
/// only as themselves: the client's typed blocks reach it as text.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clickhouse_driver_types_through_a_remote_18_16() {
    let clickhouse = kafkahouse_tests::ClickHouseServer::start();
    let dir = tempfile::tempdir().expect("temporary directory");
    let server = Kafkahouse::remote(&dir.path().join("data"), &clickhouse.url());
    let out = driver("clickhouse_driver_types.py", &server, &[]).await;
    assert_eq!(out, TYPED_ROUND_TRIP);
}

/// A typed INSERT of Map, Tuple, Bool and Int128 values into a Kafka table
/// (they were announced as text, which the driver cannot send a dict as)
/// produces them; a view brings them back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clickhouse_driver_inserts_every_type_into_a_kafka_table() {
    let setup = Setup::new("modern", 1).await;
    let client = &setup.client;
    let columns = "id UInt32, m Map(String, UInt64), t Tuple(a UInt8, b String), b Bool, i Int128";
    for sql in [
        format!("CREATE TABLE dest ({columns}) ENGINE = MergeTree ORDER BY id"),
        format!(
            "CREATE TABLE q ({columns}) ENGINE = Kafka('{}', 'modern', 'g', 'JSONEachRow')",
            setup.broker.bootstrap
        ),
        "CREATE MATERIALIZED VIEW mv TO dest AS SELECT * FROM q".to_string(),
    ] {
        run(client, &sql).await;
    }
    let out = driver("clickhouse_driver_produce_modern.py", &setup.server, &["q"]).await;
    assert_eq!(out, "inserted 2\n");
    let expected = "1 {'a':1,'b':2} (7,'x') true -170141183460469231731687303715884105728 | 2 {} (0,'') false 5";
    let got = wait_for(
        client,
        "SELECT arrayStringConcat(groupArray(concat(toString(id), ' ', toString(m), ' ', \
         toString(t), ' ', toString(b), ' ', toString(i))), ' | ') FROM (SELECT * FROM dest ORDER BY id)",
        expected,
        WAIT,
    )
    .await;
    assert_eq!(got, expected, "server log:\n{}", setup.server.log());
}

/// A typed INSERT into a Kafka table produces the values as written.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clickhouse_driver_inserts_typed_rows_into_a_kafka_table() {
    let setup = Setup::new("typed", 1).await;
    let client = &setup.client;
    let columns = "id UInt32, d Date, t DateTime, e Enum8('x' = 1, 'y' = 2), \
                   x Decimal(9, 2), a Array(UInt32), n Nullable(Int64)";
    run(
        client,
        &format!("CREATE TABLE dest ({columns}) ENGINE = MergeTree ORDER BY id"),
    )
    .await;
    run(
        client,
        &format!(
            "CREATE TABLE q ({columns}) ENGINE = Kafka('{}', 'typed', 'g', 'JSONEachRow')",
            setup.broker.bootstrap
        ),
    )
    .await;
    run(
        client,
        "CREATE MATERIALIZED VIEW mv TO dest AS SELECT * FROM q",
    )
    .await;
    let out = driver("clickhouse_driver_produce.py", &setup.server, &["q"]).await;
    assert_eq!(out, "inserted 2\n");
    let got = wait_for(
        client,
        "SELECT arrayStringConcat(groupArray(concat(toString(id), ' ', toString(d), ' ', \
         toString(t), ' ', toString(e), ' ', toString(x), ' ', toString(a), ' ', ifNull(toString(n), 'NULL'))), ' | ') \
         FROM (SELECT * FROM dest ORDER BY id)",
        "1 2024-01-02 2024-01-02 03:04:05 y 12.5 [1,2] NULL | 2 1970-01-02 1970-01-01 00:00:01 x -0.01 [] 7",
        WAIT,
    )
    .await;
    assert_eq!(
        got,
        "1 2024-01-02 2024-01-02 03:04:05 y 12.5 [1,2] NULL | 2 1970-01-02 1970-01-01 00:00:01 x -0.01 [] 7",
        "server log:\n{}",
        setup.server.log()
    );
}

/// `_key` and `_timestamp` columns of a Kafka table set each produced
/// message's key and timestamp in every format, as in ClickHouse; they did
/// only for JSONEachRow.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn produced_keys_and_timestamps_in_every_format() {
    let broker = Broker::start();
    let dir = tempfile::tempdir().expect("temporary directory");
    let server = Kafkahouse::embedded(&dir.path().join("data"));
    let http = ChHttp::new(&server);
    for (i, format) in ["TSV", "CSV", "JSONEachRow", "Avro"].iter().enumerate() {
        let topic = format!("keyed_{i}");
        broker.create_topic(&topic, 1);
        http.run(&format!(
            "CREATE TABLE out_{i} (_key String, _timestamp DateTime, v UInt32) \
             ENGINE = Kafka('{}', '{topic}', 'g', '{format}')",
            broker.bootstrap
        ))
        .await;
        http.run(&format!(
            "INSERT INTO out_{i} VALUES ('k1', '2024-01-01 00:00:01', 1), ('k2', '2024-01-01 00:00:02', 2)"
        ))
        .await;
        let read = broker.read_messages(&topic, 1, 2, std::time::Duration::from_secs(30));
        let got: Vec<(Option<&str>, Option<i64>)> = read
            .iter()
            .map(|m| (m.key.as_deref(), m.timestamp_ms))
            .collect();
        assert_eq!(
            got,
            [
                (Some("k1"), Some(1_704_067_201_000)),
                (Some("k2"), Some(1_704_067_202_000))
            ],
            "{format}"
        );
    }
}
