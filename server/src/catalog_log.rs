//! The shared catalog's log in Kafka (`--catalog-topic`, `--catalog-brokers`):
//! a compacted, single-partition topic that every instance appends its DDL
//! to and follows from its first record, as Kafka Connect keeps its
//! configuration. The rule that orders and resolves changes is the catalog
//! crate's (`catalog::store::shared`); this module only moves its records.
//!
//! Uses rdkafka and the catalog crate; nothing else of the server.

use std::sync::Arc;
use std::time::Duration;

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::RDKafkaErrorCode;
use rdkafka::message::Message;
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{Offset, TopicPartitionList};

use catalog::sealing::SecretKey;
use catalog::store::shared::{Journal, Record};
use catalog::{Catalog, CatalogError};

/// The catalog lives in partition 0 whatever the topic has (a broker that
/// creates topics on first use may give it more).
const PARTITION: i32 = 0;
/// Each broker request's own time limit.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// How long start-up waits to have read the catalog.
const CATCH_UP_TIMEOUT: Duration = Duration::from_secs(60);

/// Where the shared catalog is kept and how this instance signs its records.
#[derive(Debug, Clone)]
pub struct CatalogLog {
    pub topic: String,
    pub brokers: String,
    pub key: Option<SecretKey>,
    pub instance: String,
}

#[derive(Debug, thiserror::Error)]
pub enum LogError {
    #[error("catalog topic {topic} on {brokers}: {why}")]
    Kafka {
        topic: String,
        brokers: String,
        why: String,
    },
    #[error(transparent)]
    Catalog(#[from] CatalogError),
}

/// Writes records to the topic, each acknowledged by every in-sync replica.
struct KafkaJournal {
    log: CatalogLog,
    producer: FutureProducer,
}

impl std::fmt::Debug for KafkaJournal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KafkaJournal")
            .field("topic", &self.log.topic)
            .finish()
    }
}

impl Journal for KafkaJournal {
    fn append(&self, records: &[Record]) -> Result<Vec<u64>, CatalogError> {
        let mut encoded = Vec::new();
        for record in records {
            let mut record = record.clone();
            record.origin = self.log.instance.clone();
            encoded.push((record.key.clone(), record.encode(self.log.key.as_ref())?));
        }
        let send = async {
            let mut positions = Vec::new();
            // One at a time: each is in the log before the next is sent.
            for (key, payload) in &encoded {
                let delivered = self
                    .producer
                    .send(
                        FutureRecord::to(&self.log.topic)
                            .partition(PARTITION)
                            .key(key)
                            .payload(payload),
                        REQUEST_TIMEOUT,
                    )
                    .await
                    .map_err(|(e, _)| CatalogError::Journal(e.to_string()))?;
                positions.push(u64::try_from(delivered.offset).unwrap_or_default());
            }
            Ok(positions)
        };
        // DDL is rare: the statement's worker waits, its neighbours move.
        match tokio::runtime::Handle::try_current() {
            Ok(handle) => tokio::task::block_in_place(|| handle.block_on(send)),
            Err(_) => futures::executor::block_on(send),
        }
    }
}

impl CatalogLog {
    fn error(&self, why: impl std::fmt::Display) -> LogError {
        LogError::Kafka {
            topic: self.topic.clone(),
            brokers: self.brokers.clone(),
            why: why.to_string(),
        }
    }

    fn client(&self, role: &str) -> ClientConfig {
        let mut config = ClientConfig::new();
        config.set("bootstrap.servers", &self.brokers).set(
            "client.id",
            format!("kafkahouse-{}-catalog-{role}", self.instance),
        );
        config
    }

