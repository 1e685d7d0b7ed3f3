//! ClickHouse's compressed blocks, as both its HTTP interface
//! (`compress=1`) and its native protocol carry them: a CityHash128 (v1.0.2)
//! checksum of the rest, a method byte (0x82 LZ4, 0x90 ZSTD, 0x02 none),
//! the compressed size with this 9-byte header, the decompressed size, then
//! the data. Uses lz4_flex, zstd and naive-cityhash (the hash
//! opensrv-clickhouse checks native blocks with) and `crate::error`.

use crate::error::{codes, ChError};

/// ClickHouse's DBMS_MAX_COMPRESSED_SIZE: no block, either way, is larger.
pub const MAX_BLOCK: usize = 1 << 30;
/// The checksum, then method, compressed size and decompressed size.
pub const CHECKSUM: usize = 16;
pub const HEADER: usize = 9;
/// How much of an answer goes in one block (ClickHouse's buffer size).
const ANSWER_BLOCK: usize = 1 << 20;

pub const LZ4: u8 = 0x82;
pub const ZSTD: u8 = 0x90;
pub const NONE: u8 = 0x02;

/// How an answer is compressed (`network_compression_method`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Lz4,
    Zstd,
}

impl Method {
    /// The method a request asks for with `network_compression_method`
    /// (LZ4 by default, as in ClickHouse).
    pub fn named(name: Option<&str>) -> Result<Method, ChError> {
        match name.map(|n| n.trim().to_ascii_lowercase()).as_deref() {
            None | Some("lz4") | Some("lz4hc") => Ok(Method::Lz4),
            Some("zstd") => Ok(Method::Zstd),
            Some(other) => Err(ChError::new(
                codes::UNKNOWN_COMPRESSION_METHOD,
                format!("Unknown compression method: {other}"),
            )),
        }
    }
}

/// `data` as compressed blocks of at most 1 MiB each.
pub fn compress(data: &[u8], method: Method) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() / 2 + 64);
    for chunk in data.chunks(ANSWER_BLOCK) {
        let (byte, packed) = match method {
            Method::Lz4 => (LZ4, lz4_flex::block::compress(chunk)),
            // A zstd failure (none is expected in memory) sends it as is.
            Method::Zstd => match zstd::bulk::compress(chunk, 1) {
                Ok(packed) => (ZSTD, packed),
                Err(_) => (NONE, chunk.to_vec()),
            },
        };
        let start = out.len();
        out.resize(start + CHECKSUM, 0);
        out.push(byte);
        out.extend_from_slice(&((packed.len() + HEADER) as u32).to_le_bytes());
        out.extend_from_slice(&(chunk.len() as u32).to_le_bytes());
        out.extend_from_slice(&packed);
        let hash = naive_cityhash::cityhash128(&out[start + CHECKSUM..]);
        out[start..start + 8].copy_from_slice(&hash.lo.to_le_bytes());
        out[start + 8..start + CHECKSUM].copy_from_slice(&hash.hi.to_le_bytes());
    }
    out
}
