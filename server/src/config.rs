//! Configuration: command-line flags, `KAFKAHOUSE_*` environment variables and
//! an optional TOML file, in that order of precedence.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use clap::Parser;
use serde::Deserialize;

/// Defaults sit next to ClickHouse's own ports (8123 HTTP, 9000 native, 9005
/// PostgreSQL) without colliding with a ClickHouse server on the same host.
pub const DEFAULT_PG_LISTEN: &str = "127.0.0.1:15432";
pub const DEFAULT_HTTP_LISTEN: &str = "127.0.0.1:18123";
pub const DEFAULT_NATIVE_LISTEN: &str = "127.0.0.1:19000";
pub const DEFAULT_DATA_DIR: &str = "kafkahouse-data";
pub const DEFAULT_HTTPS_LISTEN: &str = "127.0.0.1:18443";
pub const DEFAULT_NATIVE_SECURE_LISTEN: &str = "127.0.0.1:19440";

/// ClickHouse's Kafka table engine as a standalone server.
///
/// Every flag can also be given as the environment variable shown, or as a key
/// of the same name (with underscores) in the --config TOML file.
#[derive(Debug, Parser)]
#[command(name = "kafkahouse", version, about)]
pub struct Args {
    /// TOML file with any of the settings below (e.g. `pg_listen = "0.0.0.0:15432"`).
    #[arg(long, env = "KAFKAHOUSE_CONFIG")]
    pub config: Option<PathBuf>,

    /// Directory for kafkahouse's state: the catalog of Kafka tables and views,
    /// and the embedded ClickHouse's databases. [default: ./kafkahouse-data]
    #[arg(long, env = "KAFKAHOUSE_DATA_DIR")]
    pub data_dir: Option<PathBuf>,

    /// Address for PostgreSQL clients (psql, psycopg, tokio-postgres). [default: 127.0.0.1:15432]
    #[arg(long, env = "KAFKAHOUSE_PG_LISTEN")]
    pub pg_listen: Option<SocketAddr>,

    /// Address for ClickHouse's HTTP interface (curl, clickhouse-connect, the
    /// clickhouse crate). [default: 127.0.0.1:18123]
    #[arg(long, env = "KAFKAHOUSE_HTTP_LISTEN")]
    pub http_listen: Option<SocketAddr>,

    /// Address for ClickHouse's native protocol (clickhouse-client,
    /// clickhouse-driver). [default: 127.0.0.1:19000]
    #[arg(long, env = "KAFKAHOUSE_NATIVE_LISTEN")]
    pub native_listen: Option<SocketAddr>,

    /// URL of a ClickHouse server's HTTP interface (http:// or https://). When
    /// absent, kafkahouse uses its embedded ClickHouse engine (libchdb).
    #[arg(long, env = "KAFKAHOUSE_CLICKHOUSE_URL")]
    pub clickhouse_url: Option<String>,

    /// User for --clickhouse-url. [default: default]
    #[arg(long, env = "KAFKAHOUSE_CLICKHOUSE_USER")]
    pub clickhouse_user: Option<String>,

    /// Password for --clickhouse-url. Prefer the environment variable or the
    /// config file: command lines are visible to other users.
    #[arg(long, env = "KAFKAHOUSE_CLICKHOUSE_PASSWORD", hide_env_values = true)]
    pub clickhouse_password: Option<String>,

    /// Database that new sessions start in. [default: default]
    #[arg(long, env = "KAFKAHOUSE_CLICKHOUSE_DATABASE")]
    pub clickhouse_database: Option<String>,

    /// Path of libchdb.so for the embedded backend.
    /// [default: $XDG_CACHE_HOME/kafkahouse/libchdb.so, i.e. ~/.cache/kafkahouse/libchdb.so]
    #[arg(long, env = "KAFKAHOUSE_LIBCHDB")]
    pub libchdb: Option<PathBuf>,

    /// Directory of format schemas (`.proto` files for Protobuf, named by a
    /// Kafka table's `kafka_schema = 'file.proto:Message'`), as ClickHouse's
    /// `format_schema_path`. [default: DATA_DIR/format_schemas]
    #[arg(long, env = "KAFKAHOUSE_FORMAT_SCHEMA_PATH")]
    pub format_schema_path: Option<PathBuf>,

