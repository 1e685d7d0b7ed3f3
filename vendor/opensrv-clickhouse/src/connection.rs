// Copyright 2021 Datafuse Labs.
//
// Licensed under the Apache License, Version 2.0 (the "License");
// you may not use this file except in compliance with the License.
// You may obtain a copy of the License at
//
//     http://www.apache.org/licenses/LICENSE-2.0
//
// Unless required by applicable law or agreed to in writing, software
// distributed under the License is distributed on an "AS IS" BASIS,
// WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
// See the License for the specific language governing permissions and
// limitations under the License.

use std::io::Cursor;
use std::sync::Arc;

use bytes::Buf;
use bytes::BytesMut;
use chrono_tz::Tz;
use tokio::io::AsyncRead;
use tokio::io::AsyncReadExt;
use tokio::io::AsyncWrite;
use tokio::io::AsyncWriteExt;
use tokio::io::BufWriter;

use crate::binary::read_ex;
use crate::binary::Encoder;
use crate::binary::Parser;
use crate::error_codes;
use crate::errors::DriverError;
use crate::errors::Error;
use crate::errors::Result;
use crate::errors::ServerError;
use crate::limits;
use crate::limits::LINGER_AFTER_ERROR;
use crate::limits::MAX_PACKET_SIZE;
use crate::protocols::ExceptionResponse;
use crate::protocols::Packet;
use crate::protocols::SERVER_END_OF_STREAM;
use crate::types::Block;
use crate::types::Progress;
use crate::CHContext;
use crate::ClickHouseSession;

/// Reads one Data packet's block from the (decompressed) packet bytes and
/// returns its Native bytes, `BlockInfo` left out; an `UnexpectedEof` or
/// `WouldBlock` error means the bytes are not all there yet.
pub type RawBlockReader =
    Arc<dyn Fn(&mut dyn std::io::Read) -> std::io::Result<Vec<u8>> + Send + Sync>;

/// Send and receive `Packet` values from a remote peer.
///
/// When implementing networking protocols, a message on that protocol is
/// often composed of several smaller messages known as frames. The purpose of
/// `Connection` is to read and write frames on the underlying `TcpStream`.
///
/// To read frames, the `Connection` uses an internal buffer, which is filled
/// up until there are enough bytes to create a full frame. Once this happens,
/// the `Connection` creates the frame and returns it to the caller.
///
/// When sending frames, the frame is first encoded into the write buffer.
/// The contents of the write buffer are then written to the socket.
/// What a connection runs over: a TCP stream, or a TLS stream on one.
pub trait Stream: AsyncRead + AsyncWrite + Send + Sync + Unpin {}

impl<T: AsyncRead + AsyncWrite + Send + Sync + Unpin> Stream for T {}

pub struct Connection {
    // The `TcpStream`. It is decorated with a `BufWriter`, which provides write
    // level buffering. The `BufWriter` implementation provided by Tokio is
    // sufficient for our needs.
    pub buffer: BytesMut,

    stream: BufWriter<Box<dyn Stream>>,
    pub session: Arc<dyn ClickHouseSession>,

    // The buffer for reading frames.
    tz: Tz,
    with_stack_trace: bool,
    compress: bool,

    pub client_addr: String,

    /// How many bytes the read buffer must hold before the packet in it
    /// is parsed again: after a parse ran out of bytes, it said how many
    /// more it needs at least, and parsing before they came is wasted work.
    need: usize,
    /// The buffer's length at the last parse that ran out of bytes.
    attempted: usize,
    /// The exception for the client when the last packet could not be
    /// parsed. The server sends it before it closes the connection, also
    /// when the read that failed was the session's own.
    pending_exception: Option<ServerError>,
    /// Set while Data packets are read as bytes (`Packet::RawData`).
    raw_blocks: Option<RawBlockReader>,
}

impl Connection {
    /// Reads the Data packets that follow as bytes, with `reader`, until
    /// called again with `None`: for blocks of types this library does not
    /// parse, passed on as they are.
    pub fn read_raw_blocks(&mut self, reader: Option<RawBlockReader>) {
        self.raw_blocks = reader;
    }

    /// Create a new `Connection`, backed by `socket`. Read and write buffers
    /// are initialized.
    pub fn new(
        stream: Box<dyn Stream>,
        client_addr: String,
        session: Arc<dyn ClickHouseSession>,
        timezone: String,
    ) -> Result<Connection> {
        let tz: Tz = timezone.parse()?;
        Ok(Connection {
            stream: BufWriter::new(stream),
            buffer: BytesMut::with_capacity(4 * 1024),
            session,
            tz,
            with_stack_trace: false,
            compress: true,
            client_addr,
            need: 0,
            attempted: 0,
            pending_exception: None,
            raw_blocks: None,
        })
    }

