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

//! Limits on what a client's packets may announce.
//!
//! Every length, count and size the decoder reads off the wire is checked
//! against one of these before anything is allocated for it, and memory then
//! grows only with the bytes that actually arrived (see
//! [`READ_CHUNK_SIZE`]): a client cannot make the server allocate more than
//! a small multiple of what it sent. Where ClickHouse has the same limit, the
//! value and the error (code and message) are ClickHouse's.

use crate::error_codes;
use crate::errors::Error;
use crate::errors::ServerError;

/// The longest string (query, name, value...): ClickHouse's
/// `DEFAULT_MAX_STRING_SIZE`, 1 GiB. Longer fails with `Code: 131`
/// (TOO_LARGE_STRING_SIZE) "Too large string size.".
pub const MAX_STRING_SIZE: u64 = 1 << 30;

/// Most columns in one block, as ClickHouse's Native format reader:
/// more fails with `Code: 117` (INCORRECT_DATA).
pub const MAX_BLOCK_COLUMNS: u64 = 1_000_000;

/// Most rows in one block, as ClickHouse's Native format reader:
/// more fails with `Code: 117` (INCORRECT_DATA).
pub const MAX_BLOCK_ROWS: u64 = 1_000_000_000_000;

/// Most elements of all the arrays of one array column of a block
/// (ClickHouse's `MAX_ARRAYS_SIZE`, 2^40): more fails with `Code: 128`
/// (TOO_LARGE_ARRAY_SIZE).
pub const MAX_ARRAY_ELEMENTS: u64 = 1 << 40;

/// The largest `N` of `FixedString(N)`, ClickHouse's `MAX_FIXEDSTRING_SIZE`
/// (16 MiB - 1): larger fails with `Code: 69` (ARGUMENT_OUT_OF_BOUND).
pub const MAX_FIXED_STRING_SIZE: u64 = 0xFF_FFFF;

/// The largest precision of `DateTime64(P)`, as ClickHouse: larger fails
/// with `Code: 69` (ARGUMENT_OUT_OF_BOUND).
pub const MAX_DATETIME64_PRECISION: u32 = 9;

/// How deep types may nest in a column's type name (`Array(Array(...))`,
/// `Tuple(Nullable(...))`): loading a column recurses once per level, so
/// this bounds the stack a type name can take (a level takes about 3 KiB
/// in a debug build: 100 levels fit easily in a 2 MiB thread stack).
/// Deeper fails with `Code: 306` (TOO_DEEP_RECURSION).
pub const MAX_TYPE_NESTING_DEPTH: usize = 100;

/// The largest compressed frame, with its 9-byte header; also the largest
/// size a frame may decompress to. ClickHouse's `DBMS_MAX_COMPRESSED_SIZE`,
/// 1 GiB: larger fails with `Code: 39` (TOO_LARGE_SIZE_COMPRESSED).
pub const MAX_COMPRESSED_SIZE: u32 = 0x4000_0000;

/// LZ4 turns at most this many bytes out of one compressed byte (a match
/// length is extended by 255 per extra byte): a frame announcing a
/// decompressed size beyond `255 * compressed` is corrupt, and fails with
/// `Code: 271` (CANNOT_DECOMPRESS) before its buffer is allocated.
pub const LZ4_MAX_EXPANSION: u64 = 255;

/// The most bytes one packet may take in the connection's read buffer
/// before it parses (256 MiB): a client announcing or sending a larger
/// packet gets `Code: 290` (LIMIT_EXCEEDED) and the connection ends,
/// instead of the server buffering without end.
pub const MAX_PACKET_SIZE: usize = 256 << 20;

/// How long the server still reads (and drops) what a client sends after
/// the exception for its unparsable packet, before it closes the socket: a
/// client still writing a large packet then reads the exception instead of
/// a reset connection.
pub const LINGER_AFTER_ERROR: std::time::Duration = std::time::Duration::from_secs(1);

/// Data whose size comes from the wire is read in steps of at most this
/// many bytes: the buffer for it grows with the bytes actually read, never
/// to the announced size up front.
pub const READ_CHUNK_SIZE: usize = 64 << 10;

/// A ClickHouse exception as the server sends it: `Code: {code}.
/// DB::Exception: {message}` on the client's side.
pub fn exception(code: u32, message: impl Into<String>) -> Error {
    Error::Server(ServerError {
        code,
        name: "DB::Exception".to_string(),
        message: message.into(),
        stack_trace: String::new(),
    })
}

pub(crate) fn too_large_string() -> Error {
    exception(error_codes::TOO_LARGE_STRING_SIZE, "Too large string size.")
}

/// `size` as the usize the column loaders take, or the error of `what`
/// when it is over `limit`.
pub(crate) fn check(size: u64, limit: u64, what: impl FnOnce() -> Error) -> Result<usize, Error> {
    if size > limit {
        return Err(what());
    }
    usize::try_from(size).map_err(|_| what())
}

#[cfg(test)]
mod tests;
