//! How kafkahouse's librdkafka clients are configured from a Kafka table's
//! settings (brokers, group, security, client id), and how their errors
//! become ClickHouse errors. Shared by consumers, producers, the direct
//! SELECT and the offset sync.
//!
//! Uses rdkafka's configuration, the catalog's settings and the server's
//! errors; nothing else of the pipeline.

use rdkafka::config::ClientConfig;

use catalog::kafka::KafkaSettings;
use catalog::KafkaTableDef;

use crate::error::ChError;

/// What every consumer of a Kafka table is configured with: its brokers,
/// group and security settings, manual commits, and a new group starting at
/// the earliest offset (as ClickHouse does).
pub fn consumer_config(settings: &KafkaSettings, client_id: &str) -> ClientConfig {
    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", &settings.broker_list)
        .set("group.id", &settings.group_name)
        .set("client.id", client_id)
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("auto.offset.reset", "earliest");
    set_security(&mut config, settings);
    config
}

/// The table's security settings (SASL), for consumers and producers alike.
pub fn set_security(config: &mut ClientConfig, settings: &KafkaSettings) {
    for (key, value) in [
        ("security.protocol", &settings.security_protocol),
        ("sasl.mechanism", &settings.sasl_mechanism),
        ("sasl.username", &settings.sasl_username),
        ("sasl.password", &settings.sasl_password),
    ] {
        if !value.is_empty() {
            config.set(key, value);
        }
    }
}

/// This instance's id among several (`--instance-id`), set once at start.
static INSTANCE: std::sync::OnceLock<String> = std::sync::OnceLock::new();

/// Names this instance in its consumers' client ids (called once, at start).
pub fn set_instance(id: String) {
    let _ = INSTANCE.set(id);
}

/// This instance's id (`kafkahouse` before `set_instance`).
pub fn instance() -> &'static str {
    INSTANCE.get().map_or("kafkahouse", String::as_str)
}

/// `kafka_client_id`, or one naming the instance, the table and the
/// consumer's number (so that a group's members say where they run).
pub fn client_id(table: &KafkaTableDef, settings: &KafkaSettings, index: u64) -> String {
    if settings.client_id.is_empty() {
        format!("kafkahouse-{}-{}-{index}", instance(), table.name)
    } else {
        settings.client_id.clone()
    }
}

pub(crate) fn kafka_error(e: rdkafka::error::KafkaError) -> ChError {
    ChError::new(crate::error::codes::KAFKA_ERROR, format!("Kafka: {e}"))
}
