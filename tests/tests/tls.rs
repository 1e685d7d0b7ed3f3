//! TLS on every listener, with a certificate made by openssl for the test:
//! psql with `sslmode=require` (and a password sent in clear inside TLS),
//! curl and clickhouse-connect over HTTPS, clickhouse-client `--secure` and
//! clickhouse-driver over the native protocol's secure port.

use std::path::{Path, PathBuf};
use std::process::Command;

use kafkahouse_tests::{free_port, sha256_hex, Kafkahouse};

/// A self-signed certificate for 127.0.0.1 and its key, in `dir`.
fn certificate(dir: &Path) -> (PathBuf, PathBuf) {
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let status = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
        ])
        .args(["-nodes", "-days", "2", "-subj", "/CN=localhost"])
        .args(["-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .stderr(std::process::Stdio::null())
        .status()
        .expect("openssl");
    assert!(status.success(), "openssl req: {status}");
    (cert, key)
}

fn output(command: &mut Command) -> (bool, String) {
    let out = command.output().expect("client");
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_listener_speaks_tls() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = certificate(dir.path());
    let config = dir.path().join("kafkahouse.toml");
    std::fs::write(
        &config,
        format!(
            "[users.alice]\npassword_sha256_hex = \"{}\"\n",
            sha256_hex("alice-secret")
        ),
    )
    .unwrap();
    let (https, native_tls) = (free_port(), free_port());
    let server = Kafkahouse::embedded_with_args(
        &dir.path().join("data"),
        &[
            "--config",
            config.to_str().unwrap(),
            "--tls-certificate",
            cert.to_str().unwrap(),
            "--tls-private-key",
            key.to_str().unwrap(),
            "--https-listen",
            &format!("127.0.0.1:{https}"),
            "--native-secure-listen",
            &format!("127.0.0.1:{native_tls}"),
        ],
    );

    // PostgreSQL: TLS on the same port, negotiated by the client.
    let conninfo = format!(
        "host=127.0.0.1 port={} user=alice dbname=default sslmode=require",
        server.pg_addr.port()
    );
    let (ok, out) = output(
        Command::new("psql")
            .env("PGPASSWORD", "alice-secret")
            .args([&conninfo, "-tA", "-c", "SELECT 41 + 1", "-c", "\\conninfo"]),
    );
    assert!(
        ok && out.contains("42") && out.contains("SSL connection"),
        "{out}"
    );

    // HTTPS: curl trusting the test's certificate; plain HTTP there fails.
    let url = format!("https://127.0.0.1:{https}/?query=SELECT%2042");
    let (ok, out) = output(
        Command::new("curl")
            .args(["-sS", "--cacert"])
            .arg(&cert)
            .args(["-u", "alice:alice-secret", &url]),
    );
    assert!(ok && out.trim() == "42", "{out}");
    let (ok, _) = output(Command::new("curl").args([
        "-sS",
        &format!("http://127.0.0.1:{https}/?query=SELECT%201"),
    ]));
    assert!(!ok, "plain HTTP answered on the HTTPS port");

    // Python clients, verifying the certificate.
    let script = format!("{}/clients/login.py", env!("CARGO_MANIFEST_DIR"));
    for (kind, port) in [("connect", https), ("driver", native_tls)] {
        let (_, out) = output(Command::new("python3").args([
            script.as_str(),
            kind,
            "127.0.0.1",
            &port.to_string(),
            "alice",
            "alice-secret",
            cert.to_str().unwrap(),
        ]));
        assert_eq!(out.trim(), "ok 1", "{kind}");
    }

    // clickhouse-client --secure, told to accept the test's certificate.
    let client_config = dir.path().join("client.xml");
    std::fs::write(
        &client_config,
        "<config><openSSL><client><verificationMode>none</verificationMode>\
         <invalidCertificateHandler><name>AcceptCertificateHandler</name></invalidCertificateHandler>\
         </client></openSSL></config>",
    )
    .unwrap();
    let (ok, out) = output(
        Command::new("clickhouse-client")
            .arg("--config-file")
            .arg(&client_config)
            .args([
                "--secure",
                "--host",
                "127.0.0.1",
                "--port",
                &native_tls.to_string(),
            ])
            .args([
                "--user",
                "alice",
                "--password",
                "alice-secret",
                "-q",
                "SELECT 42",
            ]),
    );
    assert!(ok && out.trim() == "42", "{out}");
    drop(server);
}
