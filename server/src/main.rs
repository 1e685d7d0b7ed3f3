//! kafkahouse: ClickHouse's Kafka table engine as a standalone server.

mod backend;
mod catalog_log;
mod chdb;
mod compression;
mod config;
mod error;
mod executor;
mod failpoints;
mod formats;
mod frontend;
mod kafka_statements;
mod metrics;
mod pipeline;
mod result;
mod session;
mod status_log;
mod system_tables;
mod tls;
mod users;

use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;
use tokio::net::TcpListener;
use tracing_subscriber::EnvFilter;

use backend::embedded::Embedded;
use backend::remote::Remote;
use backend::Backend;
use catalog::Catalog;
use config::{Args, BackendConfig, Config, LogFormat};
use error::ChError;
use executor::Executor;
use pipeline::Pipelines;

/// glibc gives threads that allocate at the same time their own arenas (up
/// to eight per core), and memory freed in one arena is not reused by the
/// others: with the engine's pools, librdkafka's threads and the async
/// workers, that fragmentation was a quarter of the peak while draining a
/// backlog (scripts/bench, 600,000 rows / 128 partitions: 283 -> 204 MiB
/// above idle, rows/s unchanged; one arena cost 10 % of rows/s). Two arenas,
/// unless the operator set `MALLOC_ARENA_MAX`. Called before any thread
/// starts.
fn limit_malloc_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    if std::env::var_os("MALLOC_ARENA_MAX").is_none() {
        // SAFETY: mallopt only sets an allocator parameter; no other thread
        // exists yet.
        unsafe {
            libc::mallopt(libc::M_ARENA_MAX, 2);
        }
    }
}

#[derive(Debug, thiserror::Error)]
enum StartError {
    #[error(transparent)]
    Config(#[from] config::ConfigError),
    #[error("{0}")]
    Backend(#[from] ChError),
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: std::net::SocketAddr,
        source: std::io::Error,
    },
    #[error("cannot use data directory {dir}: {source}")]
    DataDir { dir: String, source: std::io::Error },
    #[error("cannot open the catalog: {0}")]
    Catalog(String),
    #[error(transparent)]
    Tls(#[from] tls::TlsError),
    #[error("data directory {0} is in use by another kafkahouse process")]
    DataDirLocked(String),
}

fn main() -> ExitCode {
    limit_malloc_arenas();
    let config = match Config::resolve(Args::parse()) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("kafkahouse: {e}");
            return ExitCode::from(2);
        }
    };
    init_tracing(&config);
    let (armed, unknown) = failpoints::init();
    for point in armed {
        tracing::warn!(
            failpoint = point.name(),
            "test-only failpoint armed ({})",
            failpoints::VARIABLE
        );
    }
    for name in unknown {
        tracing::warn!(failpoint = %name, "unknown failpoint in {}, ignored", failpoints::VARIABLE);
    }
    // Large stacks for the workers: every recursion over client input has a
    // depth limit, and debug builds' frames are large; 16 MiB is address
    // space, touched only when used.
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_stack_size(16 << 20)
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("kafkahouse: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let code = match runtime.block_on(run(config)) {
        Ok(()) => {
            tracing::info!("stopped");
            0
        }
        Err(e) => {
            tracing::error!(error = %e, "kafkahouse could not start");
            eprintln!("kafkahouse: {e}");
            1
        }
    };
    // Everything shutdown must do is done: the pipelines stopped, their
    // consumers committed and left their groups. Exiting here, with the
    // runtime alive, does not join its threads, so none of them runs
    // libchdb's thread-local destructors on its way out: they crashed there
    // (a segfault, exit 139, after every SIGTERM). Logs go to stderr
    // unbuffered; the ready line went to stdout.
    let _ = std::io::stdout().flush();
    let _ = std::io::stderr().flush();
    // `_exit`, not `exit`: exit runs libchdb's C++ static destructors while
    // its background threads (merges) still run, which crashed (SIGSEGV)
    // after a SIGTERM during a stream (faults.rs). Everything durable is
    // durable already: the catalog is synced, inserted parts are on disk,
    // offsets are committed; what the engine had in flight is dropped as a
    // crash would drop it, and kafkahouse replays that identically.
    // SAFETY: `_exit` ends the process at once; nothing runs after it.
    unsafe { libc::_exit(code) }
}