    /// Log filter: error, warn, info, debug, trace, or a tracing directive
    /// such as `kafkahouse=debug`. [default: info]
    #[arg(long, env = "KAFKAHOUSE_LOG_LEVEL")]
    pub log_level: Option<String>,

    /// Log format: text or json. [default: text]
    #[arg(long, env = "KAFKAHOUSE_LOG_FORMAT")]
    pub log_format: Option<LogFormat>,

    /// Consumer group protocol: auto (Kafka's KIP-848 protocol where the
    /// broker has it, else classic), consumer (KIP-848 only) or classic
    /// (a killed server's partitions come back after 6 s instead of the
    /// broker's KIP-848 session timeout). [default: auto]
    #[arg(long, env = "KAFKAHOUSE_KAFKA_GROUP_PROTOCOL")]
    pub kafka_group_protocol: Option<KafkaGroupProtocol>,

    /// Keep the catalog (Kafka tables, views, named collections) in this
    /// Kafka topic, shared by every instance that names it, instead of the
    /// data directory. Needs --catalog-brokers.
    #[arg(long, env = "KAFKAHOUSE_CATALOG_TOPIC")]
    pub catalog_topic: Option<String>,

    /// Brokers of --catalog-topic (host:port,...).
    #[arg(long, env = "KAFKAHOUSE_CATALOG_BROKERS")]
    pub catalog_brokers: Option<String>,

    /// Key (64 hex digits) that SASL passwords (and URLs with a password)
    /// are sealed with in the catalog file or the shared catalog topic;
    /// instances sharing a catalog need the same one. Prefer the environment
    /// variable or the config file.
    #[arg(long, env = "KAFKAHOUSE_CATALOG_KEY", hide_env_values = true)]
    pub catalog_key: Option<String>,

    /// PEM certificate chain for TLS (ClickHouse's `certificateFile`): the
    /// PostgreSQL port then accepts TLS (psql `sslmode=require`) and the
    /// HTTPS port opens. Needs --tls-private-key.
    #[arg(long, env = "KAFKAHOUSE_TLS_CERTIFICATE")]
    pub tls_certificate: Option<PathBuf>,

    /// PEM private key of --tls-certificate (ClickHouse's `privateKeyFile`).
    #[arg(long, env = "KAFKAHOUSE_TLS_PRIVATE_KEY")]
    pub tls_private_key: Option<PathBuf>,

    /// Address for ClickHouse's HTTP interface over TLS (ClickHouse's
    /// `https_port`), with --tls-certificate. [default: 127.0.0.1:18443]
    #[arg(long, env = "KAFKAHOUSE_HTTPS_LISTEN")]
    pub https_listen: Option<SocketAddr>,

    /// Address for ClickHouse's native protocol over TLS (ClickHouse's
    /// `tcp_port_secure`), with --tls-certificate. [default: 127.0.0.1:19440]
    #[arg(long, env = "KAFKAHOUSE_NATIVE_SECURE_LISTEN")]
    pub native_secure_listen: Option<SocketAddr>,

    /// This instance's name among several: in consumers' client ids and in
    /// system.kafka_consumers. [default: hostname:HTTP port]
    #[arg(long, env = "KAFKAHOUSE_INSTANCE_ID")]
    pub instance_id: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum KafkaGroupProtocol {
    Auto,
    Consumer,
    Classic,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

/// The TOML file: the same keys as the flags.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    data_dir: Option<PathBuf>,
    pg_listen: Option<SocketAddr>,
    http_listen: Option<SocketAddr>,
    native_listen: Option<SocketAddr>,
    clickhouse_url: Option<String>,
    clickhouse_user: Option<String>,
    clickhouse_password: Option<String>,
    clickhouse_database: Option<String>,
    libchdb: Option<PathBuf>,
    format_schema_path: Option<PathBuf>,
    log_level: Option<String>,
    log_format: Option<LogFormat>,
    kafka_group_protocol: Option<KafkaGroupProtocol>,
    tls_certificate: Option<PathBuf>,
    tls_private_key: Option<PathBuf>,
    https_listen: Option<SocketAddr>,
    native_secure_listen: Option<SocketAddr>,
    catalog_topic: Option<String>,
    catalog_brokers: Option<String>,
    catalog_key: Option<String>,
    instance_id: Option<String>,
    /// `[named_collections.kc]` tables of `key = value`, as ClickHouse's
    /// config.xml defines `<named_collections><kc>...`; a key
    /// `not_overridable = ["k", ...]` locks keys as `NOT OVERRIDABLE` does.
    named_collections: Option<BTreeMap<String, BTreeMap<String, toml::Value>>>,
    /// `[users.NAME]` tables, as ClickHouse's users.xml `<users><NAME>`:
    /// `password_sha256_hex`, `password_double_sha1_hex` or `password`,
    /// `networks = ["10.0.0.0/8", ...]`, `profile = "readonly"`.
    users: Option<BTreeMap<String, crate::users::UserConfig>>,
}

/// The named collections of the configuration file. Their values may be
/// passwords: shown in logs by name and keys only.
#[derive(Clone, Default)]
pub struct ConfigCollections(pub Vec<catalog::NamedCollection>);

impl std::fmt::Debug for ConfigCollections {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map()
            .entries(
                self.0
                    .iter()
                    .map(|c| (&c.name, c.params.keys().collect::<Vec<_>>())),
            )
            .finish()
    }
}

