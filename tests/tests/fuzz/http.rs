//! HTTP input for `fuzz_http`: raw HTTP/1.1 requests (framings, encodings,
//! URL settings, SQL bodies) and the exchange with a running kafkahouse.

use super::*;

// ---------------------------------------------------------------------------
// HTTP: raw requests to a running kafkahouse.

/// How the body's end is told.
#[derive(Debug, Clone)]
pub(super) enum Framing {
    /// Neither Content-Length nor Transfer-Encoding.
    None,
    /// A true Content-Length.
    Length,
    /// A Content-Length that is not the body's (or not a number).
    WrongLength(String),
    /// Chunks at these cuts, with a true size line each, and the last chunk.
    Chunked(Vec<Index>),
    /// Chunks, one of them with this size line instead of its own, or without
    /// the last chunk.
    BadChunked(Vec<Index>, Option<String>),
    /// Both Content-Length and chunked.
    Both,
}

#[derive(Debug, Clone, Copy)]
pub(super) enum Codec {
    Gzip,
    Deflate,
    Zstd,
    Lz4,
}

#[derive(Debug, Clone)]
pub(super) enum Body {
    Text(String),
    Random(Bytes),
    /// Compressed text, perhaps damaged (cut at, byte flipped at), with the
    /// Content-Encoding header or not.
    Compressed {
        codec: Codec,
        text: String,
        cut: Option<Index>,
        flip: Option<Index>,
        declared: bool,
    },
    /// Garbage under a Content-Encoding.
    Garbage(&'static str, Bytes),
}

#[derive(Debug, Clone)]
pub(super) struct HttpCase {
    pub(super) method: String,
    pub(super) path: String,
    pub(super) params: Vec<(String, String, bool)>,
    pub(super) version: &'static str,
    pub(super) headers: Vec<(String, String)>,
    pub(super) framing: Framing,
    pub(super) body: Body,
}

pub(super) fn percent_encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

pub(super) fn compress(codec: Codec, data: &[u8]) -> Vec<u8> {
    match codec {
        Codec::Gzip => {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            e.write_all(data).expect("gzip");
            e.finish().expect("gzip")
        }
        Codec::Deflate => {
            let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
            e.write_all(data).expect("deflate");
            e.finish().expect("deflate")
        }
        Codec::Zstd => zstd::bulk::compress(data, 1).expect("zstd"),
        Codec::Lz4 => {
            let mut e = lz4_flex::frame::FrameEncoder::new(Vec::new());
            e.write_all(data).expect("lz4");
            e.finish().expect("lz4")
        }
    }
}

impl Body {
    pub(super) fn bytes(&self) -> (Vec<u8>, Option<&'static str>) {
        match self {
            Body::Text(t) => (t.clone().into_bytes(), None),
            Body::Random(b) => (b.0.clone(), None),
            Body::Compressed { codec, text, cut, flip, declared } => {
                let mut data = compress(*codec, text.as_bytes());
                if let Some(at) = cut {
                    data.truncate(at.index(data.len() + 1));
                }
                if let Some(at) = flip {
                    if !data.is_empty() {
                        let i = at.index(data.len());
                        data[i] ^= 0x5A;
                    }
                }
                let name = match codec {
                    Codec::Gzip => "gzip",
                    Codec::Deflate => "deflate",
                    Codec::Zstd => "zstd",
                    Codec::Lz4 => "lz4",
                };
                (data, declared.then_some(name))
            }
            Body::Garbage(encoding, b) => (b.0.clone(), Some(*encoding)),
        }
    }
}

impl HttpCase {
    /// The request's bytes, and whether it is complete and well framed (the
    /// server owes it an answer without waiting for more).
    pub(super) fn request(&self) -> (Vec<u8>, bool) {
        let mut target = self.path.clone();
        for (i, (k, v, encode)) in self.params.iter().enumerate() {
            target.push(if i == 0 && !target.contains('?') { '?' } else { '&' });
            if *encode {
                target.push_str(&format!("{}={}", percent_encode(k), percent_encode(v)));
            } else {
                target.push_str(&format!("{k}={v}"));
            }
        }
        let (body, encoding) = self.body.bytes();
        let mut head = format!("{} {} {}\r\n", self.method, target, self.version);
        for (name, value) in &self.headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        if let Some(encoding) = encoding {
            head.push_str(&format!("Content-Encoding: {encoding}\r\n"));
        }
        let chunks = |cuts: &[Index]| -> Vec<Vec<u8>> {
            let mut points: Vec<usize> = cuts.iter().map(|c| c.index(body.len() + 1)).collect();
            points.push(0);
            points.push(body.len());
            points.sort_unstable();
            points.dedup();
            points.windows(2).map(|w| body[w[0]..w[1]].to_vec()).collect()
        };
        let mut complete = true;
        let mut payload = Vec::new();
        match &self.framing {
            Framing::None => complete = body.is_empty(),
            Framing::Length => head.push_str(&format!("Content-Length: {}\r\n", body.len())),
            Framing::WrongLength(n) => {
                complete = false;
                head.push_str(&format!("Content-Length: {n}\r\n"));
            }
            Framing::Chunked(cuts) => {
                head.push_str("Transfer-Encoding: chunked\r\n");
                for chunk in chunks(cuts) {
                    payload.extend(format!("{:x}\r\n", chunk.len()).as_bytes());
                    payload.extend(chunk);
                    payload.extend(b"\r\n");
                }
                payload.extend(b"0\r\n\r\n");
            }
            Framing::BadChunked(cuts, lie) => {
                complete = false;
                head.push_str("Transfer-Encoding: chunked\r\n");
                for (i, chunk) in chunks(cuts).into_iter().enumerate() {
                    let size = match lie {
                        Some(l) if i == 0 => l.clone(),
                        _ => format!("{:x}", chunk.len()),
                    };
                    payload.extend(format!("{size}\r\n").as_bytes());
                    payload.extend(chunk);
                    payload.extend(b"\r\n");
                }
                if lie.is_some() {
                    payload.extend(b"0\r\n\r\n");
                }
            }
            Framing::Both => {
                complete = false;
                head.push_str(&format!("Content-Length: {}\r\nTransfer-Encoding: chunked\r\n", body.len()));
            }
        }
        if !matches!(self.framing, Framing::Chunked(_) | Framing::BadChunked(..)) {
            payload = body;
        }
        // A line break inside the request line or a header moves the end of
        // the head; the server may then rightly wait for more.
        let breaks = |t: &str| t.contains(['\r', '\n']);
        complete = complete
            && self.version.starts_with("HTTP/1.")
            && !breaks(&self.method)
            && !breaks(&target)
            && !self.headers.iter().any(|(n, v)| breaks(n) || breaks(v));
        head.push_str("Connection: close\r\n\r\n");
        let mut request = head.into_bytes();
        request.extend(payload);
        (request, complete)
    }
}

/// SQL for the HTTP interface: what the planner targets get, and short
/// statements that run.
pub(super) fn http_sql() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => sql::script(),
        2 => select(&[
            "SELECT 1", "SELECT 1 FORMAT JSON", "SHOW TABLES", "SELECT * FROM system.one",
            "INSERT INTO t FORMAT TSV", "CREATE TABLE t (a String) ENGINE = Memory",
            "INSERT INTO t VALUES ('x')", "SELECT count() FROM t", "USE default", "SET max_result_rows = 10",
            "SELECT $1", "SELECT {p:UInt8}", "EXISTS t", "DESCRIBE t", "SYSTEM SYNC KAFKA t TIMEOUT 1",
        ][..])
            .prop_map(str::to_string),
    ]
}

