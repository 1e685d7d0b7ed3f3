//! Messages that cannot be parsed: one in a hundred broken (five kinds of
//! breakage), read by four tables with ClickHouse's four behaviours, with
//! exact counts; and the outcome of each kind of bad message on its own.

use std::time::Duration;

use kafkahouse_tests::{
    avro_long, avro_string, confluent, serve_registry, Broker, ChHttp, Kafkahouse,
};

const COLUMNS: &str = "id UInt32, name String, kind Enum8('a' = 1, 'b' = 2), small UInt8";
const MESSAGES: u32 = 1000;
const WAIT: Duration = Duration::from_secs(90);

/// Message `i`: good, except every hundredth, broken in one of five ways.
fn message(i: u32) -> Vec<u8> {
    if i % 100 != 99 {
        return format!(
            r#"{{"id":{i},"name":"n{i}","kind":"a","small":{}}}"#,
            i % 200
        )
        .into_bytes();
    }
    match (i / 100) % 5 {
        // Cut short.
        0 => format!(r#"{{"id":{i},"name":"#).into_bytes(),
        // Not UTF-8 in a String.
        1 => {
            let mut m = format!(r#"{{"id":{i},"name":""#).into_bytes();
            m.extend_from_slice(b"\xff\xfe\"}");
            m
        }
        // An enum name the type does not have.
        2 => format!(r#"{{"id":{i},"kind":"zzz"}}"#).into_bytes(),
        // A negative number for an unsigned column.
        3 => format!(r#"{{"id":{i},"small":-1}}"#).into_bytes(),
        // Text for a number.
        _ => br#"{"id":"abc"}"#.to_vec(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_broken_message_in_a_hundred_four_ways() {
    let broker = Broker::start();
    broker.create_topic("broken", 1);
    let payloads: Vec<Vec<u8>> = (0..MESSAGES).map(message).collect();
    broker.produce_bytes("broken", &payloads).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let server = Kafkahouse::embedded(dir.path());
    let http = ChHttp::new(&server);
    let b = &broker.bootstrap;

    let table = |name: &str, settings: &str| {
        format!("CREATE TABLE q_{name} ({COLUMNS}) ENGINE = Kafka('{b}', 'broken', 'g_{name}', 'JSONEachRow'){settings}")
    };
    for (name, settings) in [
        ("default", ""),
        ("skip", " SETTINGS kafka_skip_broken_messages = 10"),
        ("stream", " SETTINGS kafka_handle_error_mode = 'stream'"),
        (
            "dlq",
            " SETTINGS kafka_handle_error_mode = 'dead_letter_queue'",
        ),
    ] {
        http.run(&table(name, settings)).await;
        http.run(&format!(
            "CREATE TABLE dest_{name} ({COLUMNS}) ENGINE = MergeTree ORDER BY id"
        ))
        .await;
    }
    // Stream mode: a view for good rows, one routing errors to their table.
    http.run("CREATE TABLE errors_stream (offset UInt64, raw String, error String) ENGINE = MergeTree ORDER BY offset").await;
    http.run("CREATE MATERIALIZED VIEW mv_stream_errors TO errors_stream AS SELECT _offset AS offset, _raw_message AS raw, _error AS error FROM q_stream WHERE _error != ''").await;
    http.run("CREATE MATERIALIZED VIEW mv_stream TO dest_stream AS SELECT id, name, kind, small FROM q_stream WHERE _error = ''").await;
    for name in ["default", "skip", "dlq"] {
        http.run(&format!(
            "CREATE MATERIALIZED VIEW mv_{name} TO dest_{name} AS SELECT * FROM q_{name}"
        ))
        .await;
    }

    let good = (MESSAGES - MESSAGES / 100).to_string();
    // kafka_skip_broken_messages: the broken messages are left out, counted.
    http.eventually("SELECT count() FROM dest_skip", &good, WAIT)
        .await;
    http.eventually(
        "SELECT sum(broken_messages) FROM system.kafka_consumers WHERE table = 'q_skip'",
        "10",
        WAIT,
    )
    .await;
    // stream: good rows where they belong, each broken message as an error row.
    http.eventually("SELECT count() FROM dest_stream", &good, WAIT)
        .await;
    http.eventually("SELECT count() FROM errors_stream", "10", WAIT)
        .await;
    assert_eq!(
        http.run("SELECT groupArray(offset) FROM (SELECT offset FROM errors_stream ORDER BY offset) FORMAT TSV").await.trim(),
        "[99,199,299,399,499,599,699,799,899,999]"
    );
    assert_eq!(
        http.run("SELECT raw FROM errors_stream WHERE offset = 99 FORMAT TSV")
            .await
            .trim(),
        r#"{"id":99,"name":"#
    );
    assert_eq!(
        http.run("SELECT countIf(error = '') FROM errors_stream FORMAT TSV")
            .await
            .trim(),
        "0",
        "every error row says why"
    );
    let enum_error = http
        .run("SELECT error FROM errors_stream WHERE offset = 299 FORMAT TSV")
        .await;
    assert!(enum_error.contains("zzz"), "{enum_error}");
    // The engine read each message from a scratch file; the text names none.
    assert_eq!(
        http.run("SELECT countIf(position(error, 'scratch') > 0 OR position(error, 'file/uri') > 0) FROM errors_stream FORMAT TSV")
            .await
            .trim(),
        "0",
        "{}",
        http.run("SELECT error FROM errors_stream LIMIT 1 FORMAT TSV").await
    );
    // dead_letter_queue: good rows in, broken ones in system.dead_letter_queue.
    http.eventually("SELECT count() FROM dest_dlq", &good, WAIT)
        .await;
    http.eventually(
        "SELECT count() FROM system.dead_letter_queue WHERE table = 'q_dlq'",
        "10",
        WAIT,
    )
    .await;
    assert_eq!(
        http.run("SELECT groupArray(kafka_offset) FROM (SELECT kafka_offset FROM system.dead_letter_queue WHERE table = 'q_dlq' ORDER BY kafka_offset) FORMAT TSV").await.trim(),
        "[99,199,299,399,499,599,699,799,899,999]"
    );
    assert_eq!(
        http.run("SELECT table_engine, database, kafka_topic_name, kafka_partition, raw_message != '', error != '' FROM system.dead_letter_queue WHERE kafka_offset = 399 FORMAT TSV").await.trim(),
        "Kafka\tdefault\tbroken\t0\t1\t1"
    );
    // default: the block with the first broken message fails and is retried;
    // nothing from offset 99 on is inserted, and the error is visible.
    let exception = http
        .wait_for(
            "SELECT count() FROM system.kafka_consumers WHERE table = 'q_default' AND length(exceptions.text) > 0",
            "1",
            WAIT,
        )
        .await;
    assert_eq!(exception, "1", "{}", server.log());
    let text = http.run("SELECT exceptions.text[-1] FROM system.kafka_consumers WHERE table = 'q_default' FORMAT TSV").await;
    assert!(text.contains("offset 99"), "{text}");
    assert_eq!(
        http.run("SELECT count() FROM dest_default WHERE id >= 99 FORMAT TSV")
            .await
            .trim(),
        "0"
    );
    assert!(
        server.log().contains("cannot decode block"),
        "the failure is logged"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn each_kind_of_bad_message_on_its_own() {
    let broker = Broker::start();
    let dir = tempfile::tempdir().expect("temp dir");
    let server = Kafkahouse::embedded(dir.path());
    let http = ChHttp::new(&server);
    let b = &broker.bootstrap;
    let registry = serve_registry();

    // A number out of range wraps, as ClickHouse's text parsing does
    // (the engine parses: kafkahouse does the same); a negative number for
    // an unsigned column is an error.
    broker.create_topic("numbers", 1);
    broker
        .produce_bytes(
            "numbers",
            &[
                br#"{"id":1,"small":300}"#.to_vec(),
                br#"{"id":2,"small":-1}"#.to_vec(),
            ],
        )
        .await;
    http.run(&format!("CREATE TABLE q_numbers (id UInt32, small UInt8) ENGINE = Kafka('{b}', 'numbers', 'g_numbers', 'JSONEachRow') SETTINGS kafka_handle_error_mode = 'stream'")).await;
    http.run("CREATE TABLE numbers (id UInt32, small UInt8, error String) ENGINE = MergeTree ORDER BY id").await;
    http.run("CREATE MATERIALIZED VIEW mv_numbers TO numbers AS SELECT id, small, _error AS error FROM q_numbers").await;

    // A schema id the registry does not know: to the dead letter queue.
    broker.create_topic("avro", 1);
    let mut datum = Vec::new();
    avro_long(&mut datum, 7);
    avro_string(&mut datum, "known");
    let mut unknown = Vec::new();
    avro_long(&mut unknown, 8);
    avro_string(&mut unknown, "unknown schema");
    broker
        .produce_bytes("avro", &[confluent(1, datum), confluent(99, unknown)])
        .await;
    http.run(&format!("CREATE TABLE q_avro (id Int64, name String) ENGINE = Kafka('{b}', 'avro', 'g_avro', 'AvroConfluent') SETTINGS format_avro_schema_registry_url = '{registry}', kafka_handle_error_mode = 'dead_letter_queue'")).await;
    http.run("CREATE TABLE avro (id Int64, name String) ENGINE = MergeTree ORDER BY id")
        .await;
    http.run("CREATE MATERIALIZED VIEW mv_avro TO avro AS SELECT * FROM q_avro")
        .await;

    // A large message (900 kB, under the broker's 1 MB limit) is read whole.
    broker.create_topic("large", 1);
    let big = "x".repeat(900_000);
    broker
        .produce_bytes(
            "large",
            &[format!(r#"{{"id":1,"s":"{big}"}}"#).into_bytes()],
        )
        .await;
    http.run(&format!("CREATE TABLE q_large (id UInt32, s String) ENGINE = Kafka('{b}', 'large', 'g_large', 'JSONEachRow')")).await;
    http.run("CREATE TABLE large (id UInt32, s String) ENGINE = MergeTree ORDER BY id")
        .await;
    http.run("CREATE MATERIALIZED VIEW mv_large TO large AS SELECT * FROM q_large")
        .await;

    http.eventually("SELECT count() FROM numbers", "2", WAIT)
        .await;
    assert_eq!(
        http.run("SELECT id, small, error != '' FROM numbers ORDER BY id FORMAT TSV")
            .await,
        // The broken message's row has every column's default (id 0).
        "0\t0\t1\n1\t44\t0\n"
    );
    http.eventually("SELECT count() FROM avro", "1", WAIT).await;
    http.eventually(
        "SELECT count() FROM system.dead_letter_queue WHERE table = 'q_avro'",
        "1",
        WAIT,
    )
    .await;
    let error = http
        .run("SELECT error FROM system.dead_letter_queue WHERE table = 'q_avro' FORMAT TSV")
        .await;
    assert!(
        error.contains("99") || error.to_lowercase().contains("schema"),
        "{error}"
    );
    http.eventually("SELECT length(s) FROM large", "900000", WAIT)
        .await;

    // A message over the producer's limit (1 MB) is refused, clearly.
    http.run(&format!(
        "CREATE TABLE out (s String) ENGINE = Kafka('{b}', 'out', 'g_out', 'JSONEachRow')"
    ))
    .await;
    let refused = http
        .post_with(
            "INSERT INTO out SELECT concat(repeat('y', 1000000), repeat('z', 1000000))",
            Vec::new(),
            &[],
        )
        .await
        .expect_err("an oversized message is refused");
    assert!(refused.contains("Code: 1001"), "{refused}");
    assert!(refused.to_lowercase().contains("too large"), "{refused}");
}