impl ConfigCollections {
    fn from_file(
        path: &Path,
        tables: BTreeMap<String, BTreeMap<String, toml::Value>>,
    ) -> Result<ConfigCollections, ConfigError> {
        let invalid = |why: String| ConfigError::Collection {
            path: path.to_path_buf(),
            why,
        };
        let mut collections = Vec::new();
        for (name, keys) in tables {
            let mut collection = catalog::NamedCollection {
                name: name.clone(),
                ..Default::default()
            };
            for (key, value) in keys {
                match (key.as_str(), value) {
                    ("not_overridable", toml::Value::Array(locked)) => {
                        for k in locked {
                            let toml::Value::String(k) = k else {
                                return Err(invalid(format!(
                                    "named_collections.{name}.not_overridable holds key names (strings)"
                                )));
                            };
                            collection.not_overridable.insert(k);
                        }
                    }
                    (_, toml::Value::String(v)) => {
                        collection.params.insert(key, v);
                    }
                    (
                        _,
                        v @ (toml::Value::Integer(_)
                        | toml::Value::Float(_)
                        | toml::Value::Boolean(_)),
                    ) => {
                        collection.params.insert(key, v.to_string());
                    }
                    (_, _) => {
                        return Err(invalid(format!(
                            "named_collections.{name}.{key} must be a string, number or boolean"
                        )))
                    }
                }
            }
            collections.push(collection);
        }
        Ok(ConfigCollections(collections))
    }
}

/// Where the ClickHouse side lives.
#[derive(Clone)]
pub enum BackendConfig {
    Embedded {
        library: PathBuf,
        path: PathBuf,
    },
    Remote {
        url: String,
        user: String,
        password: Option<String>,
    },
}

// Written by hand so that the password never reaches a log line.
impl std::fmt::Debug for BackendConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BackendConfig::Embedded { library, path } => f
                .debug_struct("Embedded")
                .field("library", library)
                .field("path", path)
                .finish(),
            BackendConfig::Remote {
                url,
                user,
                password,
            } => f
                .debug_struct("Remote")
                .field("url", url)
                .field("user", user)
                .field("password", &password.as_ref().map(|_| "<hidden>"))
                .finish(),
        }
    }
}

/// libchdb and the data directory of the engine that parses messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormatEngineConfig {
    pub library: PathBuf,
    pub path: PathBuf,
}

/// The resolved configuration the server runs with.
#[derive(Debug, Clone)]
pub struct Config {
    pub data_dir: PathBuf,
    pub pg_listen: SocketAddr,
    pub http_listen: SocketAddr,
    pub native_listen: SocketAddr,
    pub backend: BackendConfig,
    /// The embedded engine that parses Kafka messages in formats kafkahouse
    /// does not decode itself: the backend's own when that is embedded.
    pub format_engine: FormatEngineConfig,
    pub format_schema_path: PathBuf,
    pub default_database: String,
    pub log_level: String,
    pub log_format: LogFormat,
    pub kafka_group_protocol: KafkaGroupProtocol,
    pub named_collections: ConfigCollections,
    /// `--catalog-topic`: the catalog is shared through Kafka.
    pub shared_catalog: Option<SharedCatalog>,
    /// Who may connect (the file's `[users.*]`, or `default` on loopback).
    pub users: crate::users::Users,
    /// TLS: the certificate, its key, and the HTTPS address.
    pub tls: Option<TlsConfig>,
    /// `--catalog-key`: secrets in the catalog are sealed with it.
    pub catalog_key: Option<catalog::sealing::SecretKey>,
    pub instance_id: Option<String>,
}