pub(super) fn http_case() -> impl Strategy<Value = HttpCase> {
    let method = prop_oneof![
        16 => select(&["GET", "POST", "POST"][..]).prop_map(str::to_string),
        2 => select(&["HEAD", "PUT", "DELETE", "OPTIONS", "PATCH", "TRACE", "CONNECT", "get", "G ET", ""][..])
            .prop_map(str::to_string),
        1 => "[A-Z]{1,10}",
    ];
    let path = prop_oneof![
        16 => Just("/".to_string()),
        3 => select(&["/ping", "/?", "/play", "/replicas_status", "/query", "//", "/%2e%2e/", "/?query"][..])
            .prop_map(str::to_string),
        1 => select(&["*", "http://localhost/", "/\u{e9}", "/ping/../", "/%", "/%zz", ""][..]).prop_map(str::to_string),
        1 => "/[ -~]{0,16}",
    ];
    let param = (
        prop_oneof![
            6 => Just("query".to_string()),
            6 => select(&[
                "query", "database", "default_format", "session_id", "session_timeout", "session_check",
                "query_id", "compress", "decompress", "user", "password", "max_result_rows", "readonly",
                "max_execution_time", "output_format_json_quote_64bit_integers", "param_p",
                "enable_http_compression", "wait_end_of_query",
            ][..]).prop_map(str::to_string),
            1 => "[a-z_]{1,12}",
        ],
        prop_oneof![
            3 => http_sql(),
            3 => select(&["default", "system", "nope", "JSON", "TSV", "Native", "s1", "s2", "1", "0", "-1",
                "99999999999999999999", "", "%zz", "%c3%28"][..]).prop_map(str::to_string),
            1 => sql::non_ascii(),
            1 => sql::lossy_bytes(),
        ],
        prop_oneof![12 => Just(true), 1 => Just(false)],
    )
        .prop_map(|(name, value, encode)| (name, value, encode));
    let header = prop_oneof![
        12 => (
            select(&["X-ClickHouse-Format", "X-ClickHouse-Database", "X-ClickHouse-User", "X-ClickHouse-Key",
                "X-ClickHouse-Quota", "Accept-Encoding", "Authorization", "Content-Type", "Expect", "User-Agent"][..]),
            prop_oneof![
                select(&["JSON", "TSV", "default", "gzip", "zstd, lz4", "100-continue", "Basic Zm9vOmJhcg==",
                    "Basic !!", "text/plain", "application/octet-stream", ""][..]).prop_map(str::to_string),
                "[ -~]{0,16}",
            ],
        )
            .prop_map(|(n, v)| (n.to_string(), v)),
        2 => ("[A-Za-z-]{1,12}", "[ -~]{0,20}"),
        1 => (select(&["X-Bad\u{e9}", "X Bad", "", "X-Long"][..]).prop_map(str::to_string), sql::lossy_bytes()),
    ];
    let version = prop_oneof![
        24 => Just("HTTP/1.1"),
        4 => Just("HTTP/1.0"),
        1 => select(&["HTTP/2.0", "HTTP/1.2", "HTTP/9", "", "http/1.1"][..]),
    ];
    let framing = prop_oneof![
        3 => Just(Framing::None),
        12 => Just(Framing::Length),
        1 => prop_oneof![
            (-3i64..0).prop_map(|d| d.to_string()),
            select(&["-1", "abc", "1e3", " 5", "0x10", "99999999999999999999", "18446744073709551615", "4294967296", "5, 5"][..])
                .prop_map(str::to_string),
        ]
        .prop_map(Framing::WrongLength),
        3 => proptest::collection::vec(any::<Index>(), 0..4).prop_map(Framing::Chunked),
        1 => (
            proptest::collection::vec(any::<Index>(), 0..3),
            proptest::option::of(select(&["ffffffffffffffff", "-1", "zz", "1;ext=1", "10000000", "", "0"][..]).prop_map(str::to_string)),
        )
            .prop_map(|(cuts, lie)| Framing::BadChunked(cuts, lie)),
        1 => Just(Framing::Both),
    ];
    let codec = select(&[Codec::Gzip, Codec::Deflate, Codec::Zstd, Codec::Lz4][..]);
    let body = prop_oneof![
        2 => Just(Body::Text(String::new())),
        4 => http_sql().prop_map(Body::Text),
        1 => proptest::collection::vec(any::<u8>(), 0..512).prop_map(|b| Body::Random(Bytes(b))),
        2 => (codec, http_sql(), proptest::option::of(any::<Index>()), proptest::option::of(any::<Index>()), prop_oneof![4 => Just(true), 1 => Just(false)])
            .prop_map(|(codec, text, cut, flip, declared)| Body::Compressed { codec, text, cut, flip, declared }),
        1 => (
            select(&["gzip", "x-gzip", "deflate", "zstd", "lz4", "br", "identity", "gzip, zstd", " lz4 ", "compress"][..]),
            proptest::collection::vec(any::<u8>(), 0..256),
        )
            .prop_map(|(e, b)| Body::Garbage(e, Bytes(b))),
    ];
    (
        method,
        path,
        proptest::collection::vec(param, 0..5),
        version,
        prop_oneof![3 => Just(Vec::new()), 2 => proptest::collection::vec(header, 0..4)],
        framing,
        body,
        prop_oneof![8 => Just(true), 1 => Just(false)],
    )
        .prop_map(|(method, path, params, version, mut headers, framing, body, host)| {
            if host {
                headers.insert(0, ("Host".to_string(), "localhost".to_string()));
            }
            HttpCase { method, path, params, version, headers, framing, body }
        })
}

