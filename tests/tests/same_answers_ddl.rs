//! The same answers as ClickHouse for statements about Kafka tables and
//! named collections (issue 14): an explicit FORMAT is kept, column
//! expressions are refused as ClickHouse refuses them, NOT OVERRIDABLE is
//! enforced, collections come from the configuration file too.

use kafkahouse_tests::{ChHttp, Kafkahouse};

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

/// `NOT OVERRIDABLE` keys of a named collection cannot be overridden by a
/// table (ClickHouse: Code 36, "Override not allowed for '...'"); they were
/// accepted and ignored. kafkahouse also refuses them in SETTINGS. A
/// collection in use is not dropped.
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
    // A collection tables use is not dropped (Code 769, as ClickHouse);
    // a detached table holds it too: its ATTACH reads it again.
    let e = refused("DROP NAMED COLLECTION kc").await;
    assert!(
        e.contains("Code: 769. DB::Exception: Named collection `kc` is used by tables: default.q3, default.q4"),
        "{e}"
    );
    http.run("DROP TABLE q3").await;
    http.run("DETACH TABLE q4").await;
    let e = refused("DROP NAMED COLLECTION IF EXISTS kc").await;
    assert!(
        e.contains("Code: 769.") && e.contains("may still be used by detached tables: default.q4"),
        "{e}"
    );
    http.run("DROP TABLE q4").await;
    http.run("DROP NAMED COLLECTION kc").await;
    assert_eq!(http.run("SELECT count() FROM system.named_collections").await, "0\n");
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