    /// Opens the shared catalog: creates the topic when missing, reads it to
    /// its end and follows it from then on (a thread of its own).
    pub async fn open(self) -> Result<Arc<Catalog>, LogError> {
        let producer: FutureProducer = self
            .client("writer")
            .set("enable.idempotence", "true")
            .set("acks", "all")
            .create()
            .map_err(|e| self.error(e))?;
        let consumer: BaseConsumer = self
            .client("reader")
            .set("group.id", format!("kafkahouse-catalog-{}", self.instance))
            .set("enable.auto.commit", "false")
            .create()
            .map_err(|e| self.error(e))?;
        let exists = tokio::task::block_in_place(|| {
            consumer
                .fetch_metadata(Some(&self.topic), REQUEST_TIMEOUT)
                .is_ok_and(|m| m.topics().iter().any(|t| t.error().is_none()))
        });
        if !exists {
            self.create_topic().await;
        }
        let (low, high) = tokio::task::block_in_place(|| {
            consumer
                .fetch_watermarks(&self.topic, PARTITION, REQUEST_TIMEOUT)
                .map_err(|e| self.error(e))
        })?;
        let mut assignment = TopicPartitionList::new();
        assignment
            .add_partition_offset(&self.topic, PARTITION, Offset::Beginning)
            .map_err(|e| self.error(e))?;
        consumer.assign(&assignment).map_err(|e| self.error(e))?;
        let key = self.key.clone();
        let journal = KafkaJournal {
            log: self.clone(),
            producer,
        };
        let catalog = Arc::new(Catalog::shared(Arc::new(journal)));
        let follower = catalog.clone();
        std::thread::Builder::new()
            .name("catalog-log".into())
            .spawn(move || follow(consumer, follower, key))
            .map_err(|e| self.error(e))?;
        tracing::info!(topic = %self.topic, records = high - low, "reading the shared catalog");
        let waiting = catalog.clone();
        let end = u64::try_from(high).unwrap_or_default();
        tokio::task::spawn_blocking(move || waiting.wait_applied(end, CATCH_UP_TIMEOUT))
            .await
            .map_err(|e| self.error(e))??;
        Ok(catalog)
    }

    /// Creates the topic compacted with one partition; a broker without the
    /// admin API (librdkafka's mock) creates it on first use instead.
    async fn create_topic(&self) {
        let admin: AdminClient<_> = match self.client("admin").create() {
            Ok(admin) => admin,
            Err(e) => {
                tracing::warn!(error = %e, "cannot create an admin client for the catalog topic");
                return;
            }
        };
        let topic = NewTopic::new(&self.topic, 1, TopicReplication::Fixed(-1))
            .set("cleanup.policy", "compact");
        let options = AdminOptions::new()
            .operation_timeout(Some(REQUEST_TIMEOUT))
            .request_timeout(Some(REQUEST_TIMEOUT));
        match admin.create_topics([&topic], &options).await {
            Ok(results) => match results.into_iter().next() {
                Some(Ok(_)) => tracing::info!(topic = %self.topic, "created the catalog topic"),
                Some(Err((_, RDKafkaErrorCode::TopicAlreadyExists))) | None => {}
                Some(Err((_, code))) => {
                    tracing::debug!(topic = %self.topic, %code, "catalog topic not created")
                }
            },
            Err(e) => tracing::debug!(topic = %self.topic, error = %e, "catalog topic not created"),
        }
    }
}

/// Applies every record of the log to `catalog`, in order, for ever.
fn follow(consumer: BaseConsumer, catalog: Arc<Catalog>, key: Option<SecretKey>) {
    loop {
        let Some(message) = consumer.poll(Duration::from_millis(500)) else {
            continue;
        };
        let message = match message {
            Ok(m) => m,
            Err(e) => {
                tracing::warn!(error = %e, "reading the catalog topic");
                std::thread::sleep(Duration::from_millis(200));
                continue;
            }
        };
        let position = u64::try_from(message.offset()).unwrap_or_default();
        let record = match message.payload() {
            // A tombstone of compaction's own: nothing to apply.
            None => None,
            Some(bytes) => match Record::decode(bytes, key.as_ref()) {
                Ok(record) => Some(record),
                Err(e) => {
                    tracing::error!(position, error = %e, "a catalog record this instance cannot read: skipped");
                    None
                }
            },
        };
        if let Some(r) = &record {
            tracing::debug!(position, key = %r.key, origin = %r.origin, "catalog record");
        }
        catalog.apply_logged(position, record);
    }
}
