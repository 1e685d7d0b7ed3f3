//! A request's body: inflated as it streams in when sent with
//! `Content-Encoding` (async-compression; the decompressed size is what the
//! body limit counts), and cut into the query and the INSERT data after it.
//! Uses the planner (where an INSERT's SQL ends) and errors.

use axum::body::{Body, Bytes};
use axum::extract::rejection::BytesRejection;
use futures::{StreamExt as _, TryStreamExt as _};

use crate::error::{codes, ChError};

/// Whether a body sent with `encoding` is compressed.
pub(super) fn is_compressed(encoding: Option<&str>) -> bool {
    !matches!(encoding.map(str::trim), None | Some("" | "identity"))
}

/// A request body as sent with `Content-Encoding` (ClickHouse clients
/// compress INSERT data with lz4, zstd or gzip), inflated by
/// async-compression as it streams in. Inflating is CPU work: the stream
/// gives way to other tasks whenever the task's cooperative budget is spent.
pub(super) fn decompress(encoding: Option<&str>, body: Body) -> Result<Body, ChError> {
    use async_compression::tokio::bufread::{GzipDecoder, Lz4Decoder, ZlibDecoder, ZstdDecoder};
    use std::io::Error;
    use std::pin::Pin;
    use tokio::io::AsyncRead;
    if !is_compressed(encoding) {
        return Ok(body);
    }
    let compressed =
        tokio_util::io::StreamReader::new(body.into_data_stream().map_err(Error::other));
    let codec = encoding.map(str::trim).unwrap_or_default();
    let (name, inflated): (_, Pin<Box<dyn AsyncRead + Send>>) = match codec {
        "gzip" | "x-gzip" => ("gzip", Box::pin(GzipDecoder::new(compressed))),
        "deflate" => ("deflate", Box::pin(ZlibDecoder::new(compressed))),
        // Concatenated zstd frames are one body, as with zstd's own reader.
        "zstd" => {
            let mut decoder = ZstdDecoder::new(compressed);
            decoder.multiple_members(true);
            ("zstd", Box::pin(decoder))
        }
        "lz4" => ("lz4", Box::pin(Lz4Decoder::new(compressed))),
        other => {
            return Err(ChError::new(
                codes::UNKNOWN_COMPRESSION_METHOD,
                format!("Unknown Content-Encoding {other} (supported: gzip, deflate, zstd, lz4)"),
            ))
        }
    };
    // The client's failures (framing, gone mid-body) stay what they are.
    let failed = move |e: Error| -> axum::BoxError {
        if e.get_ref().is_some_and(|e| e.is::<axum::Error>()) {
            return e.into();
        }
        let message = format!("Cannot decompress the request body ({name}): {e}");
        ChError::new(codes::CANNOT_DECOMPRESS, message).into()
    };
    let inflated = tokio_util::io::ReaderStream::with_capacity(inflated, 64 << 10)
        .then(|chunk| async {
            tokio::task::consume_budget().await;
            chunk
        })
        .map_err(failed);
    Ok(Body::from_stream(inflated))
}

/// The CANNOT_DECOMPRESS error `decompress`'s body failed with, under
/// the extractor's wrappers.
pub(super) fn decompression_error(rejection: &BytesRejection) -> Option<&ChError> {
    std::iter::successors(Some(rejection as &dyn std::error::Error), |e| e.source())
        .find_map(|e| e.downcast_ref::<ChError>())
}

/// A body holding the query and, for `INSERT ... FORMAT Name`, the data
/// right after it (from the line after the format's name), as ClickHouse
/// reads it. The data may be binary; the query must be UTF-8.
pub(super) fn split_body(body: Bytes) -> Result<(String, Bytes), ChError> {
    let text = match std::str::from_utf8(&body) {
        Ok(t) => t,
        Err(e) => std::str::from_utf8(&body[..e.valid_up_to()]).unwrap_or_default(),
    };
    match planner::insert_format_end(text) {
        Some(end) => {
            // Spaces, then one line break, separate the query from the data.
            let mut start = end;
            while matches!(body.get(start), Some(b' ' | b'\t')) {
                start += 1;
            }
            if body.get(start) == Some(&b'\r') {
                start += 1;
            }
            if body.get(start) == Some(&b'\n') {
                start += 1;
            }
            Ok((text[..end].to_string(), body.slice(start..)))
        }
        _ if text.len() == body.len() => Ok((text.to_string(), Bytes::new())),
        _ => Err(ChError::new(
            codes::SYNTAX_ERROR,
            "Syntax error: the query is not valid UTF-8",
        )),
    }
}


#[cfg(test)]
mod tests {
    use super::*;
    use axum::extract::{FromRequest as _, Request};

    use super::super::MAX_BODY;

    #[test]
    fn a_body_holds_the_query_then_the_data() {
        let body = Bytes::from_static(b"INSERT INTO t (a) FORMAT Native\n\x01\x00\xff\xfe");
        let (query, data) = split_body(body).unwrap();
        assert_eq!(query, "INSERT INTO t (a) FORMAT Native");
        assert_eq!(&data[..], b"\x01\x00\xff\xfe");
        let (query, data) = split_body(Bytes::from_static(b"SELECT 1 FORMAT JSON")).unwrap();
        assert_eq!((query.as_str(), data.len()), ("SELECT 1 FORMAT JSON", 0));
        assert!(split_body(Bytes::from_static(b"SELECT \xff")).is_err());
    }

    /// What `decompress` makes of `body` sent with `encoding`, read whole.
    async fn inflate(encoding: Option<&str>, body: Bytes) -> Result<Bytes, ChError> {
        let body = decompress(encoding, Body::from(body))?;
        Ok(axum::body::to_bytes(body, MAX_BODY)
            .await
            .expect("inflates"))
    }

    #[tokio::test]
    async fn compressed_bodies_are_read() {
        use std::io::Write as _;
        let text = b"INSERT INTO t FORMAT JSONEachRow\n{}";
        let mut lz4 = lz4_flex::frame::FrameEncoder::new(Vec::new());
        lz4.write_all(text).unwrap();
        let lz4 = lz4.finish().unwrap();
        assert_eq!(
            &inflate(Some("lz4"), Bytes::from(lz4)).await.unwrap()[..],
            text
        );
        let zstd = zstd::stream::encode_all(&text[..], 3).unwrap();
        assert_eq!(
            &inflate(Some("zstd"), Bytes::from(zstd)).await.unwrap()[..],
            text
        );
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(text).unwrap();
        let gz = gz.finish().unwrap();
        assert_eq!(
            &inflate(Some("gzip"), Bytes::from(gz)).await.unwrap()[..],
            text
        );
        assert!(inflate(Some("br"), Bytes::from_static(b"x")).await.is_err());
    }

    #[tokio::test]
    async fn a_body_that_does_not_inflate_cannot_be_decompressed() {
        let body = decompress(Some("gzip"), Body::from("not gzip")).unwrap();
        let rejection = Bytes::from_request(Request::new(body), &())
            .await
            .unwrap_err();
        let e = decompression_error(&rejection).expect("the decoder's error");
        assert_eq!(e.code, codes::CANNOT_DECOMPRESS);
        // The client's own failures stay CANNOT_READ_ALL_DATA.
        let gone = futures::stream::iter([Err::<Bytes, _>(axum::Error::new("gone"))]);
        let body = decompress(Some("gzip"), Body::from_stream(gone)).unwrap();
        let rejection = Bytes::from_request(Request::new(body), &())
            .await
            .unwrap_err();
        assert!(decompression_error(&rejection).is_none());
    }

}