/// How long an answer may take.
pub(super) const HTTP_TIMEOUT: Duration = Duration::from_secs(30);

/// Sends `request`, closes our side when `complete` is false (so that the
/// server stops waiting for the rest), and reads until the server closes or
/// the timeout passes.
pub(super) fn exchange(address: SocketAddr, request: &[u8], complete: bool) -> std::io::Result<Vec<u8>> {
    let deadline = Instant::now() + HTTP_TIMEOUT;
    let mut stream = TcpStream::connect_timeout(&address, HTTP_TIMEOUT)?;
    stream.set_write_timeout(Some(HTTP_TIMEOUT))?;
    // The server may answer (and close) before reading all of it.
    let _ = stream.write_all(request);
    if !complete {
        let _ = stream.shutdown(std::net::Shutdown::Write);
    }
    let mut answer = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(std::io::Error::new(std::io::ErrorKind::TimedOut, "no end of answer"));
        }
        stream.set_read_timeout(Some(left))?;
        match stream.read(&mut buf) {
            Ok(0) => return Ok(answer),
            Ok(n) => answer.extend(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            // A reset after the answer (the server closed with our bytes unread).
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return Ok(answer),
            Err(e) => return Err(e),
        }
    }
}

/// `GET /ping` answers `Ok.`.
pub(super) fn ping(address: SocketAddr) -> Result<(), String> {
    let answer = exchange(address, b"GET /ping HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n", true)
        .map_err(|e| format!("GET /ping: {e}"))?;
    let text = String::from_utf8_lossy(&answer);
    if text.starts_with("HTTP/1.1 200") && text.ends_with("\r\n\r\nOk.\n") {
        Ok(())
    } else {
        Err(format!("GET /ping answered {text:?}"))
    }
}

/// Every this many cases, and at the end, /ping must answer.
pub(super) const PING_EVERY: u64 = 20;
