//! kafkahouse as a process: started on the embedded or a remote backend
//! (with extra environment variables when a test needs them), its addresses
//! read from its ready line, PostgreSQL clients connected to it, stopped by
//! SIGTERM (with its exit status) or killed when dropped.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::{kafkahouse_bin, libchdb, START_TIMEOUT};

/// A kafkahouse server process. Killed when dropped.
pub struct Kafkahouse {
    child: Child,
    pub pg_addr: SocketAddr,
    /// The ClickHouse HTTP interface.
    pub http_addr: SocketAddr,
    /// The ClickHouse native protocol.
    pub native_addr: SocketAddr,
    stderr: PathBuf,
}

impl Kafkahouse {
    /// Starts kafkahouse on the embedded backend with its data in `data_dir`.
    pub fn embedded(data_dir: &Path) -> Kafkahouse {
        Kafkahouse::embedded_with_env(data_dir, &[])
    }

    /// Starts kafkahouse on the embedded backend with `args` added (a
    /// `--config` file, TLS files, ...).
    pub fn embedded_with_args(data_dir: &Path, args: &[&str]) -> Kafkahouse {
        let lib = libchdb();
        let mut all = vec!["--libchdb", lib.to_str().expect("utf-8 path")];
        all.extend_from_slice(args);
        Kafkahouse::start(data_dir, &all)
    }

    /// Starts kafkahouse against a ClickHouse server's HTTP interface.
    pub fn remote(data_dir: &Path, url: &str) -> Kafkahouse {
        Kafkahouse::start(data_dir, &["--clickhouse-url", url])
    }

    /// Starts kafkahouse on the embedded backend with `env` added to its
    /// environment (e.g. `KAFKAHOUSE_FAILPOINTS`).
    pub fn embedded_with_env(data_dir: &Path, env: &[(&str, &str)]) -> Kafkahouse {
        let lib = libchdb();
        let args = ["--libchdb", lib.to_str().expect("utf-8 path")];
        match Kafkahouse::try_start_with_env(data_dir, &args, env) {
            Ok(k) => k,
            Err(why) => panic!("kafkahouse did not start: {why}"),
        }
    }

    /// Starts kafkahouse with `args` and waits for its ready line.
    pub fn start(data_dir: &Path, args: &[&str]) -> Kafkahouse {
        match Kafkahouse::try_start(data_dir, args) {
            Ok(k) => k,
            Err(why) => panic!("kafkahouse did not start: {why}"),
        }
    }

    /// Like `start`, but returns what went wrong instead of panicking.
    pub fn try_start(data_dir: &Path, args: &[&str]) -> Result<Kafkahouse, String> {
        Kafkahouse::try_start_with_env(data_dir, args, &[])
    }

    /// Like `try_start`, with `env` added to the server's environment.
    pub fn try_start_with_env(
        data_dir: &Path,
        args: &[&str],
        env: &[(&str, &str)],
    ) -> Result<Kafkahouse, String> {
        let stderr = data_dir.with_extension("stderr.log");
        let log = std::fs::File::create(&stderr).map_err(|e| e.to_string())?;
        let mut child = Command::new(kafkahouse_bin())
            .envs(env.iter().copied())
            .arg("--data-dir")
            .arg(data_dir)
            .args(["--pg-listen", "127.0.0.1:0", "--http-listen", "127.0.0.1:0"])
            .args(["--native-listen", "127.0.0.1:0"])
            .args(if args.contains(&"--log-level") {
                &[][..]
            } else {
                &["--log-level", "kafkahouse=debug,rdkafka=info,info"][..]
            })
            .args(args)
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .map_err(|e| format!("cannot run {}: {e}", kafkahouse_bin().display()))?;
        let stdout = child.stdout.take().ok_or("no stdout")?;
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                // `kafkahouse ready: postgres://ADDR http://ADDR native://ADDR`
                if let Some(rest) = line.strip_prefix("kafkahouse ready: postgres://") {
                    let mut parts = rest.split(' ');
                    let pg = parts.next().unwrap_or_default().to_string();
                    let mut next = |scheme: &str| {
                        parts
                            .next()
                            .and_then(|h| h.strip_prefix(scheme))
                            .unwrap_or_default()
                            .to_string()
                    };
                    let http = next("http://");
                    let native = next("native://");
                    let _ = tx.send((pg, http, native));
                }
            }
        });
        match rx.recv_timeout(START_TIMEOUT) {
            Ok((pg, http, native)) => Ok(Kafkahouse {
                child,
                pg_addr: pg.parse().map_err(|e| format!("bad address {pg}: {e}"))?,
                http_addr: http
                    .parse()
                    .map_err(|e| format!("bad address {http}: {e}"))?,
                native_addr: native
                    .parse()
                    .map_err(|e| format!("bad address {native}: {e}"))?,
                stderr,
            }),
            Err(_) => {
                let _ = child.kill();
                let status = child.wait().map(|s| s.to_string()).unwrap_or_default();
                let log = std::fs::read_to_string(&stderr).unwrap_or_default();
                Err(format!("exit {status}; stderr:\n{log}"))
            }
        }
    }

    /// A tokio-postgres client; its connection task runs on the current runtime.
    pub async fn connect(&self) -> tokio_postgres::Client {
        self.connect_to("default").await
    }

    /// A client whose startup packet names `dbname`.
    pub async fn connect_to(&self, dbname: &str) -> tokio_postgres::Client {
        let config = format!(
            "host={} port={} user=default dbname={dbname}",
            self.pg_addr.ip(),
            self.pg_addr.port()
        );
        let (client, connection) = tokio_postgres::connect(&config, tokio_postgres::NoTls)
            .await
            .unwrap_or_else(|e| panic!("connect to kafkahouse: {e}"));
        tokio::spawn(async move {
            let _ = connection.await;
        });
        client
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// SIGTERM, then waits for the exit.
    pub fn stop(mut self) {
        self.terminate();
    }

    /// SIGTERM, then waits for the exit and returns its status (panics if
    /// the server is still running after `START_TIMEOUT`). Its log stays
    /// readable.
    pub fn terminate(&mut self) -> ExitStatus {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let deadline = Instant::now() + START_TIMEOUT;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("kafkahouse did not stop on SIGTERM");
    }

    /// The server's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }
}

impl Drop for Kafkahouse {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
