//! Writing to Kafka: one idempotent producer per broker configuration,
//! shared by `INSERT INTO kafka_table` and by views that write to Kafka
//! tables. A write returns only when the broker acknowledged every message.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use rdkafka::config::ClientConfig;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{DeliveryFuture, FutureProducer, FutureRecord};

use catalog::kafka::KafkaSettings;

use super::kafka_config::kafka_error;
use crate::error::{codes, ChError};

/// How long librdkafka keeps trying to deliver a message before the write
/// fails (its default is 5 minutes, too long for a client waiting on INSERT).
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(30);

/// One message to produce.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OutMessage {
    pub payload: Vec<u8>,
    pub key: Option<Vec<u8>>,
    pub timestamp_ms: Option<i64>,
    pub headers: Vec<(String, Vec<u8>)>,
}

/// Producers by the settings that make them differ.
#[derive(Default)]
pub struct Producers {
    cache: Mutex<HashMap<Vec<String>, FutureProducer>>,
}

impl Producers {
    fn producer(&self, settings: &KafkaSettings) -> Result<FutureProducer, ChError> {
        let key = vec![
            settings.broker_list.clone(),
            settings.client_id.clone(),
            settings.security_protocol.clone(),
            settings.sasl_mechanism.clone(),
            settings.sasl_username.clone(),
            settings.sasl_password.clone(),
        ];
        // Plain data behind the lock: still consistent after a panic elsewhere.
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(p) = cache.get(&key) {
            return Ok(p.clone());
        }
        let mut config = ClientConfig::new();
        config
            .set("bootstrap.servers", &settings.broker_list)
            .set(
                "client.id",
                if settings.client_id.is_empty() {
                    "kafkahouse-producer"
                } else {
                    &settings.client_id
                },
            )
            // No duplicates or reordering from librdkafka's own retries.
            .set("enable.idempotence", "true")
            .set("linger.ms", "5")
            .set(
                "message.timeout.ms",
                DELIVERY_TIMEOUT.as_millis().to_string(),
            );
        super::kafka_config::set_security(&mut config, settings);
        let producer: FutureProducer = config.create().map_err(kafka_error)?;
        cache.insert(key, producer.clone());
        Ok(producer)
    }

    /// Sends `messages` to the table's first topic (as ClickHouse does) and
    /// waits until the broker acknowledged all of them.
    pub async fn send(
        &self,
        settings: &KafkaSettings,
        messages: Vec<OutMessage>,
    ) -> Result<(), ChError> {
        let Some(topic) = settings.topics.first() else {
            return Err(ChError::new(
                codes::BAD_ARGUMENTS,
                "the Kafka table has no topic to write to",
            ));
        };
        let producer = self.producer(settings)?;
        let mut pending: std::collections::VecDeque<DeliveryFuture> = Default::default();
        for message in &messages {
            loop {
                let mut record = FutureRecord::<[u8], [u8]>::to(topic).payload(&message.payload);
                if let Some(key) = &message.key {
                    record = record.key(key);
                }
                if let Some(ms) = message.timestamp_ms {
                    record = record.timestamp(ms);
                }
                if !message.headers.is_empty() {
                    let mut headers = rdkafka::message::OwnedHeaders::new();
                    for (name, value) in &message.headers {
                        headers = headers.insert(rdkafka::message::Header {
                            key: name,
                            value: Some(value),
                        });
                    }
                    record = record.headers(headers);
                }
                match producer.send_result(record) {
                    Ok(delivery) => {
                        pending.push_back(delivery);
                        break;
                    }
                    Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), _)) => {
                        // librdkafka's queue is full: wait for the oldest send.
                        match pending.pop_front() {
                            Some(oldest) => delivered(oldest.await)?,
                            None => tokio::time::sleep(Duration::from_millis(10)).await,
                        }
                    }
                    Err((e, _)) => return Err(kafka_error(e)),
                }
            }
        }
        for delivery in pending {
            delivered(delivery.await)?;
        }
        Ok(())
    }
}

fn delivered(
    result: Result<
        rdkafka::producer::future_producer::OwnedDeliveryResult,
        futures::channel::oneshot::Canceled,
    >,
) -> Result<(), ChError> {
    match result {
        Ok(Ok(_)) => Ok(()),
        Ok(Err((e, _))) => Err(ChError::new(
            codes::KAFKA_ERROR,
            format!("Kafka: a message was not delivered: {e}"),
        )),
        Err(_) => Err(ChError::new(
            codes::KAFKA_ERROR,
            "Kafka: the producer was closed before a message was delivered",
        )),
    }
}

