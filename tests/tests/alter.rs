//! Online changes of a running Kafka table: `ALTER TABLE ... MODIFY SETTING`
//! and `RESET SETTING` restart only that table's consumers, with exact
//! counts before and after; `ALTER NAMED COLLECTION` reaches the tables made
//! from the collection, or is refused when it would break one.

use kafkahouse_tests::kafka::{create_ids_pipeline, id_rows, run, Setup, WAIT};
use kafkahouse_tests::{error_of, scalar, wait_for};

const EXACT: &str = "SELECT toString(count()) || ' ' || toString(uniqExact(id)) FROM dest";

/// Waits until the destination holds ids 0..n, each once.
async fn assert_exactly(s: &Setup, n: u64) {
    let expected = format!("{n} {n}");
    let got = wait_for(&s.client, EXACT, &expected, WAIT).await;
    assert_eq!(got, expected, "server log:\n{}", s.server.log());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn modify_and_reset_setting_apply_to_a_running_table() {
    let s = Setup::new("events", 4).await;
    create_ids_pipeline(&s, "events", "").await;
    s.broker.produce("events", 4, &id_rows(0, 1000)).await;
    assert_exactly(&s, 1000).await;

    run(
        &s.client,
        "ALTER TABLE q MODIFY SETTING kafka_max_block_size = 7, kafka_poll_timeout_ms = 100",
    )
    .await;
    let shown = scalar(&s.client, "SHOW CREATE TABLE q").await;
    assert!(
        shown.contains("kafka_max_block_size = '7'")
            && shown.contains("kafka_poll_timeout_ms = '100'"),
        "{shown}"
    );
    s.broker
        .produce_from("events", 4, 1000, &id_rows(1000, 2000))
        .await;
    assert_exactly(&s, 2000).await;
    // The new consumers cut blocks of at most 7 messages.
    let commits: u64 = scalar(
        &s.client,
        "SELECT sum(num_commits) FROM system.kafka_consumers",
    )
    .await
    .parse()
    .unwrap();
    assert!(
        commits >= 1000 / 7,
        "{commits} commits for 1,000 messages in blocks of 7"
    );
    assert_eq!(
        scalar(&s.client, "SELECT guarantee FROM system.kafka_views").await,
        "exactly_once"
    );

    run(
        &s.client,
        "ALTER TABLE q RESET SETTING kafka_max_block_size",
    )
    .await;
    let shown = scalar(&s.client, "SHOW CREATE TABLE q").await;
    assert!(!shown.contains("kafka_max_block_size"), "{shown}");
    s.broker
        .produce_from("events", 4, 2000, &id_rows(2000, 3000))
        .await;
    assert_exactly(&s, 3000).await;

    // Checked as CREATE checks them; nothing changes on an error.
    let unknown = error_of(
        &s.client,
        "ALTER TABLE q MODIFY SETTING kafka_no_such_thing = 1",
    )
    .await;
    assert!(unknown.contains("Code: 115"), "{unknown}");
    let required = error_of(&s.client, "ALTER TABLE q RESET SETTING kafka_format").await;
    assert!(required.contains("Code: "), "{required}");
    assert!(scalar(&s.client, "SHOW CREATE TABLE q")
        .await
        .contains("JSONEachRow"));
    // Another table's ALTER is the engine's.
    run(
        &s.client,
        "ALTER TABLE dest MODIFY SETTING parts_to_throw_insert = 5000",
    )
    .await;
    s.broker
        .produce_from("events", 4, 3000, &id_rows(3000, 3100))
        .await;
    assert_exactly(&s, 3100).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alter_named_collection_reaches_its_tables() {
    let s = Setup::new("first", 2).await;
    s.broker.create_topic("second", 2);
    run(
        &s.client,
        "CREATE TABLE dest (id UInt64) ENGINE = MergeTree ORDER BY id",
    )
    .await;
    run(
        &s.client,
        &format!(
            "CREATE NAMED COLLECTION kc AS kafka_broker_list = '{}', kafka_topic_list = 'first', \
             kafka_group_name = 'g', kafka_format = 'JSONEachRow'",
            s.broker.bootstrap
        ),
    )
    .await;
    run(&s.client, "CREATE TABLE q (id UInt64) ENGINE = Kafka(kc)").await;
    run(
        &s.client,
        "CREATE MATERIALIZED VIEW mv TO dest AS SELECT id FROM q",
    )
    .await;
    s.broker.produce("first", 2, &id_rows(0, 100)).await;
    assert_exactly(&s, 100).await;

    // A change that would break the table is refused, and nothing changes.
    let broken = error_of(&s.client, "ALTER NAMED COLLECTION kc DELETE kafka_format").await;
    assert!(broken.contains("would not suit table"), "{broken}");
    // One that suits it applies at once: the table reads the new topic.
    run(
        &s.client,
        "ALTER NAMED COLLECTION kc SET kafka_topic_list = 'second'",
    )
    .await;
    s.broker
        .produce_from("second", 2, 100, &id_rows(100, 200))
        .await;
    assert_exactly(&s, 200).await;
}