fn init_tracing(config: &Config) {
    let filter = EnvFilter::try_new(&config.log_level).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match config.log_format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.init(),
    }
}

/// A listener on `addr` and the address it got (port 0 picks a free one).
async fn listen(
    addr: std::net::SocketAddr,
) -> Result<(TcpListener, std::net::SocketAddr), StartError> {
    let error = |source| StartError::Listen { addr, source };
    let listener = TcpListener::bind(addr).await.map_err(error)?;
    let local = listener.local_addr().map_err(error)?;
    Ok((listener, local))
}

async fn run(config: Config) -> Result<(), StartError> {
    tracing::info!(?config, "starting");
    let _lock = lock_data_dir(&config.data_dir)?;
    let backend: Arc<dyn Backend> = match &config.backend {
        BackendConfig::Embedded { library, path } => {
            Arc::new(Embedded::start(library, path).await?)
        }
        BackendConfig::Remote {
            url,
            user,
            password,
        } => Arc::new(
            Remote::connect(
                url,
                user,
                password.clone(),
                backend::remote::REQUEST_TIMEOUT,
            )
            .await?,
        ),
    };
    tracing::info!(backend = %backend.description(), "backend ready");
    let tls = match &config.tls {
        Some(t) => Some(tls::acceptor(&t.certificate, &t.private_key)?),
        None => None,
    };
    // Listening first: the default instance id names the HTTP port.
    let (listener, pg_addr) = listen(config.pg_listen).await?;
    let (http_listener, http_addr) = listen(config.http_listen).await?;
    let (native_listener, native_addr) = listen(config.native_listen).await?;
    let instance = config
        .instance_id
        .clone()
        .unwrap_or_else(|| format!("{}:{}", hostname(), http_addr.port()));
    pipeline::kafka_config::set_instance(instance.clone());
    let catalog = match &config.shared_catalog {
        None => Arc::new(
            Catalog::open_sealed(&config.data_dir.join("catalog"), config.catalog_key.clone())
                .map_err(|e| StartError::Catalog(e.to_string()))?,
        ),
        Some(shared) => catalog_log::CatalogLog {
            topic: shared.topic.clone(),
            brokers: shared.brokers.clone(),
            key: config.catalog_key.clone(),
            instance: instance.clone(),
        }
        .open()
        .await
        .map_err(|e| StartError::Catalog(e.to_string()))?,
    };
    // The configuration file's collections, as it says now.
    catalog
        .sync_config_collections(config.named_collections.0.clone())
        .map_err(|e| StartError::Catalog(e.to_string()))?;
    let parsing = Arc::new(pipeline::decode::Parsing {
        engine: chdb::Engine::new(
            config.format_engine.library.clone(),
            config.format_engine.path.clone(),
        ),
        schema_path: config.format_schema_path.clone(),
        scratch: {
            let scratch = config.data_dir.join("scratch");
            // Files of a previous run (one killed mid-parse) are of no use.
            let _ = std::fs::remove_dir_all(&scratch);
            scratch
        },
    });
    pipeline::consumer::choose_group_protocol(match config.kafka_group_protocol {
        config::KafkaGroupProtocol::Auto => pipeline::consumer::GroupProtocol::Auto,
        config::KafkaGroupProtocol::Consumer => pipeline::consumer::GroupProtocol::Consumer,
        config::KafkaGroupProtocol::Classic => pipeline::consumer::GroupProtocol::Classic,
    });
    let pipelines = Arc::new(Pipelines::new(catalog.clone(), backend.clone(), parsing));
    // Consumption resumes from the committed offsets of every attached table.
    pipelines.reconcile().await;
    follow_catalog(&catalog, pipelines.clone());
    // Several instances: each reports its consumers to the others.
    let status = match &config.shared_catalog {
        Some(shared) => Some(
            status_log::StatusLog::start(
                &shared.topic,
                &shared.brokers,
                &instance,
                pipelines.clone(),
            )
            .map_err(StartError::Catalog)?,
        ),
        None => None,
    };
    if !config.users.configured {
        tracing::warn!("no users configured: user `default` connects without a password, from loopback only (add [users.NAME] to the --config file)");
    }
    let executor = Arc::new(Executor::new(
        backend,
        catalog,
        pipelines.clone(),
        config.default_database.clone(),
        config.users.clone(),
    ));

    tracing::info!(%instance, "instance");
    tracing::info!(addr = %pg_addr, "listening for PostgreSQL clients");
    tracing::info!(addr = %http_addr, "listening for ClickHouse HTTP clients");
    tracing::info!(addr = %native_addr, "listening for ClickHouse native-protocol clients");
    // TLS: the PostgreSQL port negotiates it; HTTPS and the secure native
    // port listen on their own addresses.
    let mut secure = String::new();
    let mut secure_tasks = Vec::new();
    if let (Some(t), Some(acceptor)) = (&config.tls, &tls) {
        let (listener, https_addr) = listen(t.https_listen).await?;
        tracing::info!(addr = %https_addr, "listening for ClickHouse HTTPS clients");
        secure_tasks.push(tokio::spawn(frontend::http::serve_tls(
            listener,
            executor.clone(),
            acceptor.clone(),
        )));
        let (listener, native_addr) = listen(t.native_secure_listen).await?;
        tracing::info!(addr = %native_addr, "listening for ClickHouse native-protocol clients over TLS");
        secure_tasks.push(tokio::spawn(frontend::native::serve_tls(
            listener,
            executor.clone(),
            acceptor.clone(),
        )));
        tracing::info!("the PostgreSQL port accepts TLS (sslmode=require)");
        secure = format!(" https://{https_addr} native+tls://{native_addr}");
    }
    // One line on stdout that scripts and tests wait for.
    println!(
        "kafkahouse ready: postgres://{pg_addr} http://{http_addr} native://{native_addr}{secure}"
    );

    tokio::select! {
        () = frontend::pg::serve(listener, executor.clone(), tls.clone()) => {}
        () = frontend::http::serve(http_listener, executor.clone()) => {}
        () = frontend::native::serve(native_listener, executor) => {}
        () = shutdown_signal() => tracing::info!("shutting down"),
    }
    for task in secure_tasks {
        task.abort();
    }
    pipelines.stop_all().await;
    if let Some(status) = status {
        status.report(None).await;
    }
    Ok(())
}

