//! The same answers as ClickHouse, one scenario per difference issue 14
//! found (each would have caught it): a direct SELECT aggregates over every
//! partition it read, statements about a Kafka table keep an explicit
//! FORMAT, `kafka_skip_broken_messages` counts per message, broken JSON
//! split over two messages stays broken.

use kafkahouse_tests::kafka::{run, Setup, WAIT};
use kafkahouse_tests::{rows, wait_for, Broker, ChHttp, Kafkahouse};

/// ClickHouse runs a direct SELECT over everything it read: `count()` over
/// 40 messages in 4 partitions is one row of 40 (it was four rows of 10).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_direct_select_aggregates_over_every_partition() {
    let broker = Broker::start();
    broker.create_topic("events", 4);
    let messages: Vec<String> = (0..40).map(|n| format!(r#"{{"n":{n}}}"#)).collect();
    broker.produce("events", 4, &messages).await;
    let dir = tempfile::tempdir().expect("temporary directory");
    let server = Kafkahouse::embedded(&dir.path().join("data"));
    let client = server.connect().await;
    run(
        &client,
        &format!(
            "CREATE TABLE q (n UInt32) ENGINE = Kafka('{}', 'events', 'g', 'JSONEachRow')",
            broker.bootstrap
        ),
    )
    .await;
    let got = rows(
        &client,
        "SELECT count() AS c, sum(n) AS s, count(DISTINCT _partition) AS p FROM q \
         SETTINGS stream_like_engine_allow_direct_select = 1",
    )
    .await;
    assert_eq!(got, [["40", "780", "4"]]);
}

/// `SHOW CREATE`, `DESCRIBE` and `EXISTS` of a Kafka table with an explicit
/// FORMAT are answered from the catalog in that format (they went to the
/// engine, which does not know the table: Code 390, Code 60, `0`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn statements_about_a_kafka_table_keep_their_format() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let server = Kafkahouse::embedded(&dir.path().join("data"));
    let http = ChHttp::new(&server);
    http.run(
        "CREATE TABLE kq (id UInt64, s String) ENGINE = Kafka('127.0.0.1:9', 't', 'g', 'JSONEachRow')",
    )
    .await;
    let show = http.run("SHOW CREATE TABLE kq FORMAT JSONEachRow").await;
    assert!(
        show.starts_with(r#"{"statement":"CREATE TABLE default.kq"#) && show.contains("Kafka"),
        "{show}"
    );
    assert_eq!(
        http.run("DESCRIBE TABLE kq FORMAT CSV").await,
        "\"id\",\"UInt64\",\"\",\"\",\"\",\"\",\"\"\n\"s\",\"String\",\"\",\"\",\"\",\"\",\"\"\n"
    );
    assert_eq!(
        http.run("EXISTS TABLE kq FORMAT JSONEachRow").await,
        "{\"result\":1}\n"
    );
    // A table the engine has keeps going to the engine, FORMAT and all.
    http.run("CREATE TABLE t (a UInt8) ENGINE = Memory").await;
    assert_eq!(
        http.run("EXISTS TABLE t FORMAT JSONEachRow").await,
        "{\"result\":1}\n"
    );
    assert_eq!(
        http.run("EXISTS TABLE nothing FORMAT JSONEachRow").await,
        "{\"result\":0}\n"
    );
}

/// `count/sum` of what reached `dest`.
const SUMMARY: &str = "SELECT concat(toString(count()), '/', toString(sum(n))) FROM dest";

/// A table of `n UInt32` read from `events` into `dest` by a view, with
/// `settings`; `messages` produced to its one partition.
async fn consume(settings: &str, messages: &[&str]) -> Setup {
    let setup = Setup::new("events", 1).await;
    let client = &setup.client;
    run(
        client,
        "CREATE TABLE dest (n UInt32) ENGINE = MergeTree ORDER BY n",
    )
    .await;
    run(
        client,
        &format!(
            "CREATE TABLE q (n UInt32) ENGINE = Kafka('{}', 'events', 'g', 'JSONEachRow') {settings}",
            setup.broker.bootstrap
        ),
    )
    .await;
    run(
        client,
        "CREATE MATERIALIZED VIEW mv TO dest AS SELECT n FROM q",
    )
    .await;
    let messages: Vec<String> = messages.iter().map(|m| m.to_string()).collect();
    setup.broker.produce("events", 1, &messages).await;
    setup
}

/// ClickHouse allows `kafka_skip_broken_messages` errors in each message
/// (its count restarts with every message): with N = 1, two broken messages
/// in a row are both skipped and the 50 good rows arrive. kafkahouse counted
/// per block, failed the block and retried it forever with 0 rows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn skip_broken_messages_counts_per_message() {
    let good: Vec<String> = (1..=50).map(|n| format!(r#"{{"n":{n}}}"#)).collect();
    let mut messages: Vec<&str> = good[..25].iter().map(String::as_str).collect();
    messages.extend([r#"{"n":"#, "not json"]);
    messages.extend(good[25..].iter().map(String::as_str));
    let setup = consume("SETTINGS kafka_skip_broken_messages = 1", &messages).await;
    let got = wait_for(&setup.client, SUMMARY, "50/1275", WAIT).await;
    assert_eq!(got, "50/1275", "server log:\n{}", setup.server.log());
}

/// `{"n":2` and `}` are two broken messages, as ClickHouse parses each
/// message alone; read one after the other they made the valid row
/// `{"n":2}` and both were taken as good.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_split_over_two_messages_stays_broken() {
    let setup = consume(
        "SETTINGS kafka_skip_broken_messages = 1",
        &[r#"{"n":1}"#, r#"{"n":2"#, "}", r#"{"n":3}"#],
    )
    .await;
    let got = wait_for(&setup.client, SUMMARY, "2/4", WAIT).await;
    assert_eq!(got, "2/4", "server log:\n{}", setup.server.log());
    let broken = wait_for(
        &setup.client,
        "SELECT broken_messages FROM system.kafka_consumers",
        "2",
        WAIT,
    )
    .await;
    assert_eq!(broken, "2");
}

/// ClickHouse (since 23.3) refuses DEFAULT, MATERIALIZED and EPHEMERAL
/// columns on Kafka tables with Code 36; kafkahouse dropped the clause and
/// read `{"id":5}` as `5 0 0`. ALIAS, which ClickHouse computes when
/// reading, is refused by name (it used to be read from the message).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn column_expressions_on_a_kafka_table_are_refused_as_clickhouse_refuses_them() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let server = Kafkahouse::embedded(&dir.path().join("data"));
    let http = ChHttp::new(&server);
    let create = |columns: &str| {
        format!(
            "CREATE TABLE kq ({columns}) ENGINE = Kafka('127.0.0.1:9', 't', 'g', 'JSONEachRow')"
        )
    };
    for columns in [
        "id UInt64, b UInt64 DEFAULT 7, c UInt64 DEFAULT id * 2",
        "id UInt64, s String MATERIALIZED toString(id)",
        "id UInt64, e UInt8 EPHEMERAL",
    ] {
        let refused = http
            .post_with(&create(columns), Vec::new(), &[])
            .await
            .unwrap_err();
        assert!(
            refused.contains("Code: 36. DB::Exception: KafkaEngine doesn't support DEFAULT/MATERIALIZED/EPHEMERAL expressions for columns."),
            "{columns}: {refused}"
        );
    }
    let refused = http
        .post_with(
            &create("id UInt64, a String ALIAS toString(id)"),
            Vec::new(),
            &[],
        )
        .await
        .unwrap_err();
    assert!(
        refused.contains("Code: 48.") && refused.contains("column a"),
        "{refused}"
    );
    assert_eq!(
        http.run("EXISTS TABLE kq").await,
        "0\n",
        "nothing was created"
    );
    // CODEC and COMMENT give no value: accepted, as in ClickHouse.
    http.run(&create(
        "id UInt64 COMMENT 'the id', s String CODEC(ZSTD(1))",
    ))
    .await;
    assert_eq!(http.run("EXISTS TABLE kq").await, "1\n");
}

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

/// `NOT OVERRIDABLE` keys of a named collection cannot be overridden by a
/// table (ClickHouse: Code 36, "Override not allowed for '...'"); they were
/// accepted and ignored. kafkahouse also refuses them in SETTINGS.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn not_overridable_keys_of_a_named_collection_are_enforced() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let server = Kafkahouse::embedded(&dir.path().join("data"));
    let http = ChHttp::new(&server);
    http.run(
        "CREATE NAMED COLLECTION kc AS kafka_broker_list = '127.0.0.1:9', \
         kafka_topic_list = 't' NOT OVERRIDABLE, kafka_group_name = 'g', kafka_format = 'JSONEachRow'",
    )
    .await;
    let refused = |sql: &'static str| {
        let http = &http;
        async move { http.post_with(sql, Vec::new(), &[]).await.unwrap_err() }
    };
    for sql in [
        "CREATE TABLE q1 (a UInt8) ENGINE = Kafka(kc, kafka_topic_list = 'other')",
        "CREATE TABLE q2 (a UInt8) ENGINE = Kafka(kc) SETTINGS kafka_topic_list = 'other'",
    ] {
        let e = refused(sql).await;
        assert!(
            e.contains("Code: 36. DB::Exception: Override not allowed for 'kafka_topic_list'"),
            "{sql}: {e}"
        );
    }
    // Other keys may be overridden; the collection's own value is used.
    http.run("CREATE TABLE q3 (a UInt8) ENGINE = Kafka(kc, kafka_group_name = 'g3')")
        .await;
    // ALTER ... SET without the flag makes the key overridable again.
    http.run("ALTER NAMED COLLECTION kc SET kafka_topic_list = 't'")
        .await;
    http.run("CREATE TABLE q4 (a UInt8) ENGINE = Kafka(kc, kafka_topic_list = 'other')")
        .await;
    http.run("ALTER NAMED COLLECTION kc SET kafka_group_name = 'g' NOT OVERRIDABLE")
        .await;
    let e =
        refused("CREATE TABLE q5 (a UInt8) ENGINE = Kafka(kc, kafka_group_name = 'mine')").await;
    assert!(
        e.contains("Override not allowed for 'kafka_group_name'"),
        "{e}"
    );
    // SHOW CREATE shows the table as written, the collection by name (it
    // showed every resolved setting).
    let shown = http.run("SHOW CREATE TABLE q3 FORMAT TSVRaw").await;
    assert!(
        shown.contains("ENGINE = Kafka(kc, kafka_group_name = 'g3')")
            && !shown.contains("127.0.0.1"),
        "{shown}"
    );
    // system.named_collections lists kafkahouse's, values hidden.
    assert_eq!(
        http.run("SELECT name, collection FROM system.named_collections FORMAT TSV").await,
        "kc\t{'kafka_broker_list':'[HIDDEN]','kafka_format':'[HIDDEN]','kafka_group_name':'[HIDDEN]','kafka_topic_list':'[HIDDEN]'}\n"
    );
    for (table, exists) in [("q1", 0), ("q2", 0), ("q3", 1), ("q4", 1), ("q5", 0)] {
        assert_eq!(
            http.run(&format!("EXISTS TABLE {table}")).await,
            format!("{exists}\n"),
            "{table}"
        );
    }
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

/// Over the PostgreSQL extended protocol (Parse, Describe, Bind, Execute),
/// Describe ran the statement: a direct SELECT with `kafka_commit_on_select
/// = 1` read and committed the messages there, and Execute found none.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn describe_does_not_run_a_direct_select() {
    let setup = Setup::new("events", 1).await;
    let client = &setup.client;
    let messages: Vec<String> = (1..=5).map(|n| format!(r#"{{"n":{n}}}"#)).collect();
    setup.broker.produce("events", 1, &messages).await;
    run(
        client,
        &format!(
            "CREATE TABLE take (n UInt32) ENGINE = Kafka('{}', 'events', 'g', 'JSONEachRow') \
             SETTINGS kafka_commit_on_select = 1",
            setup.broker.bootstrap
        ),
    )
    .await;
    let select = "SELECT count() AS c, toInt64(sum(n)) AS s FROM take \
                  SETTINGS stream_like_engine_allow_direct_select = 1";
    // tokio-postgres's query() is the extended protocol.
    let row = client
        .query_one(select, &[])
        .await
        .unwrap_or_else(|e| panic!("{}", kafkahouse_tests::error_text(&e)));
    assert_eq!((row.get::<_, i64>("c"), row.get::<_, i64>("s")), (5, 15));
    // Committed by that one run: nothing is left.
    let row = client.query_one(select, &[]).await.expect("second select");
    assert_eq!(row.get::<_, i64>("c"), 0);
    // A backend query is described by the backend and typed as it says.
    let row = client
        .query_one("SELECT toUInt8(7) AS small, 'x' AS text", &[])
        .await
        .expect("backend select");
    assert_eq!(
        (row.get::<_, i16>("small"), row.get::<_, &str>("text")),
        (7, "x")
    );
}

/// Dates and times in views as ClickHouse writes them: `toString` of a
/// DateTime is `2020-01-01 00:00:01` (it was `2020-01-01T00:00:01Z`), and
/// `toUnixTimestamp`, `toUnixTimestamp64Milli`, `fromUnixTimestamp64Milli`
/// are accepted (they were refused).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn times_in_views_as_clickhouse_writes_them() {
    let setup = Setup::new("times", 1).await;
    let client = &setup.client;
    run(
        client,
        "CREATE TABLE dest (s String, ts DateTime, s_ts String, u UInt32, ms Int64, back DateTime64(3)) \
         ENGINE = MergeTree ORDER BY u",
    )
    .await;
    run(
        client,
        &format!(
            "CREATE TABLE q (t DateTime('UTC')) ENGINE = Kafka('{}', 'times', 'g', 'JSONEachRow')",
            setup.broker.bootstrap
        ),
    )
    .await;
    run(
        client,
        "CREATE MATERIALIZED VIEW mv TO dest AS SELECT toString(t) AS s, _timestamp AS ts, \
         toString(_timestamp) AS s_ts, toUnixTimestamp(t) AS u, \
         toUnixTimestamp64Milli(_timestamp_ms) AS ms, \
         fromUnixTimestamp64Milli(toUnixTimestamp64Milli(_timestamp_ms)) AS back FROM q",
    )
    .await;
    setup
        .broker
        .produce("times", 1, &[r#"{"t":"2020-01-01 00:00:01"}"#.to_string()])
        .await;
    let count = wait_for(client, "SELECT count() FROM dest", "1", WAIT).await;
    assert_eq!(count, "1", "server log:\n{}", setup.server.log());
    // The engine itself says how ClickHouse writes the same values.
    let got = kafkahouse_tests::scalar(
        client,
        "SELECT concat(s, ' | ', toString(u), ' | ', toString(s_ts = toString(ts)), ' | ', \
         toString(ms = toUnixTimestamp64Milli(back))) FROM dest",
    )
    .await;
    assert_eq!(
        got,
        "2020-01-01 00:00:01 | 1577836801 | 1 | 1",
        "server log:\n{}",
        setup.server.log()
    );
}

/// TSKV, a ClickHouse input format, was refused for Kafka tables (Code 73).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tskv_messages_are_read() {
    // The broken one (a number that is not) makes each message be parsed
    // alone: good ones still are, without their line break.
    let setup = consume_as(
        "TSKV",
        &["n=1\ts=one", "s=two\tn=2", "n=x", "n=3"],
        " SETTINGS kafka_skip_broken_messages = 1",
    )
    .await;
    let got = wait_for(
        &setup.client,
        "SELECT arrayStringConcat(groupArray(concat(toString(n), ':', s)), ',') FROM (SELECT * FROM dest ORDER BY n)",
        "1:one,2:two,3:",
        WAIT,
    )
    .await;
    assert_eq!(got, "1:one,2:two,3:", "server log:\n{}", setup.server.log());
}

/// A table of `n UInt32, s String` in `format` read from `events` into
/// `dest` by a view; `messages` produced to its one partition.
async fn consume_as(format: &str, messages: &[&str], settings: &str) -> Setup {
    let setup = Setup::new("events", 1).await;
    let client = &setup.client;
    run(
        client,
        "CREATE TABLE dest (n UInt32, s String) ENGINE = MergeTree ORDER BY n",
    )
    .await;
    run(
        client,
        &format!(
            "CREATE TABLE q (n UInt32, s String) ENGINE = Kafka('{}', 'events', 'g', '{format}'){settings}",
            setup.broker.bootstrap
        ),
    )
    .await;
    run(
        client,
        "CREATE MATERIALIZED VIEW mv TO dest AS SELECT n, s FROM q",
    )
    .await;
    let messages: Vec<String> = messages.iter().map(|m| m.to_string()).collect();
    setup.broker.produce("events", 1, &messages).await;
    setup
}

/// In `system.kafka_consumers`, `length()` of an array column counts its
/// elements, as in ClickHouse: an empty `exceptions.text` had length 2
/// (the text `[]`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn array_lengths_in_system_kafka_consumers() {
    let setup = consume("", &[r#"{"n":1}"#]).await;
    let client = &setup.client;
    assert_eq!(wait_for(client, SUMMARY, "1/1", WAIT).await, "1/1");
    let got = wait_for(
        client,
        "SELECT concat(toString(length(exceptions.text)), ' ', \
         toString(length(assignments.partition_id))) FROM system.kafka_consumers",
        "0 1",
        WAIT,
    )
    .await;
    assert_eq!(got, "0 1");
}

/// ClickHouse's conditional operator `c ? a : b` in a view (refused by the
/// SQL parser before).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_conditional_operator_in_a_view() {
    let setup = Setup::new("events", 1).await;
    let client = &setup.client;
    run(
        client,
        "CREATE TABLE dest (n UInt32, s String) ENGINE = MergeTree ORDER BY n",
    )
    .await;
    run(
        client,
        &format!(
            "CREATE TABLE q (n UInt32) ENGINE = Kafka('{}', 'events', 'g', 'JSONEachRow')",
            setup.broker.bootstrap
        ),
    )
    .await;
    run(
        client,
        "CREATE MATERIALIZED VIEW mv TO dest AS \
         SELECT n, n > 5 ? 'big' : n > 2 ? 'middle' : 'small' AS s FROM q",
    )
    .await;
    let messages: Vec<String> = [1, 4, 9]
        .iter()
        .map(|n| format!(r#"{{"n":{n}}}"#))
        .collect();
    setup.broker.produce("events", 1, &messages).await;
    let got = wait_for(
        client,
        "SELECT arrayStringConcat(groupArray(s), ',') FROM (SELECT s FROM dest ORDER BY n)",
        "small,middle,big",
        WAIT,
    )
    .await;
    assert_eq!(
        got,
        "small,middle,big",
        "server log:\n{}",
        setup.server.log()
    );
}

/// Named collections in the configuration file, as ClickHouse's guide
/// defines them in config.xml: usable by tables, listed, immutable to
/// queries (Code 671), locked keys enforced, secrets out of the log.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn named_collections_from_the_configuration_file() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let config = dir.path().join("kafkahouse.toml");
    std::fs::write(
        &config,
        "[named_collections.kc_conf]\n\
         kafka_broker_list = '127.0.0.1:9'\n\
         kafka_topic_list = 't'\n\
         kafka_group_name = 'g'\n\
         kafka_format = 'JSONEachRow'\n\
         kafka_sasl_password = 'file secret'\n\
         kafka_num_consumers = 1\n\
         not_overridable = ['kafka_sasl_password']\n",
    )
    .expect("write the configuration");
    let config = config.to_string_lossy().into_owned();
    let server = Kafkahouse::start(&dir.path().join("data"), &["--config", &config]);
    let http = ChHttp::new(&server);
    http.run("CREATE TABLE q (a UInt8) ENGINE = Kafka(kc_conf)")
        .await;
    assert_eq!(http.run("EXISTS TABLE q").await, "1\n");
    assert_eq!(
        http.run("SELECT name FROM system.named_collections FORMAT TSV")
            .await,
        "kc_conf\n"
    );
    for sql in [
        "DROP NAMED COLLECTION kc_conf",
        "ALTER NAMED COLLECTION kc_conf SET kafka_format = 'CSV'",
    ] {
        let e = http.post_with(sql, Vec::new(), &[]).await.unwrap_err();
        assert!(
            e.contains(
                "Code: 671. DB::Exception: Cannot get collection `kc_conf` for modification"
            ),
            "{sql}: {e}"
        );
    }
    let e = http
        .post_with(
            "CREATE TABLE q2 (a UInt8) ENGINE = Kafka(kc_conf, kafka_sasl_password = 'mine')",
            Vec::new(),
            &[],
        )
        .await
        .unwrap_err();
    assert!(
        e.contains("Override not allowed for 'kafka_sasl_password'"),
        "{e}"
    );
    assert!(!server.log().contains("file secret"), "{}", server.log());
}
