//! Secrets at rest: with `--catalog-key`, a Kafka table's SASL password and
//! a schema registry URL's password are sealed in the catalog file, the
//! table still works after a restart, and neither shows in SHOW CREATE,
//! system tables or the log.

use kafkahouse_tests::kafka::run;
use kafkahouse_tests::{libchdb, scalar, Kafkahouse};

const KEY: &str = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

fn start(data: &std::path::Path) -> Kafkahouse {
    Kafkahouse::embedded_with_args(data, &["--catalog-key", KEY])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passwords_are_sealed_in_the_catalog_file() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = start(&data);
    let client = server.connect().await;
    run(
        &client,
        "CREATE TABLE q (s String) ENGINE = Kafka SETTINGS kafka_broker_list = '127.0.0.1:1', \
         kafka_topic_list = 't', kafka_group_name = 'g', kafka_format = 'JSONEachRow', \
         kafka_sasl_password = 'hunter2-at-rest', \
         format_avro_schema_registry_url = 'http://u:registry-secret@127.0.0.1:1'",
    )
    .await;
    let file = std::fs::read_to_string(data.join("catalog/catalog.json")).unwrap();
    assert!(
        !file.contains("hunter2-at-rest") && !file.contains("registry-secret"),
        "{file}"
    );
    assert!(file.contains("sealed:v1:"), "{file}");
    drop(client);
    let mut server = server;
    assert!(server.terminate().success());
    let log = server.log();

    let server = start(&data);
    let client = server.connect().await;
    let shown = scalar(&client, "SHOW CREATE TABLE q").await;
    assert!(
        shown.contains("kafka_sasl_password = '[HIDDEN]'"),
        "{shown}"
    );
    assert!(shown.contains("http://u:[HIDDEN]@127.0.0.1:1"), "{shown}");
    for text in [shown, log, server.log()] {
        assert!(
            !text.contains("hunter2-at-rest") && !text.contains("registry-secret"),
            "{text}"
        );
    }
    // The key is needed to read the file back: without it, no start.
    drop(client);
    drop(server);
    let without = Kafkahouse::try_start(&data, &["--libchdb", libchdb().to_str().unwrap()]);
    let why = without.err().expect("started without the catalog key");
    assert!(why.contains("catalog key"), "{why}");
}
