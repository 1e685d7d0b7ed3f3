//! Materialized views from Kafka tables on the embedded ClickHouse: what
//! CREATE MATERIALIZED VIEW refuses, what a good view consumes and shows in
//! system.kafka_consumers, and every ClickHouse function kafkahouse computes
//! in views checked against ClickHouse's own answer.

use std::time::Duration;

use kafkahouse_tests::differential::{disagreements, function_select, function_tables};
use kafkahouse_tests::kafka::{run, Setup, WAIT};
use kafkahouse_tests::{error_of, scalar, wait_for, Broker, Kafkahouse};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn views_are_checked_when_created() {
    let Setup {
        broker,
        server,
        client,
        _dir,
    } = Setup::new("events", 1).await;
    run(
        &client,
        "CREATE TABLE dest (n UInt32, s String) ENGINE = MergeTree ORDER BY n",
    )
    .await;
    run(
        &client,
        &format!(
            "CREATE TABLE q (n UInt32, s String) ENGINE = Kafka SETTINGS kafka_broker_list = '{}', \
             kafka_topic_list = 'events', kafka_group_name = 'g', kafka_format = 'JSONEachRow'",
            broker.bootstrap
        ),
    )
    .await;
    let unknown = error_of(
        &client,
        "CREATE MATERIALIZED VIEW mv TO dest AS SELECT nope AS n FROM q",
    )
    .await;
    assert!(unknown.starts_with("Code: 47."), "{unknown}");
    let extra = error_of(
        &client,
        "CREATE MATERIALIZED VIEW mv TO dest AS SELECT n, s, _offset AS o FROM q",
    )
    .await;
    assert!(extra.starts_with("Code: 16."), "{extra}");
    let no_dest = error_of(
        &client,
        "CREATE MATERIALIZED VIEW mv TO missing AS SELECT * FROM q",
    )
    .await;
    assert!(no_dest.starts_with("Code: 60."), "{no_dest}");
    let no_to = error_of(
        &client,
        "CREATE MATERIALIZED VIEW mv ENGINE = Memory AS SELECT * FROM q",
    )
    .await;
    assert!(no_to.starts_with("Code: 48."), "{no_to}");
    assert_eq!(scalar(&client, "EXISTS TABLE mv").await, "0");

    // A good one, with a filter and ClickHouse functions, consumes.
    run(
        &client,
        "CREATE MATERIALIZED VIEW mv TO dest AS SELECT toUInt32(n * 2) AS n, upper(s) AS s FROM q WHERE n > 1",
    )
    .await;
    let rows: Vec<String> = (1..=4)
        .map(|n| format!(r#"{{"n":{n},"s":"r{n}"}}"#))
        .collect();
    broker.produce("events", 1, &rows).await;
    // ClickHouse's WHERE reads the alias `n` (n * 2), so every row passes;
    // the view runs in the embedded engine to filter as ClickHouse does
    // (it once kept three rows, filtering on the column).
    let got = wait_for(&client, "SELECT count() FROM dest", "4", WAIT).await;
    assert_eq!(got, "4", "server log:\n{}", server.log());
    assert_eq!(
        scalar(
            &client,
            "SELECT groupArray(s) FROM (SELECT s FROM dest ORDER BY n)"
        )
        .await,
        "['R1','R2','R3','R4']"
    );
    assert_eq!(scalar(&client, "SELECT sum(n) FROM dest").await, "20");
    assert_eq!(
        scalar(
            &client,
            "SELECT engine FROM system.kafka_views WHERE name = 'mv'"
        )
        .await,
        "ClickHouse"
    );

    // The consumer shows in system.kafka_consumers, with its partition,
    // committed offset and lag (from librdkafka's statistics, every second).
    let state = "SELECT assignments.partition_id, assignments.current_offset, assignments.lag \
                 FROM system.kafka_consumers WHERE table = 'q'";
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let rows = kafkahouse_tests::rows(&client, state).await;
        if rows
            == vec![vec![
                "[0]".to_string(),
                "[4]".to_string(),
                "[0]".to_string(),
            ]]
        {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "consumer state: {rows:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // An insert that fails is retried, and its error is visible there.
    run(&client, "DROP TABLE dest").await;
    broker
        .produce("events", 1, &[r#"{"n":9,"s":"x"}"#.to_string()])
        .await;
    let errors = "SELECT exceptions.text FROM system.kafka_consumers WHERE table = 'q'";
    loop {
        let text = scalar(&client, errors).await;
        if text.contains("Code: 60.") {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline + WAIT,
            "exceptions: {text}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Every ClickHouse function kafkahouse runs in DataFusion, as (result
/// type, expression): the same text is evaluated by both engines.
const FUNCTIONS: [(&str, &str); 64] = [
    ("String", "toString(n)"),
    ("String", "toString(t)"),
    ("UInt32", "toUnixTimestamp(t)"),
    ("DateTime64(3)", "fromUnixTimestamp64Milli(n)"),
    ("UInt8", "toUInt8(n)"),
    ("UInt64", "toUInt64(n)"),
    ("Int32", "toInt32(n)"),
    ("Float64", "toFloat64(n)"),
    ("Date", "toDate(t)"),
    ("DateTime", "toDateTime(ts)"),
    ("DateTime", "toStartOfMinute(t)"),
    ("DateTime", "toStartOfHour(t)"),
    ("DateTime", "toStartOfDay(t)"),
    ("UInt32", "toYYYYMM(t)"),
    ("String", "lower(s)"),
    ("String", "upper(s)"),
    ("String", "concat(s, '-', toString(n))"),
    ("String", "substring(s, 2, 3)"),
    ("UInt64", "length(s)"),
    ("String", "if(n > 5, 'big', 'small')"),
    ("String", "multiIf(n < 3, 'a', n < 6, 'b', 'c')"),
    ("String", "JSONExtractString(j, 'k')"),
    ("Int64", "JSONExtractInt(j, 'i')"),
    ("Float64", "JSONExtractFloat(j, 'f')"),
    ("UInt8", "JSONExtractBool(j, 'b')"),
    ("String", "JSONExtractRaw(j, 'o')"),
    ("Array(String)", "splitByChar(',', csv)"),
    ("Int64", "intDiv(n, 2)"),
    ("Int64", "modulo(n, 2)"),
    ("UInt8", "match(s, '^[A-Z]')"),
    ("String", "replaceRegexpAll(s, '[aeiou]', '_')"),
    ("String", "replaceRegexpOne(s, '[aeiou]', '_')"),
    ("String", "extract(s, '[a-z]+')"),
    ("Int64", "assumeNotNull(n)"),
    ("String", "toLowCardinality(s)"),
    ("UInt8", "startsWith(s, 'k')"),
    ("UInt8", "endsWith(s, 'e')"),
    ("String", "lowerUTF8(s)"),
    ("String", "upperUTF8(s)"),
    ("UInt8", "empty(csv)"),
    ("UInt8", "notEmpty(csv)"),
    ("UInt8", "has(splitByChar(',', csv), 'b')"),
    ("String", "arrayStringConcat(splitByChar(',', csv), '+')"),
    ("Array(String)", "splitByString(',', csv)"),
    ("UInt16", "toYear(t)"),
    ("UInt8", "toMonth(t)"),
    ("UInt8", "toDayOfMonth(t)"),
    ("UInt8", "toHour(t)"),
    ("Date", "toStartOfMonth(t)"),
    ("String", "visitParamExtractString(j, 'k')"),
    ("Int64", "visitParamExtractInt(j, 'i')"),
    ("Float64", "visitParamExtractFloat(j, 'f')"),
    ("String", "visitParamExtractRaw(j, 'o')"),
    ("String", "JSONExtract(j, 'k', 'String')"),
    ("UInt32", "CAST(n AS UInt32)"),
    ("Int8", "n::Int8"),
    ("Decimal(18, 2)", "toDecimal64(n, 2)"),
    ("Int64", "greatest(n, 3)"),
    ("Int64", "least(n, 3)"),
    ("Float64", "round(toFloat64(n) / 3, 2)"),
    ("UInt8", "n IN (1, 5)"),
    ("String", "coalesce(s, 'x')"),
    ("String", "ifNull(nullIf(s, 'kafka'), 'none')"),
    ("Nullable(String)", "nullIf(s, 'kafka')"),
];

/// Every ClickHouse function kafkahouse provides in views, computed by the
/// pipeline (DataFusion) and compared, in ClickHouse, with ClickHouse's own
/// answer for the same inputs stored next to it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn view_functions_agree_with_clickhouse() {
    let functions = FUNCTIONS;
    let broker = Broker::start();
    broker.create_topic("inputs", 1);
    let dir = tempfile::tempdir().unwrap();
    let server = Kafkahouse::embedded(&dir.path().join("data"));
    let client = server.connect().await;

    let inputs = "s String, n Int64, t DateTime, ts String, j String, csv String";
    function_tables(
        &client,
        (&broker.bootstrap, "inputs", "functions"),
        inputs,
        &functions,
    )
    .await;
    // In DataFusion, which `auto` would not pick for `/` in round()'s
    // argument: this checks DataFusion's answers.
    run(&client, "SET kafka_view_engine = 'datafusion'").await;
    run(
        &client,
        &format!(
            "CREATE MATERIALIZED VIEW functions_mv TO results AS SELECT *, {} FROM inputs_queue",
            function_select(&functions)
        ),
    )
    .await;
    assert_eq!(
        scalar(
            &client,
            "SELECT engine FROM system.kafka_views WHERE name = 'functions_mv'"
        )
        .await,
        "DataFusion"
    );
    let rows: Vec<String> = [
        (
            "Hello",
            1,
            "2011-02-12 10:11:12",
            r#"{"k":"v","i":3,"f":1.5,"b":true,"o":{"x":1}}"#,
            "a,b,,c",
        ),
        (
            "kafka",
            5,
            "2020-02-29 23:59:59",
            r#"{"k":7,"i":-2,"b":false}"#,
            "single",
        ),
        ("ClickHouse", 7, "1999-12-31 00:00:00", r#"{"o":[1,2]}"#, ""),
    ]
    .iter()
    .map(|(s, n, t, j, csv)| {
        serde_json::json!({"s": s, "n": n, "t": t, "ts": t, "j": j, "csv": csv}).to_string()
    })
    .collect();
    broker.produce("inputs", 1, &rows).await;
    let got = wait_for(&client, "SELECT count() FROM results", "3", WAIT).await;
    assert_eq!(got, "3", "server log:\n{}", server.log());

    let wrong = disagreements(&client, "results", &functions).await;
    assert!(wrong.is_empty(), "{wrong:#?}");
}

/// The same functions over edge values (the least and greatest Int64, the
/// first and last DateTime, empty and non-ASCII strings, JSON that is not
/// JSON), each in a view of its own so that one failing insert hides no
/// other: every view runs in DataFusion (`auto` picks it for these) and
/// writes what ClickHouse computes from the same inputs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn view_functions_agree_with_clickhouse_on_edge_values() {
    let broker = Broker::start();
    broker.create_topic("edges", 1);
    let dir = tempfile::tempdir().unwrap();
    let server = Kafkahouse::embedded(&dir.path().join("data"));
    let client = server.connect().await;
    let inputs = "s String, n Int64, t DateTime, ts String, j String, csv String";
    run(
        &client,
        &format!(
            "CREATE TABLE edges_queue ({inputs}) ENGINE = Kafka('{}', 'edges', 'g', 'JSONEachRow')",
            broker.bootstrap
        ),
    )
    .await;
    run(
        &client,
        &format!("CREATE TABLE inputs ({inputs}) ENGINE = MergeTree ORDER BY n"),
    )
    .await;
    run(
        &client,
        "CREATE MATERIALIZED VIEW inputs_mv TO inputs AS SELECT * FROM edges_queue",
    )
    .await;
    // These run in the engine: `/` (in round()'s argument), substring (by
    // bytes in ClickHouse) and toDecimal (an overflow is an error there).
    let functions: Vec<(&str, &str)> = FUNCTIONS
        .iter()
        .filter(|(_, e)| {
            !e.contains(" / ") && !e.starts_with("substring") && !e.starts_with("toDecimal")
        })
        .copied()
        .collect();
    for (i, (ty, expr)) in functions.iter().enumerate() {
        run(
            &client,
            &format!("CREATE TABLE r{i} (n Int64, res {ty}) ENGINE = MergeTree ORDER BY n"),
        )
        .await;
        run(
            &client,
            &format!("CREATE MATERIALIZED VIEW mv{i} TO r{i} AS SELECT n, {expr} AS res FROM edges_queue"),
        )
        .await;
    }
    let engines = kafkahouse_tests::rows(
        &client,
        "SELECT name FROM system.kafka_views WHERE engine != 'DataFusion'",
    )
    .await;
    let rows: Vec<String> = [
        serde_json::json!({"s": "", "n": i64::MIN, "t": "1970-01-01 00:00:00", "ts": "1970-01-01 00:00:00", "j": "", "csv": ""}),
        serde_json::json!({"s": "Ünïcödé ✓", "n": i64::MAX, "t": "2106-02-07 06:28:15", "ts": "2106-02-07 06:28:15",
            "j": r#"{"k":"ü","i":9223372036854775807,"f":-0.0,"b":1,"o":[]}"#, "csv": ",,"}),
        serde_json::json!({"s": "kafka", "n": 0, "t": "2000-02-29 12:00:00", "ts": "2000-02-29T12:00:00Z", "j": "not json", "csv": "a"}),
    ]
    .iter()
    .map(|r| r.to_string())
    .collect();
    broker.produce("edges", 1, &rows).await;
    assert_eq!(
        wait_for(&client, "SELECT count() FROM inputs", "3", WAIT).await,
        "3"
    );
    // Every view's block is the same one: the others have had their turn
    // once every written view has its rows (a failing one never does).
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let mut wrong = Vec::new();
    for (i, (_, expr)) in functions.iter().enumerate() {
        let mut written = scalar(&client, &format!("SELECT count() FROM r{i}")).await;
        while written != "3" && std::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(100)).await;
            written = scalar(&client, &format!("SELECT count() FROM r{i}")).await;
        }
        if written != "3" {
            wrong.push(format!("{expr}: the view wrote {written} rows"));
            continue;
        }
        let text = |e: &str| format!("ifNull(toString({e}), 'NULL')");
        let compared = client
            .simple_query(&format!(
                "SELECT concat(toString(countIf({a} != {b})), ' ', toString(groupArrayIf(({a}, {b}), {a} != {b}))) \
                 FROM r{i} AS r INNER JOIN inputs USING (n)",
                a = text("r.res"),
                b = text(expr),
            ))
            .await;
        match compared {
            Ok(messages) => {
                let answer = messages.iter().find_map(|m| match m {
                    tokio_postgres::SimpleQueryMessage::Row(row) => row.get(0).map(String::from),
                    _ => None,
                });
                if answer.as_deref().is_none_or(|a| !a.starts_with("0 ")) {
                    wrong.push(format!("{expr}: {answer:?} (view vs ClickHouse)"));
                }
            }
            Err(e) => wrong.push(format!(
                "{expr}: ClickHouse refuses these inputs: {}",
                kafkahouse_tests::error_text(&e)
            )),
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
    assert!(engines.is_empty(), "{engines:?}");
}
