//! A real ClickHouse server (Debian's `clickhouse-server` 18.16) for the
//! remote backend: configured in a temporary directory, started, pinged,
//! killed and restarted by the tests.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use crate::{free_port, START_TIMEOUT};

/// A real ClickHouse server (Debian's `clickhouse-server`), in a temporary
/// directory, listening on loopback only. Killed when dropped.
pub struct ClickHouseServer {
    child: Option<Child>,
    dir: tempfile::TempDir,
    pub http_port: u16,
    /// XML added to config.xml's top level (see `start_with_config`).
    extra_config: String,
}

impl ClickHouseServer {
    pub fn start() -> ClickHouseServer {
        ClickHouseServer::start_with_config("")
    }

    /// Like `start`, with `extra` (XML elements) added to the top level of
    /// config.xml: e.g. a `<kafka>` section, which 18.16's Kafka engine
    /// reads only at start-up.
    pub fn start_with_config(extra: &str) -> ClickHouseServer {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut server = ClickHouseServer {
            child: None,
            dir,
            http_port: free_port(),
            extra_config: extra.to_string(),
        };
        server.write_config();
        server.launch();
        server
    }

    /// The server's error log so far (warnings and errors).
    pub fn error_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("log/error.log")).unwrap_or_default()
    }

    /// The server's process id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(|c| c.id())
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/", self.http_port)
    }

    fn write_config(&self) {
        let d = self.dir.path().display();
        let tcp_port = free_port();
        let config = format!(
            r#"<yandex>
  <logger><level>warning</level><log>{d}/log/server.log</log><errorlog>{d}/log/error.log</errorlog></logger>
  <listen_host>127.0.0.1</listen_host>
  <http_port>{http}</http_port>
  <tcp_port>{tcp_port}</tcp_port>
  <path>{d}/data/</path>
  <tmp_path>{d}/tmp/</tmp_path>
  <users_config>{d}/users.xml</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <mark_cache_size>5368709120</mark_cache_size>
  {extra}
</yandex>
"#,
            http = self.http_port,
            extra = self.extra_config
        );
        // LowCardinality is experimental in 18.16 and must be allowed.
        let users = r#"<yandex>
  <profiles><default><allow_experimental_low_cardinality_type>1</allow_experimental_low_cardinality_type></default></profiles>
  <users><default><password></password><networks><ip>127.0.0.1</ip><ip>::1</ip></networks><profile>default</profile><quota>default</quota></default></users>
  <quotas><default></default></quotas>
</yandex>
"#;
        std::fs::write(self.dir.path().join("config.xml"), config).expect("write config");
        std::fs::write(self.dir.path().join("users.xml"), users).expect("write users");
    }

    fn launch(&mut self) {
        let binary = which("clickhouse-server").unwrap_or_else(|| {
            panic!("clickhouse-server is not installed: apt-get install clickhouse-server (scripts/test does)")
        });
        let out = std::fs::File::create(self.dir.path().join("stdout.log")).expect("log file");
        let child = Command::new(binary)
            .arg(format!(
                "--config-file={}",
                self.dir.path().join("config.xml").display()
            ))
            .stdout(out.try_clone().expect("log file"))
            .stderr(out)
            .spawn()
            .expect("start clickhouse-server");
        self.child = Some(child);
        let deadline = Instant::now() + START_TIMEOUT;
        while Instant::now() < deadline {
            if self.ping() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!(
            "clickhouse-server did not answer /ping; its log:\n{}",
            std::fs::read_to_string(self.dir.path().join("log/error.log")).unwrap_or_default()
        );
    }

    fn ping(&self) -> bool {
        let Ok(mut stream) = TcpStream::connect(("127.0.0.1", self.http_port)) else {
            return false;
        };
        let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
        if stream.write_all(b"GET /ping HTTP/1.0\r\n\r\n").is_err() {
            return false;
        }
        let mut response = String::new();
        let _ = stream.read_to_string(&mut response);
        response.contains("Ok.")
    }

    /// Kills the server (its data stays), as a crash or network loss would.
    /// Sends `signal` (e.g. "STOP", "CONT") to the server process: a
    /// stopped server still accepts connections and never answers.
    pub fn signal(&self, signal: &str) {
        if let Some(child) = &self.child {
            let _ = std::process::Command::new("kill")
                .args([&format!("-{signal}"), &child.id().to_string()])
                .status();
        }
    }

    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again on the same port and data.
    pub fn restart(&mut self) {
        self.kill();
        self.launch();
    }
}

impl Drop for ClickHouseServer {
    fn drop(&mut self) {
        self.kill();
    }
}

fn which(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}
