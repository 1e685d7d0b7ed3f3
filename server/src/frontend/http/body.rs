//! A request's body: inflated as it streams in when sent with
//! `Content-Encoding` (async-compression), cut into the query and the INSERT
//! data after it, and that data either streamed on as it arrives (INSERTs
//! into ClickHouse tables, any size) or read whole up to `MAX_BODY` (what
//! kafkahouse itself parses). Uses the planner (where an INSERT's SQL ends),
//! the backend's stream type and errors.

use axum::body::{Body, BodyDataStream, Bytes};
use axum::http::StatusCode;
use bytes::BytesMut;
use futures::{StreamExt as _, TryStreamExt as _};

use super::MAX_BODY;
use crate::backend::DataStream;
use crate::error::{codes, ChError};

/// How much of a body is read looking for the end of an `INSERT ... FORMAT
/// Name` query before the body is taken as one text (ClickHouse's own
/// `max_query_size` is 256 KiB).
const QUERY_HEAD_LIMIT: usize = 1 << 20;

/// A request that failed: ClickHouse's error, and the HTTP status when it
/// is not the one the error's code gives.
#[derive(Debug)]
pub(super) struct Failure {
    pub error: ChError,
    pub status: Option<StatusCode>,
}

impl From<ChError> for Failure {
    fn from(error: ChError) -> Self {
        Failure {
            error,
            status: None,
        }
    }
}

/// What failed while reading the body: `decompress`'s CANNOT_DECOMPRESS
/// under axum's wrappers, or the client's own failure (a broken chunked
/// encoding, gone mid-body).
fn read_error(e: axum::Error) -> Failure {
    let source = std::iter::successors(Some(&e as &dyn std::error::Error), |e| e.source())
        .find_map(|e| e.downcast_ref::<ChError>());
    match source {
        Some(error) => error.clone().into(),
        None => Failure {
            error: ChError::new(
                codes::CANNOT_READ_ALL_DATA,
                format!("Cannot read all data of the request body: {e}"),
            ),
            status: Some(StatusCode::BAD_REQUEST),
        },
    }
}

/// The data of a request: what was read while looking for the query, then
/// the rest of the body, unread.
pub(super) struct Data {
    head: Bytes,
    rest: Option<BodyDataStream>,
}

impl Data {
    pub(super) fn unread(body: Body) -> Data {
        Data {
            head: Bytes::new(),
            rest: Some(body.into_data_stream()),
        }
    }

    /// Whether there is no data at all (reads up to its first byte).
    pub(super) async fn is_empty(&mut self) -> Result<bool, Failure> {
        while self.head.is_empty() {
            let Some(rest) = &mut self.rest else {
                return Ok(true);
            };
            match rest.next().await {
                Some(piece) => self.head = piece.map_err(read_error)?,
                None => self.rest = None,
            }
        }
        Ok(false)
    }

    /// The data as it arrives, piece by piece, with no limit on its size.
    pub(super) fn into_stream(self) -> DataStream {
        let head = (!self.head.is_empty()).then_some(Ok(self.head));
        let rest = futures::stream::iter(self.rest)
            .flatten()
            .map_err(|e| read_error(e).error);
        futures::stream::iter(head).chain(rest).boxed()
    }

    /// The whole data, at most `MAX_BODY` bytes (`compressed`: the body was
    /// sent compressed, and the limit is on what it inflates to).
    pub(super) async fn collect(self, compressed: bool) -> Result<Bytes, Failure> {
        let Some(mut rest) = self.rest else {
            return Ok(self.head);
        };
        let mut whole = BytesMut::from(self.head);
        while let Some(piece) = rest.next().await {
            let piece = piece.map_err(read_error)?;
            if whole.len() + piece.len() > MAX_BODY {
                return Err(too_large(compressed));
            }
            whole.extend_from_slice(&piece);
        }
        Ok(whole.freeze())
    }
}

/// A body past `MAX_BODY`.
fn too_large(compressed: bool) -> Failure {
    if compressed {
        return ChError::new(
            codes::CANNOT_DECOMPRESS,
            format!("The request body decompresses to more than {MAX_BODY} bytes"),
        )
        .into();
    }
    Failure {
        error: ChError::new(
            codes::CANNOT_READ_ALL_DATA,
            format!("Cannot read all data of the request body: it is longer than {MAX_BODY} bytes"),
        ),
        status: Some(StatusCode::PAYLOAD_TOO_LARGE),
    }
}

