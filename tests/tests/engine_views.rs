//! Views whose SELECT runs in the embedded ClickHouse engine: what DataFusion
//! cannot run exactly (formatDateTime, lambdas, tuple elements, `/`, ...) runs
//! there, with ClickHouse's answers and errors; the engine that runs each view
//! shows in system.kafka_views; and the differential check of the two
//! engines: the same SELECT over the same blocks, once in each, writes the
//! same rows for every type and its edge values. Into 18.16 too.

use kafkahouse_tests::differential::{disagreements, function_select, function_tables};
use kafkahouse_tests::kafka::{run, WAIT};
use kafkahouse_tests::{error_of, rows, scalar, wait_for, Broker, ClickHouseServer, Kafkahouse};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_datafusion_cannot_run_exactly_runs_in_the_engine() {
    // (result type, expression): none of these runs exactly in DataFusion.
    let functions: [(&str, &str); 17] = [
        ("String", "formatDateTime(t, '%Y-%m-%d %H:%i:%S')"),
        ("Nullable(DateTime)", "parseDateTimeBestEffortOrNull(s)"),
        ("DateTime", "parseDateTimeBestEffort(ts)"),
        ("UUID", "toUUID(u)"),
        ("UInt64", "cityHash64(s)"),
        ("UInt64", "sipHash64(s)"),
        (
            "Array(Tuple(String, Int64))",
            "JSONExtractKeysAndValues(j, 'Int64')",
        ),
        ("UInt8", "tup.1"),
        ("String", "tupleElement(tup, 'b')"),
        ("Array(UInt64)", "arrayMap(x -> x * 2, arr)"),
        ("Array(UInt32)", "arrayFilter(x -> x > 1, arr)"),
        ("Float64", "n / 2"),
        ("DateTime64(3)", "toDateTime64(t, 3)"),
        ("UInt16", "toUInt8(n) + toUInt8(250)"),
        ("Array(String)", "JSONExtractArrayRaw(concat('[', j, ']'))"),
        ("Float64", "round(n / 2)"),
        ("String", "substring(s, 2, 3)"),
    ];
    let broker = Broker::start();
    broker.create_topic("inputs", 1);
    let dir = tempfile::tempdir().unwrap();
    let server = Kafkahouse::embedded(&dir.path().join("data"));
    let client = server.connect().await;

    let inputs = "s String, n Int64, t DateTime, ts String, u String, j String, \
                  arr Array(UInt32), tup Tuple(a UInt8, b String)";
    function_tables(
        &client,
        (&broker.bootstrap, "inputs", "g"),
        inputs,
        &functions,
    )
    .await;
    run(
        &client,
        &format!(
            "CREATE MATERIALIZED VIEW engine_mv TO results AS SELECT *, {} FROM inputs_queue",
            function_select(&functions)
        ),
    )
    .await;
    // A view of checked functions only stays in DataFusion.
    run(
        &client,
        "CREATE TABLE plain (n Int64, s String) ENGINE = MergeTree ORDER BY n",
    )
    .await;
    run(
        &client,
        "CREATE MATERIALIZED VIEW plain_mv TO plain AS SELECT n, upper(s) AS s FROM inputs_queue",
    )
    .await;
    assert_eq!(
        rows(
            &client,
            "SELECT name, engine FROM system.kafka_views ORDER BY name"
        )
        .await,
        [["engine_mv", "ClickHouse"], ["plain_mv", "DataFusion"]]
    );

    let rows_in: Vec<String> = [
        (
            "2024-01-02 03:04:05",
            1,
            "2011-02-12 10:11:12",
            r#"{"a":1,"b":-2}"#,
            vec![1, 2, 3],
        ),
        ("not a date", 7, "2020-02-29T23:59:59Z", r#"{}"#, vec![]),
        (
            "12 Mar 2021 08:00",
            -3,
            "1999-12-31 00:00:00",
            r#"{"x":"y","n":5}"#,
            vec![0],
        ),
    ]
    .iter()
    .enumerate()
    .map(|(i, (s, n, t, j, arr))| {
        serde_json::json!({
            "s": s, "n": n, "t": "2020-01-01 00:00:01", "ts": t,
            "u": format!("61f0c404-5cb3-11e7-907b-a6006ad3dba{i}"),
            "j": j, "arr": arr, "tup": {"a": i + 1, "b": format!("b{i}")},
        })
        .to_string()
    })
    .collect();
    broker.produce("inputs", 1, &rows_in).await;
    let got = wait_for(&client, "SELECT count() FROM results", "3", WAIT).await;
    assert_eq!(got, "3", "server log:\n{}", server.log());
    let wrong = disagreements(&client, "results", &functions).await;
    assert!(wrong.is_empty(), "{wrong:#?}");
    assert_eq!(
        wait_for(&client, "SELECT count() FROM plain", "3", WAIT).await,
        "3"
    );

    // The engine's errors are ClickHouse's, about the SELECT as written.
    let unknown = error_of(
        &client,
        "CREATE MATERIALIZED VIEW bad_mv TO plain AS SELECT nosuch(n) AS n FROM inputs_queue",
    )
    .await;
    assert!(unknown.starts_with("Code: 46."), "{unknown}");
    assert!(
        unknown.contains("nosuch") && !unknown.contains("arrowstream"),
        "{unknown}"
    );
    let extra = error_of(
        &client,
        "CREATE MATERIALIZED VIEW bad_mv TO plain AS SELECT n, n / 2 AS half FROM inputs_queue",
    )
    .await;
    assert!(
        extra.starts_with("Code: 16.") && extra.contains("half"),
        "{extra}"
    );
    run(&client, "SET kafka_view_engine = 'sideways'").await;
    let bogus = error_of(
        &client,
        "CREATE MATERIALIZED VIEW bad_mv TO plain AS SELECT n FROM inputs_queue",
    )
    .await;
    assert!(
        bogus.starts_with("Code: 36.") && bogus.contains("sideways"),
        "{bogus}"
    );
}

/// The differential check of the two engines: the same SELECT, once in
/// DataFusion and once in ClickHouse, over the same blocks of every type
/// with its edge values, writes the same rows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_engines_write_the_same_rows() {
    let broker = Broker::start();
    broker.create_topic("edges", 1);
    let dir = tempfile::tempdir().unwrap();
    let server = Kafkahouse::embedded(&dir.path().join("data"));
    let client = server.connect().await;
    let columns = "id UInt32, n Nullable(Int64), arr Array(String), d Date, d32 Date32, \
                   dt DateTime('Asia/Kolkata'), dt64 DateTime64(3, 'UTC'), e Enum8('a' = 1, 'b' = 2), \
                   dec Decimal(18, 4), lc LowCardinality(String), m Map(String, UInt64), \
                   tup Tuple(a UInt8, b String), u UUID, big UInt64, neg Int64, f Float64, \
                   i128 Int128";
    let computed = "s String, unix UInt32, day Date, n0 Int64, hour DateTime('Asia/Kolkata'), \
                    len UInt64, none UInt8, c Int64, ym UInt32, hr UInt8, dom UInt8, \
                    ymdt UInt32, dtt DateTime('Asia/Kolkata'), \
                    s64 String, ms Int64, es String, \
                    mins DateTime('Asia/Kolkata'), bigs String";
    run(
        &client,
        &format!(
            "CREATE TABLE edges_queue ({columns}) ENGINE = Kafka('{}', 'edges', 'g', 'JSONEachRow')",
            broker.bootstrap
        ),
    )
    .await;
    let select = "SELECT *, toString(dt) AS s, toUnixTimestamp(dt) AS unix, toDate(dt) AS day, \
                  ifNull(n, 0) AS n0, toStartOfHour(dt) AS hour, length(arr) AS len, \
                  empty(arr) AS none, coalesce(n, -1) AS c, toYYYYMM(d32) AS ym, toHour(dt) AS hr, \
                  toDayOfMonth(dt) AS dom, toYYYYMM(dt) AS ymdt, \
                  toDateTime(dt) AS dtt, toString(dt64) AS s64, toUnixTimestamp64Milli(dt64) AS ms, \
                  toString(e) AS es, \
                  toStartOfMinute(dt) AS mins, toString(big) AS bigs FROM edges_queue";
    for engine in ["datafusion", "clickhouse"] {
        run(
            &client,
            &format!(
                "CREATE TABLE by_{engine} ({columns}, {computed}) ENGINE = MergeTree ORDER BY id"
            ),
        )
        .await;
        run(&client, &format!("SET kafka_view_engine = '{engine}'")).await;
        run(
            &client,
            &format!("CREATE MATERIALIZED VIEW {engine}_mv TO by_{engine} AS {select}"),
        )
        .await;
        // Aggregates (per block, as a ClickHouse view) and arrayJoin.
        for sql in [
            format!("CREATE TABLE agg_{engine} (c UInt64, u UInt64) ENGINE = MergeTree ORDER BY c"),
            format!(
                "CREATE MATERIALIZED VIEW agg_{engine}_mv TO agg_{engine} AS \
                 SELECT count() AS c, uniqExact(lc) AS u FROM edges_queue"
            ),
            format!(
                "CREATE TABLE items_{engine} (id UInt32, item String) ENGINE = MergeTree ORDER BY (id, item)"
            ),
            format!(
                "CREATE MATERIALIZED VIEW items_{engine}_mv TO items_{engine} AS \
                 SELECT id, arrayJoin(arr) AS item FROM edges_queue"
            ),
        ] {
            run(&client, &sql).await;
        }
    }
    // Text that Arrow writes otherwise than ClickHouse is refused in
    // DataFusion, and by default runs in the engine.
    let texts = "SELECT id, toString(u) AS us, toString(arr) AS arrs, toString(dec) AS ds, \
                 toString(f) AS fs FROM edges_queue";
    run(&client, "CREATE TABLE texts (id UInt32, us String, arrs String, ds String, fs String) ENGINE = MergeTree ORDER BY id").await;
    run(&client, "SET kafka_view_engine = 'datafusion'").await;
    let refused = error_of(
        &client,
        &format!("CREATE MATERIALIZED VIEW texts_mv TO texts AS {texts}"),
    )
    .await;
    assert!(
        refused.starts_with("Code: 62.") && refused.contains("toString of"),
        "{refused}"
    );
    run(&client, "SET kafka_view_engine = 'auto'").await;
    run(
        &client,
        &format!("CREATE MATERIALIZED VIEW texts_mv TO texts AS {texts}"),
    )
    .await;
    assert_eq!(
        rows(
            &client,
            "SELECT name, engine FROM system.kafka_views ORDER BY name"
        )
        .await,
        [
            ["agg_clickhouse_mv", "ClickHouse"],
            ["agg_datafusion_mv", "DataFusion"],
            ["clickhouse_mv", "ClickHouse"],
            ["datafusion_mv", "DataFusion"],
            ["items_clickhouse_mv", "ClickHouse"],
            ["items_datafusion_mv", "DataFusion"],
            ["texts_mv", "ClickHouse"]
        ]
    );
    let messages = [
        r#"{"id":1,"n":null,"arr":[],"d":"1970-01-01","d32":"1900-01-01","dt":"1970-01-01 05:30:00","dt64":"1970-01-01 00:00:00.000","e":"a","dec":"-0.0001","lc":"","m":{},"tup":{"a":0,"b":""},"u":"00000000-0000-0000-0000-000000000000","big":0,"neg":-9223372036854775808,"f":-0.0,"i128":"-170141183460469231731687303715884105728"}"#,
        r#"{"id":2,"n":9223372036854775807,"arr":["","x"],"d":"2149-06-06","d32":"2299-12-31","dt":"2106-02-07 11:58:15","dt64":"2262-04-11 23:47:16.854","e":"b","dec":"99999999999999.9999","lc":"ü","m":{"k":18446744073709551615,"":0},"tup":{"a":255,"b":"tab\there"},"u":"61f0c404-5cb3-11e7-907b-a6006ad3dba0","big":18446744073709551615,"neg":9223372036854775807,"f":1e308,"i128":"170141183460469231731687303715884105727"}"#,
        r#"{"id":3,"n":-1,"arr":["a,b","new\nline"],"d":"2024-02-29","d32":"2024-02-29","dt":"2024-03-31 02:30:00","dt64":"2024-03-31 02:30:00.123","e":"a","dec":"1.5","lc":"x","m":{"a":1},"tup":{"a":7,"b":"b"},"u":"ffffffff-ffff-ffff-ffff-ffffffffffff","big":1,"neg":-1,"f":0.1,"i128":"0"}"#,
    ]
    .map(String::from);
    broker.produce("edges", 1, &messages).await;
    for engine in ["datafusion", "clickhouse"] {
        let got = wait_for(
            &client,
            &format!("SELECT count() FROM by_{engine}"),
            "3",
            WAIT,
        )
        .await;
        assert_eq!(got, "3", "{engine}: server log:\n{}", server.log());
    }
    let datafusion = rows(&client, "SELECT * FROM by_datafusion ORDER BY id").await;
    let clickhouse = rows(&client, "SELECT * FROM by_clickhouse ORDER BY id").await;
    assert_eq!(datafusion, clickhouse);
    for table in ["agg", "items"] {
        let (ordered, expected) = match table {
            "agg" => ("c", "1"),
            _ => ("id, item", "4"),
        };
        for engine in ["datafusion", "clickhouse"] {
            let got = wait_for(
                &client,
                &format!("SELECT count() FROM {table}_{engine}"),
                expected,
                WAIT,
            )
            .await;
            assert_eq!(got, expected, "{table}_{engine}");
        }
        assert_eq!(
            rows(
                &client,
                &format!("SELECT * FROM {table}_datafusion ORDER BY {ordered}")
            )
            .await,
            rows(
                &client,
                &format!("SELECT * FROM {table}_clickhouse ORDER BY {ordered}")
            )
            .await,
            "{table}"
        );
    }
    assert_eq!(
        wait_for(&client, "SELECT count() FROM texts", "3", WAIT).await,
        "3"
    );
    assert_eq!(
        scalar(
            &client,
            "SELECT countIf(t.us = toString(b.u) AND t.arrs = toString(b.arr) AND t.ds = toString(b.dec) \
             AND t.fs = toString(b.f)) \
             FROM texts AS t INNER JOIN by_clickhouse AS b USING (id)"
        )
        .await,
        "3"
    );
}

