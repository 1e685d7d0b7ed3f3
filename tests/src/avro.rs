//! Avro payloads as the Confluent wire format frames them, and a schema
//! registry on loopback that answers with recorded schemas.

/// Avro binary of a long (zigzag varint) and of a string.
pub fn avro_long(out: &mut Vec<u8>, v: i64) {
    let mut z = ((v << 1) ^ (v >> 63)) as u64;
    while z >= 0x80 {
        out.push((z as u8 & 0x7f) | 0x80);
        z >>= 7;
    }
    out.push(z as u8);
}

pub fn avro_string(out: &mut Vec<u8>, s: &str) {
    avro_long(out, s.len() as i64);
    out.extend_from_slice(s.as_bytes());
}

/// A Confluent-framed Avro message: magic 0, the schema id, the datum.
pub fn confluent(schema_id: u32, datum: Vec<u8>) -> Vec<u8> {
    let mut out = vec![0];
    out.extend_from_slice(&schema_id.to_be_bytes());
    out.extend(datum);
    out
}

/// Schema registry answers recorded from the Confluent API
/// (`GET /schemas/ids/{id}`): id 1 is `{id, name}`, id 2 adds a field
/// (schema evolution); any other id is unknown (40403).
pub fn serve_registry() -> String {
    use std::io::{BufRead, BufReader, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("registry port");
    let addr = listener.local_addr().expect("registry address");
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut request_line = String::new();
            let mut reader = BufReader::new(stream.try_clone().expect("clone stream"));
            if reader.read_line(&mut request_line).is_err() {
                continue;
            }
            // The rest of the request head.
            let mut line = String::new();
            while reader.read_line(&mut line).map(|n| n > 2).unwrap_or(false) {
                line.clear();
            }
            let v1 = r#"{"type":"record","name":"row","fields":[{"name":"id","type":"long"},{"name":"name","type":"string"}]}"#;
            let v2 = r#"{"type":"record","name":"row","fields":[{"name":"id","type":"long"},{"name":"name","type":"string"},{"name":"added","type":"long","default":0}]}"#;
            let (status, body) = match request_line.split_whitespace().nth(1) {
                Some("/schemas/ids/1") => {
                    ("200 OK", serde_json::json!({ "schema": v1 }).to_string())
                }
                Some("/schemas/ids/2") => {
                    ("200 OK", serde_json::json!({ "schema": v2 }).to_string())
                }
                _ => (
                    "404 Not Found",
                    r#"{"error_code":40403,"message":"Schema not found"}"#.to_string(),
                ),
            };
            let _ = write!(
                stream,
                "HTTP/1.1 {status}\r\nContent-Type: application/vnd.schemaregistry.v1+json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    format!("http://{addr}")
}