/// Output rows (one per line, as ClickHouse writes JSONEachRow) grouped into
/// messages of at most `rows_per_message` rows. With `with_metadata`, a
/// message's key, timestamp and headers come from its last row's `_key`,
/// `_timestamp` and `_headers.name` / `_headers.value` columns (as
/// ClickHouse's Kafka producer takes key and timestamp).
#[cfg(test)]
pub fn messages_of_lines(
    body: &[u8],
    rows_per_message: usize,
    with_metadata: bool,
) -> (Vec<OutMessage>, usize) {
    let lines: Vec<&[u8]> = body
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .collect();
    messages_of_rows(b"", &lines, rows_per_message, with_metadata)
}

/// Rendered rows grouped into messages of at most `rows_per_message` rows,
/// each opening with `header` (a WithNames format's names line); see
/// `messages_of_lines` for `with_metadata`.
pub fn messages_of_rows(
    header: &[u8],
    rows: &[&[u8]],
    rows_per_message: usize,
    with_metadata: bool,
) -> (Vec<OutMessage>, usize) {
    let messages = rows
        .chunks(rows_per_message.max(1))
        .map(|chunk| {
            let mut payload = header.to_vec();
            payload.extend_from_slice(&chunk.join(&b'\n'));
            let mut message = OutMessage {
                payload,
                ..OutMessage::default()
            };
            if let (true, Some(last)) = (with_metadata, chunk.last()) {
                metadata_of(last, &mut message);
            }
            message
        })
        .collect();
    (messages, rows.len())
}

/// A message's key, timestamp and headers from one JSONEachRow row's
/// `_key`, `_timestamp` (DateTime or DateTime64) and `_headers.*`.
pub fn metadata_of(row: &[u8], message: &mut OutMessage) {
    let Ok(serde_json::Value::Object(row)) = serde_json::from_slice::<serde_json::Value>(row)
    else {
        return;
    };
    if let Some(serde_json::Value::String(key)) = row.get("_key") {
        message.key = Some(key.as_bytes().to_vec());
    }
    if let Some(serde_json::Value::String(t)) = row.get("_timestamp") {
        message.timestamp_ms = chrono::NaiveDateTime::parse_from_str(t, "%Y-%m-%d %H:%M:%S%.f")
            .ok()
            .map(|t| t.and_utc().timestamp_millis());
    }
    if let (Some(serde_json::Value::Array(names)), Some(serde_json::Value::Array(values))) =
        (row.get("_headers.name"), row.get("_headers.value"))
    {
        message.headers = names
            .iter()
            .zip(values)
            .filter_map(|(n, v)| Some((n.as_str()?.to_string(), v.as_str()?.as_bytes().to_vec())))
            .collect();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_grouped_into_messages() {
        let body = b"{\"a\":1}\n{\"a\":2}\n{\"a\":3}\n";
        let payloads = |m: Vec<OutMessage>| m.into_iter().map(|m| m.payload).collect::<Vec<_>>();
        let (one, rows) = messages_of_lines(body, 1, false);
        assert_eq!(rows, 3);
        assert_eq!(
            payloads(one),
            vec![
                b"{\"a\":1}".to_vec(),
                b"{\"a\":2}".to_vec(),
                b"{\"a\":3}".to_vec()
            ]
        );
        let (two, _) = messages_of_lines(body, 2, false);
        assert_eq!(
            payloads(two),
            vec![b"{\"a\":1}\n{\"a\":2}".to_vec(), b"{\"a\":3}".to_vec()]
        );
        assert!(messages_of_lines(b"", 1, false).0.is_empty());
    }

    #[test]
    fn key_timestamp_and_headers_come_from_the_last_row() {
        let body = b"{\"v\":1,\"_key\":\"k1\",\"_timestamp\":\"2024-01-01 00:00:01\",\"_headers.name\":[\"h\"],\"_headers.value\":[\"x\"]}\n{\"v\":2,\"_key\":\"k2\",\"_timestamp\":\"2024-01-01 00:00:02\",\"_headers.name\":[],\"_headers.value\":[]}\n";
        let (messages, _) = messages_of_lines(body, 1, true);
        assert_eq!(messages[0].key.as_deref(), Some(&b"k1"[..]));
        assert_eq!(messages[0].timestamp_ms, Some(1_704_067_201_000));
        assert_eq!(messages[0].headers, vec![("h".to_string(), b"x".to_vec())]);
        let (grouped, _) = messages_of_lines(body, 2, true);
        assert_eq!(grouped[0].key.as_deref(), Some(&b"k2"[..]));
        assert!(messages_of_lines(body, 1, false).0[0].key.is_none());
    }
}
