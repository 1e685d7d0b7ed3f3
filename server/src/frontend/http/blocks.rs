//! ClickHouse's own compression on the HTTP interface: `decompress=1` (the
//! request body is compressed blocks, as the `clickhouse` crate sends
//! INSERT data by default) and `compress=1` (the answer is). A block is a
//! CityHash128 (v1.0.2) checksum of the rest, a method byte (0x82 LZ4,
//! 0x90 ZSTD, 0x02 none), the compressed size with this 9-byte header, the
//! decompressed size, then the data. Sizes are checked against ClickHouse's
//! own limit before anything is allocated. Uses `crate::compression` (the
//! block layout and compressing), lz4_flex, zstd and naive-cityhash.

use axum::body::{Body, Bytes};
use bytes::{Buf as _, BytesMut};
use futures::{StreamExt as _, TryStreamExt as _};

use crate::error::{codes, ChError};

use crate::compression::{CHECKSUM, HEADER, LZ4, MAX_BLOCK, NONE, ZSTD};

/// `body` (compressed blocks) as the data they hold, block by block.
pub(super) fn decompress(body: Body) -> Body {
    let state = (body.into_data_stream(), BytesMut::new());
    let blocks = futures::stream::try_unfold(state, |(mut stream, mut buffer)| async move {
        loop {
            if let Some(data) = take_block(&mut buffer)? {
                return Ok(Some((data, (stream, buffer))));
            }
            match stream.next().await {
                Some(piece) => buffer.extend_from_slice(&piece.map_err(axum::BoxError::from)?),
                None if buffer.is_empty() => return Ok(None),
                None => {
                    return Err(ChError::new(
                        codes::CANNOT_DECOMPRESS,
                        "Cannot decompress the request body: it ends inside a compressed block",
                    )
                    .into())
                }
            }
        }
    });
    Body::from_stream(blocks.map_err(|e: axum::BoxError| e))
}

/// The first block of `buffer`, decompressed and taken off it, once it has
/// arrived whole.
fn take_block(buffer: &mut BytesMut) -> Result<Option<Bytes>, ChError> {
    if buffer.len() < CHECKSUM + HEADER {
        return Ok(None);
    }
    let header = &buffer[CHECKSUM..CHECKSUM + HEADER];
    let method = header[0];
    let compressed = u32::from_le_bytes([header[1], header[2], header[3], header[4]]) as usize;
    let size = u32::from_le_bytes([header[5], header[6], header[7], header[8]]) as usize;
    if !(HEADER..=MAX_BLOCK).contains(&compressed) || size > MAX_BLOCK {
        return Err(bad(format!(
            "a compressed block of {compressed} bytes holding {size} (at most {MAX_BLOCK})"
        )));
    }
    if buffer.len() < CHECKSUM + compressed {
        return Ok(None);
    }
    let block = buffer.split_to(CHECKSUM + compressed).freeze();
    let expected = naive_cityhash::cityhash128(&block[CHECKSUM..]);
    let mut sent = &block[..CHECKSUM];
    let (lo, hi) = (sent.get_u64_le(), sent.get_u64_le());
    if (lo, hi) != (expected.lo, expected.hi) {
        return Err(ChError::new(
            codes::CHECKSUM_DOESNT_MATCH,
            "Checksum doesn't match: corrupted data in a compressed block of the request body",
        ));
    }
    let data = &block[CHECKSUM + HEADER..];
    let out = match method {
        LZ4 => lz4_flex::block::decompress(data, size).map_err(|e| bad(e.to_string()))?,
        ZSTD => zstd::bulk::decompress(data, size).map_err(|e| bad(e.to_string()))?,
        NONE => data.to_vec(),
        other => {
            return Err(ChError::new(
                codes::UNKNOWN_COMPRESSION_METHOD,
                format!("Unknown compression method byte 0x{other:02x} in the request body"),
            ))
        }
    };
    if out.len() != size {
        return Err(bad(format!(
            "a block said {size} bytes and held {}",
            out.len()
        )));
    }
    Ok(Some(Bytes::from(out)))
}

fn bad(what: String) -> ChError {
    ChError::new(
        codes::CANNOT_DECOMPRESS,
        format!("Cannot decompress the request body: {what}"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compression::{compress, Method};

    async fn read(body: Body) -> Result<Vec<u8>, String> {
        axum::body::to_bytes(body, usize::MAX)
            .await
            .map(|b| b.to_vec())
            .map_err(|e| {
                std::iter::successors(Some(&e as &dyn std::error::Error), |e| e.source())
                    .find_map(|e| e.downcast_ref::<ChError>())
                    .map_or(e.to_string(), ToString::to_string)
            })
    }

    #[tokio::test]
    async fn blocks_round_trip_in_any_pieces() {
        let data: Vec<u8> = (0..3_000_000u32)
            .flat_map(|i| (i % 251).to_le_bytes())
            .collect();
        for method in [Method::Lz4, Method::Zstd] {
            let packed = compress(&data, method);
            let pieces: Vec<Result<Bytes, std::io::Error>> = packed
                .chunks(7_777)
                .map(|c| Ok(Bytes::copy_from_slice(c)))
                .collect();
            let body = decompress(Body::from_stream(futures::stream::iter(pieces)));
            assert_eq!(read(body).await.unwrap(), data, "{method:?}");
        }
    }

    #[tokio::test]
    async fn broken_blocks_are_clickhouse_errors() {
        let mut packed = compress(b"some data, compressed", Method::Lz4);
        let last = packed.len() - 1;
        packed[last] ^= 0xff;
        let e = read(decompress(Body::from(packed))).await.unwrap_err();
        assert!(e.starts_with("Code: 40."), "{e}");
        let packed = compress(b"some data", Method::Lz4);
        let e = read(decompress(Body::from(packed[..packed.len() - 1].to_vec())))
            .await
            .unwrap_err();
        assert!(e.starts_with("Code: 271."), "{e}");
        // A block announcing 4 GiB is refused before anything is allocated.
        let mut huge = vec![0u8; CHECKSUM];
        huge.push(LZ4);
        huge.extend_from_slice(&u32::MAX.to_le_bytes());
        huge.extend_from_slice(&u32::MAX.to_le_bytes());
        let e = read(decompress(Body::from(huge))).await.unwrap_err();
        assert!(e.starts_with("Code: 271."), "{e}");
    }
}
