//! INSERT bodies streamed through the HTTP interface into the backend as
//! they arrive: sent chunked in small pieces (the query itself cut across
//! pieces), compressed, binary, broken off by the client, broken inside,
//! into the embedded engine and into Debian's ClickHouse 18.16. How much
//! memory a 500 MB body takes is measured by `scripts/bench --only
//! embedded-file`, not here.

use std::io::Write as _;

use kafkahouse_tests::{ClickHouseServer, Kafkahouse};

struct Answer {
    status: u16,
    code: Option<String>,
    body: String,
}

/// POSTs `pieces` as one chunked body (each piece its own chunk), with
/// `params` in the URL and `Content-Encoding: encoding`. `Err` when the
/// request failed without an answer.
async fn post_pieces(
    server: &Kafkahouse,
    params: &[(&str, &str)],
    pieces: Vec<Result<Vec<u8>, std::io::Error>>,
    encoding: Option<&str>,
) -> Result<Answer, reqwest::Error> {
    let mut request = reqwest::Client::new()
        .post(format!("http://{}/", server.http_addr))
        .query(params)
        .body(reqwest::Body::wrap_stream(futures::stream::iter(pieces)));
    if let Some(encoding) = encoding {
        request = request.header("Content-Encoding", encoding);
    }
    let response = request.send().await?;
    let status = response.status().as_u16();
    let code = response
        .headers()
        .get("X-ClickHouse-Exception-Code")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let body = response.text().await?;
    Ok(Answer { status, code, body })
}

/// `bytes` in pieces of `size` bytes.
fn in_pieces(bytes: &[u8], size: usize) -> Vec<Result<Vec<u8>, std::io::Error>> {
    bytes.chunks(size).map(|c| Ok(c.to_vec())).collect()
}

/// Rows `from..to` as JSONEachRow of `(id UInt64, s String)`.
fn json_rows(from: u64, to: u64) -> Vec<u8> {
    (from..to)
        .flat_map(|i| format!("{{\"id\":{i},\"s\":\"row {i} of a streamed body\"}}\n").into_bytes())
        .collect()
}

/// Rows `from..to` as RowBinary of `(id UInt64, s String)`.
fn binary_rows(from: u64, to: u64) -> Vec<u8> {
    let mut out = Vec::new();
    for i in from..to {
        out.extend_from_slice(&i.to_le_bytes());
        let s = format!("binary {i}");
        out.push(s.len() as u8); // shorter than 128: a one-byte varint
        out.extend_from_slice(s.as_bytes());
    }
    out
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(bytes).expect("gzip in memory");
    gz.finish().expect("gzip in memory")
}

/// A query's answer, insisting on success.
async fn query(server: &Kafkahouse, sql: &str) -> String {
    let answer = post_pieces(server, &[], vec![Ok(sql.as_bytes().to_vec())], None)
        .await
        .expect("HTTP request");
    assert_eq!(answer.status, 200, "{sql}: {}", answer.body);
    answer.body
}

/// The cases both backends go through, into `t (id UInt64, s String)`.
async fn stream_cases(server: &Kafkahouse, table: &str) {
    // The query in the body, cut into 7-byte pieces: the query's own end
    // falls inside a piece and the data starts mid-piece.
    let mut body = format!("INSERT INTO {table} FORMAT JSONEachRow\n").into_bytes();
    body.extend(json_rows(0, 20_000));
    let a = post_pieces(server, &[], in_pieces(&body, 7), None)
        .await
        .expect("HTTP request");
    assert_eq!(
        (a.status, a.body.as_str()),
        (200, ""),
        "JSONEachRow in 7-byte pieces"
    );

    // The query in the URL, the data gzip-compressed, in 4 KiB pieces.
    let insert = format!("INSERT INTO {table} FORMAT JSONEachRow");
    let data = gzip(&json_rows(20_000, 40_000));
    let a = post_pieces(
        server,
        &[("query", &insert)],
        in_pieces(&data, 4096),
        Some("gzip"),
    )
    .await
    .expect("HTTP request");
    assert_eq!((a.status, a.body.as_str()), (200, ""), "gzip JSONEachRow");

    // Binary data after the query in the body, the line break after the
    // format's name alone in its piece.
    let mut pieces = vec![Ok(
        format!("INSERT INTO {table} (id, s) FORMAT RowBinary").into_bytes()
    )];
    pieces.push(Ok(b"\n".to_vec()));
    pieces.extend(in_pieces(&binary_rows(40_000, 60_000), 1000));
    let a = post_pieces(server, &[], pieces, None)
        .await
        .expect("HTTP request");
    assert_eq!((a.status, a.body.as_str()), (200, ""), "RowBinary");

    let count = format!("SELECT count(), uniqExact(id), min(id), max(id) FROM {table}");
    assert_eq!(query(server, &count).await, "60000\t60000\t0\t59999\n");

    // A broken row inside a streamed body: ClickHouse's parse error, not
    // a hang or a dropped connection.
    let mut broken = json_rows(60_000, 60_010);
    broken.extend_from_slice(b"{\"id\":\"not a number\",\"s\":\"x\"}\n");
    broken.extend(json_rows(60_010, 60_020));
    let a = post_pieces(server, &[("query", &insert)], in_pieces(&broken, 100), None)
        .await
        .expect("HTTP request");
    assert_eq!(a.status, 500, "{}", a.body);
    assert!(a.body.starts_with("Code: "), "{}", a.body);
    assert!(a.code.is_some(), "{}", a.body);

    // The client breaks off mid-body: its request fails, the server stays
    // up and the cut insert wrote nothing (it never reached a block's end).
    let mut cut = in_pieces(&json_rows(70_000, 70_100), 512);
    cut.push(Err(std::io::Error::other("the client gives up")));
    assert!(
        post_pieces(server, &[("query", &insert)], cut, None)
            .await
            .is_err(),
        "a body that breaks off cannot be answered as inserted"
    );
    let count = format!("SELECT count() FROM {table} WHERE id >= 60000");
    assert_eq!(query(server, &count).await, "0\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn insert_bodies_stream_into_the_embedded_engine() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let server = Kafkahouse::embedded(dir.path());
    query(
        &server,
        "CREATE TABLE streamed (id UInt64, s String) ENGINE = MergeTree ORDER BY id",
    )
    .await;
    stream_cases(&server, "streamed").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn insert_bodies_stream_into_a_remote_server() {
    let clickhouse = ClickHouseServer::start();
    let dir = tempfile::tempdir().expect("temporary directory");
    let server = Kafkahouse::remote(&dir.path().join("data"), &clickhouse.url());
    query(
        &server,
        "CREATE TABLE streamed (id UInt64, s String) ENGINE = MergeTree ORDER BY id",
    )
    .await;
    stream_cases(&server, "streamed").await;
}