/// The query at the start of `body` (when the URL has none) and the data
/// after it; `None` for an empty body. An `INSERT ... FORMAT Name` query is
/// cut off as soon as its data starts, the data left streaming; any other
/// body is read whole, as the query is all of it.
pub(super) async fn read_query(
    body: Body,
    compressed: bool,
) -> Result<Option<(String, Data)>, Failure> {
    let mut stream = body.into_data_stream();
    let mut head = BytesMut::new();
    loop {
        let Some(piece) = stream.next().await else {
            if head.is_empty() {
                return Ok(None);
            }
            let (text, data) = tokio::task::block_in_place(|| split_body(head.freeze()))?;
            let data = Data {
                head: data,
                rest: None,
            };
            return Ok(Some((text, data)));
        };
        head.extend_from_slice(&piece.map_err(read_error)?);
        if let Some((end, start)) = insert_cut(&head, true) {
            let head = head.freeze();
            // `insert_cut` found the query's end in valid UTF-8.
            let text = String::from_utf8_lossy(&head[..end]).into_owned();
            let data = Data {
                head: head.slice(start..),
                rest: Some(stream),
            };
            return Ok(Some((text, data)));
        }
        if head.len() >= QUERY_HEAD_LIMIT {
            let read = Data {
                head: head.freeze(),
                rest: Some(stream),
            };
            let whole = read.collect(compressed).await?;
            let (text, data) = tokio::task::block_in_place(|| split_body(whole))?;
            let data = Data {
                head: data,
                rest: None,
            };
            return Ok(Some((text, data)));
        }
    }
}

/// Where the query of an `INSERT ... FORMAT Name` body ends and its data
/// starts (after spaces and one line break, as ClickHouse reads it).
/// `partial`: more of the body may follow, so a cut is only taken when data
/// already follows it (the format's name and the line break are whole).
fn insert_cut(body: &[u8], partial: bool) -> Option<(usize, usize)> {
    let text = match std::str::from_utf8(body) {
        Ok(t) => t,
        Err(e) => std::str::from_utf8(&body[..e.valid_up_to()]).unwrap_or_default(),
    };
    let end = planner::insert_format_end(text)?;
    if partial && end >= text.len() {
        return None;
    }
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
    if partial && start >= body.len() {
        return None;
    }
    Some((end, start))
}

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

/// A body holding the query and, for `INSERT ... FORMAT Name`, the data
/// right after it (from the line after the format's name), as ClickHouse
/// reads it. The data may be binary; the query must be UTF-8.
pub(super) fn split_body(body: Bytes) -> Result<(String, Bytes), ChError> {
    if let Some((end, start)) = insert_cut(&body, false) {
        let text = String::from_utf8_lossy(&body[..end]).into_owned();
        return Ok((text, body.slice(start..)));
    }
    match String::from_utf8(body.to_vec()) {
        Ok(text) => Ok((text, Bytes::new())),
        Err(_) => Err(ChError::new(
            codes::SYNTAX_ERROR,
            "Syntax error: the query is not valid UTF-8",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let failure = Data::unread(body).collect(true).await.unwrap_err();
        assert_eq!(failure.error.code, codes::CANNOT_DECOMPRESS);
        // The client's own failures stay CANNOT_READ_ALL_DATA.
        let gone = futures::stream::iter([Err::<Bytes, _>(axum::Error::new("gone"))]);
        let body = decompress(Some("gzip"), Body::from_stream(gone)).unwrap();
        let failure = Data::unread(body).collect(true).await.unwrap_err();
        assert_eq!(failure.error.code, codes::CANNOT_READ_ALL_DATA);
    }

    /// `body` sent in `pieces` of this many bytes, as `read_query` reads it:
    /// the query, and the data as streamed.
    async fn read_in_pieces(body: &'static [u8], size: usize) -> Option<(String, Vec<u8>)> {
        let pieces: Vec<Result<Bytes, axum::Error>> = body
            .chunks(size)
            .map(|c| Ok(Bytes::from_static(c)))
            .collect();
        let (text, data) = read_query(Body::from_stream(futures::stream::iter(pieces)), false)
            .await
            .unwrap()?;
        let data: Vec<Bytes> = data.into_stream().try_collect().await.unwrap();
        Some((text, data.concat()))
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn the_query_is_cut_off_a_body_however_it_is_split() {
        let body = b"INSERT INTO t (a) FORMAT RowBinary \r\n\n\x01\x00";
        for size in 1..body.len() + 1 {
            let (text, data) = read_in_pieces(body, size).await.unwrap();
            assert_eq!(
                text, "INSERT INTO t (a) FORMAT RowBinary",
                "pieces of {size}"
            );
            // One line break is the separator; the second is data.
            assert_eq!(data, b"\n\x01\x00", "pieces of {size}");
        }
        let (text, data) = read_in_pieces(b"SELECT 1\nFORMAT JSON", 3).await.unwrap();
        assert_eq!((text.as_str(), data.len()), ("SELECT 1\nFORMAT JSON", 0));
        assert!(read_in_pieces(b"", 1).await.is_none());
    }
}