/// Pipelines follow changes that other instances make to a shared catalog
/// (this instance's own DDL reconciles as it returns).
fn follow_catalog(catalog: &Catalog, pipelines: Arc<Pipelines>) {
    let changed = Arc::new(tokio::sync::Notify::new());
    let notify = changed.clone();
    catalog.on_change(Box::new(move || notify.notify_one()));
    tokio::spawn(async move {
        loop {
            changed.notified().await;
            pipelines.reconcile().await;
        }
    });
}

/// The machine's name, for the default instance id.
fn hostname() -> String {
    let mut buffer = [0u8; 256];
    // SAFETY: the buffer is valid for its length; gethostname writes at most
    // that many bytes.
    let ok = unsafe { libc::gethostname(buffer.as_mut_ptr().cast(), buffer.len()) } == 0;
    let end = buffer.iter().position(|&b| b == 0).unwrap_or(buffer.len());
    match std::str::from_utf8(&buffer[..end]) {
        Ok(name) if ok && !name.is_empty() => name.to_string(),
        _ => "localhost".to_string(),
    }
}

/// Holds an exclusive lock on `<data_dir>/kafkahouse.lock` while the server
/// runs: two servers on one data directory would corrupt it.
fn lock_data_dir(dir: &Path) -> Result<File, StartError> {
    let shown = dir.display().to_string();
    std::fs::create_dir_all(dir).map_err(|source| StartError::DataDir {
        dir: shown.clone(),
        source,
    })?;
    let file = File::create(dir.join("kafkahouse.lock")).map_err(|source| StartError::DataDir {
        dir: shown.clone(),
        source,
    })?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(StartError::DataDirLocked(shown)),
        Err(std::fs::TryLockError::Error(source)) => {
            Err(StartError::DataDir { dir: shown, source })
        }
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::warn!(error = %e, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
}
