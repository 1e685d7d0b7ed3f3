//! Helpers for the integration tests: start kafkahouse as a process, start a
//! real ClickHouse server, connect real clients. Nothing here is mocked.
//!
//! The test command (`scripts/test`) installs what these need: libchdb for
//! the embedded backend, Debian's clickhouse-server 18.16 and psql. When one
//! is missing the tests fail and say what to install, rather than skip.
//!
//! Each private module holds one part (the process, the backends, the
//! broker, the clients) and what tests use of it is re-exported here, so
//! a test names `kafkahouse_tests::NAME` whichever module it lives in.

use std::time::Duration;

pub use tokio_postgres;

/// How long a process may take to become ready before a test gives up.
const START_TIMEOUT: Duration = Duration::from_secs(60);

mod avro;
mod broker;
mod clickhouse;
mod env;
mod http;
mod pg;
mod server;

pub use avro::{avro_long, avro_string, confluent, serve_registry};
pub use broker::{Broker, ReadMessage};
pub use clickhouse::ClickHouseServer;
pub use env::{fixture, free_port, github_queue_ddl, kafkahouse_bin, libchdb, pipe, sha256_hex};
pub use http::ChHttp;
pub use pg::{error_of, error_text, rows, scalar, wait_for};
pub use server::Kafkahouse;

pub mod differential;
pub mod fuzz;
pub mod github;
pub mod hostile;
pub mod kafka;