/// The listeners' TLS.
#[derive(Debug, Clone)]
pub struct TlsConfig {
    pub certificate: PathBuf,
    pub private_key: PathBuf,
    pub https_listen: SocketAddr,
    pub native_secure_listen: SocketAddr,
}

/// Where a shared catalog lives.
#[derive(Debug, Clone)]
pub struct SharedCatalog {
    pub topic: String,
    pub brokers: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("config file {path}: {why}")]
    Collection { path: PathBuf, why: String },
    #[error("config file: {0}")]
    Users(String),
    #[error("--tls-certificate needs --tls-private-key (and the other way round)")]
    TlsPair,
    #[error("--catalog-topic needs --catalog-brokers (and the other way round)")]
    CatalogBrokers,
    #[error("--catalog-key: {0}")]
    CatalogKey(catalog::sealing::SealError),
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("config file {path} is invalid: {source}")]
    Parse {
        path: PathBuf,
        source: Box<toml::de::Error>,
    },
}

impl Config {
    /// Resolves flags and environment (already merged by clap) over the file.
    pub fn resolve(args: Args) -> Result<Config, ConfigError> {
        let mut file = match &args.config {
            Some(path) => read_file(path)?,
            None => FileConfig::default(),
        };
        let named_collections = match (&args.config, file.named_collections.take()) {
            (Some(path), Some(tables)) => ConfigCollections::from_file(path, tables)?,
            _ => ConfigCollections::default(),
        };
        let data_dir = args
            .data_dir
            .or(file.data_dir)
            .unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR));
        let library = args
            .libchdb
            .or(file.libchdb)
            .unwrap_or_else(default_libchdb_path);
        let format_schema_path = args
            .format_schema_path
            .or(file.format_schema_path)
            .unwrap_or_else(|| data_dir.join("format_schemas"));
        let backend = match args.clickhouse_url.or(file.clickhouse_url) {
            Some(url) => BackendConfig::Remote {
                url,
                user: args
                    .clickhouse_user
                    .or(file.clickhouse_user)
                    .unwrap_or_else(|| "default".to_string()),
                password: args.clickhouse_password.or(file.clickhouse_password),
            },
            None => BackendConfig::Embedded {
                library: library.clone(),
                path: data_dir.join("clickhouse"),
            },
        };
        // chDB opens one data directory per process: with an embedded
        // backend the parser shares it, otherwise it gets its own.
        let format_engine = match &backend {
            BackendConfig::Embedded { library, path } => FormatEngineConfig {
                library: library.clone(),
                path: path.clone(),
            },
            BackendConfig::Remote { .. } => FormatEngineConfig {
                library,
                path: data_dir.join("format-engine"),
            },
        };
        let users = match file.users.take() {
            Some(users) => crate::users::Users::from_config(users).map_err(ConfigError::Users)?,
            None => crate::users::Users::default(),
        };
        let tls = match (
            args.tls_certificate.or(file.tls_certificate),
            args.tls_private_key.or(file.tls_private_key),
        ) {
            (None, None) => None,
            (Some(certificate), Some(private_key)) => Some(TlsConfig {
                certificate,
                private_key,
                https_listen: args
                    .https_listen
                    .or(file.https_listen)
                    .unwrap_or_else(|| parse_default(DEFAULT_HTTPS_LISTEN)),
                native_secure_listen: args
                    .native_secure_listen
                    .or(file.native_secure_listen)
                    .unwrap_or_else(|| parse_default(DEFAULT_NATIVE_SECURE_LISTEN)),
            }),
            _ => return Err(ConfigError::TlsPair),
        };
        let catalog_key = args
            .catalog_key
            .or(file.catalog_key)
            .map(|k| catalog::sealing::SecretKey::from_hex(&k))
            .transpose()
            .map_err(ConfigError::CatalogKey)?;
        let shared_catalog = match (
            args.catalog_topic.or(file.catalog_topic),
            args.catalog_brokers.or(file.catalog_brokers),
        ) {
            (None, None) => None,
            (Some(topic), Some(brokers)) => Some(SharedCatalog { topic, brokers }),
            _ => return Err(ConfigError::CatalogBrokers),
        };
        Ok(Config {
            tls,
            users,
            shared_catalog,
            catalog_key,
            instance_id: args.instance_id.or(file.instance_id),
            pg_listen: args
                .pg_listen
                .or(file.pg_listen)
                .unwrap_or_else(|| parse_default(DEFAULT_PG_LISTEN)),
            http_listen: args
                .http_listen
                .or(file.http_listen)
                .unwrap_or_else(|| parse_default(DEFAULT_HTTP_LISTEN)),
            native_listen: args
                .native_listen
                .or(file.native_listen)
                .unwrap_or_else(|| parse_default(DEFAULT_NATIVE_LISTEN)),
            default_database: args
                .clickhouse_database
                .or(file.clickhouse_database)
                .unwrap_or_else(|| "default".to_string()),
            log_level: args
                .log_level
                .or(file.log_level)
                .unwrap_or_else(|| "info".to_string()),
            log_format: args
                .log_format
                .or(file.log_format)
                .unwrap_or(LogFormat::Text),
            kafka_group_protocol: args
                .kafka_group_protocol
                .or(file.kafka_group_protocol)
                .unwrap_or(KafkaGroupProtocol::Auto),
            data_dir,
            backend,
            format_engine,
            format_schema_path,
            named_collections,
        })
    }
}

