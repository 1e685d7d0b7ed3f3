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

use super::consumer::kafka_error;
use crate::error::{codes, ChError};

/// How long librdkafka keeps trying to deliver a message before the write
/// fails (its default is 5 minutes, too long for a client waiting on INSERT).
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(30);

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
        super::consumer::set_security(&mut config, settings);
        let producer: FutureProducer = config.create().map_err(kafka_error)?;
        cache.insert(key, producer.clone());
        Ok(producer)
    }

    /// Sends `messages` to the table's first topic (as ClickHouse does) and
    /// waits until the broker acknowledged all of them.
    pub async fn send(
        &self,
        settings: &KafkaSettings,
        messages: Vec<Vec<u8>>,
    ) -> Result<(), ChError> {
        let Some(topic) = settings.topics.first() else {
            return Err(ChError::new(
                codes::BAD_ARGUMENTS,
                "the Kafka table has no topic to write to",
            ));
        };
        let producer = self.producer(settings)?;
        let mut pending: std::collections::VecDeque<DeliveryFuture> = Default::default();
        for payload in &messages {
            loop {
                let record = FutureRecord::<(), [u8]>::to(topic).payload(payload);
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
/// messages of at most `rows_per_message` rows.
pub fn messages_of_lines(body: &[u8], rows_per_message: usize) -> (Vec<Vec<u8>>, usize) {
    let lines: Vec<&[u8]> = body
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .collect();
    let messages = lines
        .chunks(rows_per_message.max(1))
        .map(|chunk| chunk.join(&b'\n'))
        .collect();
    (messages, lines.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_grouped_into_messages() {
        let body = b"{\"a\":1}\n{\"a\":2}\n{\"a\":3}\n";
        let (one, rows) = messages_of_lines(body, 1);
        assert_eq!(rows, 3);
        assert_eq!(
            one,
            vec![
                b"{\"a\":1}".to_vec(),
                b"{\"a\":2}".to_vec(),
                b"{\"a\":3}".to_vec()
            ]
        );
        let (two, _) = messages_of_lines(body, 2);
        assert_eq!(
            two,
            vec![b"{\"a\":1}\n{\"a\":2}".to_vec(), b"{\"a\":3}".to_vec()]
        );
        assert!(messages_of_lines(b"", 1).0.is_empty());
    }
}
