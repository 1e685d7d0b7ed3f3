//! The same answers as ClickHouse, one scenario per difference issue 14
//! found (each would have caught it): a direct SELECT aggregates over every
//! partition it read, statements about a Kafka table keep an explicit
//! FORMAT, ...

use kafkahouse_tests::kafka::run;
use kafkahouse_tests::{rows, Broker, ChHttp, Kafkahouse};

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