fn parse_default(addr: &str) -> SocketAddr {
    // The defaults are constants above; a typo there is a programming error.
    addr.parse().expect("default listen address is valid")
}

fn read_file(path: &Path) -> Result<FileConfig, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    toml::from_str(&text).map_err(|source| ConfigError::Parse {
        path: path.to_path_buf(),
        source: Box::new(source),
    })
}

/// `$XDG_CACHE_HOME/kafkahouse/libchdb.so`, where `scripts/run` puts it.
pub fn default_libchdb_path() -> PathBuf {
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(|| PathBuf::from(".cache"));
    cache.join("kafkahouse").join("libchdb.so")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Args {
        let mut full = vec!["kafkahouse"];
        full.extend_from_slice(list);
        Args::try_parse_from(full).unwrap()
    }

    #[test]
    fn flags_win_over_the_file_and_defaults_fill_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("k.toml");
        std::fs::write(
            &file,
            "pg_listen = \"127.0.0.1:7000\"\nclickhouse_url = \"http://ch:8123\"\nclickhouse_password = \"s3cret\"\n",
        )
        .unwrap();
        let config = Config::resolve(args(&[
            "--config",
            file.to_str().unwrap(),
            "--pg-listen",
            "127.0.0.1:7001",
        ]))
        .unwrap();
        assert_eq!(config.pg_listen.port(), 7001);
        assert_eq!(config.http_listen, parse_default(DEFAULT_HTTP_LISTEN));
        match &config.backend {
            BackendConfig::Remote {
                url,
                user,
                password,
            } => {
                assert_eq!(url, "http://ch:8123");
                assert_eq!(user, "default");
                assert_eq!(password.as_deref(), Some("s3cret"));
            }
            other => panic!("expected remote, got {other:?}"),
        }
        assert!(
            !format!("{config:?}").contains("s3cret"),
            "password leaked into Debug"
        );
    }

    #[test]
    fn no_url_means_embedded_under_the_data_dir() {
        let config = Config::resolve(args(&["--data-dir", "/tmp/kh"])).unwrap();
        match config.backend {
            BackendConfig::Embedded { path, .. } => {
                assert_eq!(path, Path::new("/tmp/kh/clickhouse"))
            }
            other => panic!("expected embedded, got {other:?}"),
        }
    }

    #[test]
    fn unknown_file_keys_are_rejected() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("k.toml");
        std::fs::write(&file, "pg_lsten = \"127.0.0.1:7000\"\n").unwrap();
        assert!(matches!(
            Config::resolve(args(&["--config", file.to_str().unwrap()])),
            Err(ConfigError::Parse { .. })
        ));
    }

    #[test]
    fn default_ports_differ_from_clickhouse_defaults() {
        for addr in [
            DEFAULT_PG_LISTEN,
            DEFAULT_HTTP_LISTEN,
            DEFAULT_NATIVE_LISTEN,
        ] {
            let port = parse_default(addr).port();
            assert!(
                ![8123, 9000, 9004, 9005, 9009, 5432].contains(&port),
                "{addr}"
            );
        }
    }
}