    /// Read a single `Packet` value from the underlying stream.
    ///
    /// The function waits until it has retrieved enough data to parse a frame.
    /// Any data remaining in the read buffer after the frame has been parsed is
    /// kept there for the next call to `read_packet`.
    ///
    /// # Returns
    ///
    /// On success, the received frame is returned. If the `TcpStream`
    /// is closed in a way that doesn't break a frame in half, it returns
    /// `None`. Otherwise, an error is returned.
    ///
    /// A packet that cannot be parsed, or that would need more than
    /// [`MAX_PACKET_SIZE`] bytes, is an error, whose exception for the client
    /// [`Connection::take_pending_exception`] then returns.
    pub async fn read_packet(&mut self, ctx: &mut CHContext) -> crate::Result<Option<Packet>> {
        self.pending_exception = None;
        loop {
            // Attempt to parse a frame from the buffered data. If enough data
            // has been buffered, the frame is returned.
            if self.buffer.len() >= self.need {
                if let Some(frame) = self.parse_packet(ctx)? {
                    return Ok(Some(frame));
                }
            }

            if self.need > MAX_PACKET_SIZE {
                let e = limits::exception(
                    error_codes::LIMIT_EXCEEDED,
                    format!(
                        "Packet from the client is too large: it needs {} bytes or more, the limit is {MAX_PACKET_SIZE}",
                        self.need
                    ),
                );
                self.fail(&e);
                return Err(e);
            }

            // There is not enough buffered data to read a frame. Attempt to
            // read more data from the socket.
            //
            // On success, the number of bytes is returned. `0` indicates "end
            // of stream".
            if 0 == self.stream.read_buf(&mut self.buffer).await? {
                // The remote closed the connection. For this to be a clean
                // shutdown, there should be no data in the read buffer. If
                // there is, this means that the peer closed the socket while
                // sending a frame.
                if self.buffer.is_empty() {
                    return Ok(None);
                } else {
                    return Err("connection reset by peer".into());
                }
            }
            self.read_ready()?;
        }
    }

    /// Takes in what the socket already holds, without waiting, until the
    /// buffer is twice as long as at the last parse that ran out of bytes:
    /// a large packet arriving quickly is then parsed a few times, not
    /// once per read. (Whatever comes later is read by `read_packet`.)
    fn read_ready(&mut self) -> Result<()> {
        let target = self
            .attempted
            .saturating_mul(2)
            .max(self.need)
            .min(MAX_PACKET_SIZE.saturating_add(1));
        // One poll without waiting (a waker that does nothing: whatever
        // is not there yet, `read_packet` awaits properly).
        let mut scratch = [0_u8; 16 << 10];
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        while self.buffer.len() < target {
            let want = (target - self.buffer.len()).min(scratch.len());
            let mut read = tokio::io::ReadBuf::new(&mut scratch[..want]);
            match std::pin::Pin::new(self.stream.get_mut()).poll_read(&mut cx, &mut read) {
                std::task::Poll::Ready(Ok(())) if read.filled().is_empty() => break,
                std::task::Poll::Ready(Ok(())) => self.buffer.extend_from_slice(read.filled()),
                std::task::Poll::Ready(Err(e)) => return Err(e.into()),
                std::task::Poll::Pending => break,
            }
        }
        Ok(())
    }

    /// The exception for the client of the last packet `read_packet` could
    /// not parse (once).
    pub fn take_pending_exception(&mut self) -> Option<ServerError> {
        self.pending_exception.take()
    }

    /// After the exception for a packet that could not be parsed: ends the
    /// server's side of the connection, then reads and drops what the
    /// client still sends for up to [`LINGER_AFTER_ERROR`], so that a client
    /// still writing its packet gets to read the exception rather than a
    /// reset connection. (Memory: the read buffer is freed first.)
    pub async fn close_after_exception(&mut self) {
        self.buffer = BytesMut::new();
        let _ = self.stream.shutdown().await;
        let mut scratch = vec![0_u8; 16 << 10];
        let drain = async {
            while let Ok(n) = self.stream.read(&mut scratch).await {
                if n == 0 {
                    break;
                }
            }
        };
        let _ = tokio::time::timeout(LINGER_AFTER_ERROR, drain).await;
    }

    fn fail(&mut self, e: &Error) {
        self.pending_exception = Some(exception_for(e));
    }