/// Into 18.16, whose functions are older than kafkahouse's engine: the view
/// runs in the embedded engine and its rows are inserted into 18.16.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn engine_views_write_into_a_remote_server() {
    let clickhouse = ClickHouseServer::start();
    let broker = Broker::start();
    broker.create_topic("remote", 1);
    let dir = tempfile::tempdir().unwrap();
    let server = Kafkahouse::remote(&dir.path().join("data"), &clickhouse.url());
    let client = server.connect().await;
    run(
        &client,
        "CREATE TABLE hashed (n Int64, h UInt64, half Float64, doubled Array(UInt64), day String) \
         ENGINE = MergeTree ORDER BY n",
    )
    .await;
    run(
        &client,
        &format!(
            "CREATE TABLE remote_queue (n Int64, s String, arr Array(UInt32), t DateTime) \
             ENGINE = Kafka('{}', 'remote', 'g', 'JSONEachRow')",
            broker.bootstrap
        ),
    )
    .await;
    run(
        &client,
        "CREATE MATERIALIZED VIEW hashed_mv TO hashed AS SELECT n, cityHash64(s) AS h, n / 4 AS half, \
         arrayMap(x -> x * 2, arr) AS doubled, formatDateTime(t, '%F') AS day FROM remote_queue",
    )
    .await;
    broker
        .produce(
            "remote",
            1,
            &[r#"{"n":5,"s":"kafka","arr":[1,2],"t":"2024-05-06 07:08:09"}"#.to_string()],
        )
        .await;
    assert_eq!(
        wait_for(&client, "SELECT count() FROM hashed", "1", WAIT).await,
        "1"
    );
    // 18.16's own cityHash64 agrees with the engine's.
    assert_eq!(
        rows(
            &client,
            "SELECT n, h = cityHash64('kafka'), half, doubled, day FROM hashed"
        )
        .await,
        [["5", "1", "1.25", "[2,4]", "2024-05-06"]]
    );
}