    /// Tries to parse a frame from the buffer. If the buffer contains enough
    /// data, the frame is returned and the data removed from the buffer. If not
    /// enough data has been buffered yet, `Ok(None)` is returned. If the
    /// buffered data does not represent a valid frame, `Err` is returned.
    fn parse_packet(&mut self, ctx: &mut CHContext) -> crate::Result<Option<Packet>> {
        // Cursor is used to track the "current" location in the
        // buffer. Cursor also implements `Buf` from the `bytes` crate
        // which provides a number of helpful utilities for working
        // with bytes.
        let mut buf = Cursor::new(&self.buffer[..]);
        let mut parser = Parser::new(&mut buf, self.tz).with_raw_blocks(self.raw_blocks.clone());

        let hello = ctx.hello.clone();
        let packet = parser.parse_packet(&hello, self.compress);

        match packet {
            Ok(packet) => {
                self.need = 0;
                self.attempted = 0;
                if let Packet::Query(ref query) = &packet {
                    self.compress = query.compression > 0
                }
                // The `check` function will have advanced the cursor until the
                // end of the frame. Since the cursor had position set to zero
                // before `Packet::check` was called, we obtain the length of the
                // frame by checking the cursor position.
                let len = buf.position() as usize;
                buf.set_position(0);
                self.buffer.advance(len);
                // Return the parsed frame to the caller.
                Ok(Some(packet))
            }
            // There is not enough data present in the read buffer to parse a
            // single frame. We must wait for more data to be received from the
            // socket. Reading from the socket will be done in the statement
            // after this `match`.
            //
            // We do not want to return `Err` from here as this "error" is an
            // expected runtime condition.
            //
            // The error says how many more bytes the parse needs at least:
            // it is not tried again before they are there.
            Err(err) if err.is_would_block() => {
                let more = read_ex::missing_bytes(&err).map_or(1, |need| need.bytes.max(1));
                self.attempted = self.buffer.len();
                self.need = self.buffer.len().saturating_add(more);
                Ok(None)
            }
            // An error was encountered while parsing the frame. The connection
            // is now in an invalid state. Returning `Err` from here will result
            // in the connection being closed.
            Err(e) => {
                self.fail(&e);
                Err(e)
            }
        }
    }

    pub async fn write_block(&mut self, block: &Block) -> Result<()> {
        let mut encoder = Encoder::new();
        block.send_server_data(&mut encoder, self.compress);
        self.stream.write_all(&encoder.get_buffer()).await?;
        self.stream.flush().await?;
        Ok(())
    }

    pub async fn write_progress(&mut self, progress: Progress, client_revision: u64) -> Result<()> {
        let mut encoder = Encoder::new();
        progress.write(&mut encoder, client_revision);
        self.stream.write_all(&encoder.get_buffer()).await?;
        self.stream.flush().await?;
        Ok(())
    }

    pub async fn write_end_of_stream(&mut self) -> Result<()> {
        let mut encoder = Encoder::new();
        encoder.uvarint(SERVER_END_OF_STREAM);
        self.write_bytes(encoder.get_buffer()).await?;
        Ok(())
    }

    pub async fn write_error(&mut self, err: &Error) -> Result<()> {
        let mut encoder = Encoder::new();
        ExceptionResponse::write(&mut encoder, err, self.with_stack_trace);

        self.stream.write_all(&encoder.get_buffer()).await?;
        self.stream.flush().await?;
        Ok(())
    }

    pub async fn write_bytes(&mut self, bytes: Vec<u8>) -> Result<()> {
        self.stream.write_all(&bytes).await?;
        self.stream.flush().await?;
        Ok(())
    }
}

/// What the client is told of a packet that could not be parsed: the
/// library's own exceptions as they are, anything else as ClickHouse names
/// it.
fn exception_for(e: &Error) -> ServerError {
    let (code, message) = match e {
        Error::Server(e) => return e.clone(),
        Error::Driver(DriverError::UnknownPacket { packet }) => (
            error_codes::UNKNOWN_PACKET_FROM_CLIENT,
            format!("Unknown packet {packet} from client"),
        ),
        Error::Driver(DriverError::UnknownSetting { name }) => (
            error_codes::UNKNOWN_SETTING,
            format!("Unknown setting {name}"),
        ),
        Error::Driver(DriverError::UnexpectedPacket) => (
            error_codes::UNEXPECTED_PACKET_FROM_CLIENT,
            "Unexpected packet from client".to_string(),
        ),
        e => (
            error_codes::UNEXPECTED_PACKET_FROM_CLIENT,
            format!("Cannot parse the packet from the client: {e}"),
        ),
    };
    ServerError {
        code,
        name: "DB::Exception".to_string(),
        message,
        stack_trace: String::new(),
    }
}
