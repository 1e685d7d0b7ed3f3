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

use std::fmt;
use std::io;

use micromarshal::Unmarshal;

use crate::errors::DriverError;
use crate::errors::Error;
use crate::errors::Result;
use crate::limits;
use crate::limits::MAX_STRING_SIZE;
use crate::limits::READ_CHUNK_SIZE;
use crate::types::column::StringPool;
use crate::types::StatBuffer;

pub trait ReadEx {
    fn read_bytes(&mut self, rv: &mut [u8]) -> Result<()>;
    fn read_scalar<V>(&mut self) -> Result<V>
    where
        V: Copy + Unmarshal<V> + StatBuffer;
    fn read_string(&mut self) -> Result<String>;
    fn read_len_encode_bytes(&mut self) -> Result<Vec<u8>>;
    fn skip_string(&mut self) -> Result<()>;
    fn read_uvarint(&mut self) -> Result<u64>;
    fn read_str_into_buffer(&mut self, pool: &mut StringPool) -> Result<()>;
    /// `len` bytes, read in steps of at most [`READ_CHUNK_SIZE`]: the
    /// vector grows with the bytes that arrive, whatever `len` announces.
    fn read_vec(&mut self, len: usize) -> Result<Vec<u8>>;
}

/// What the "would block" error of a read that ran out of buffered bytes
/// carries: how many more bytes the parse needs at least. The connection
/// waits for that many before it parses again, so that a packet
/// arriving in many reads is not re-parsed on each one.
#[derive(Debug, Clone, Copy)]
pub(crate) struct NeedMore {
    pub(crate) bytes: usize,
    /// The count is in bytes of the wire, and a reader of a longer value
    /// may add what it still lacks. A compressed block's reader clears it:
    /// its sizes are of decompressed data, not of the wire.
    pub(crate) extendable: bool,
}

impl fmt::Display for NeedMore {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "would block: {} more bytes needed", self.bytes)
    }
}

impl std::error::Error for NeedMore {}

pub(crate) fn would_block(bytes: usize, extendable: bool) -> Error {
    Error::IO(io::Error::new(
        io::ErrorKind::WouldBlock,
        NeedMore { bytes, extendable },
    ))
}

/// The bytes a "would block" error says are missing (at least 1).
pub(crate) fn missing_bytes(e: &Error) -> Option<NeedMore> {
    match e {
        Error::IO(io) if io.kind() == io::ErrorKind::WouldBlock => Some(
            io.get_ref()
                .and_then(|inner| inner.downcast_ref::<NeedMore>())
                .copied()
                .unwrap_or(NeedMore {
                    bytes: 1,
                    extendable: false,
                }),
        ),
        _ => None,
    }
}

/// `e`, and when it says the bytes ran out, `more` bytes of the same value
/// are missing after the ones it counts.
pub(crate) fn and_then_missing(e: Error, more: usize) -> Error {
    match missing_bytes(&e) {
        Some(need) if need.extendable => would_block(need.bytes.saturating_add(more), true),
        _ => e,
    }
}

/// A string's announced length, refused over ClickHouse's limit.
fn read_string_len<T: ReadEx + ?Sized>(reader: &mut T) -> Result<usize> {
    let len = reader.read_uvarint()?;
    limits::check(len, MAX_STRING_SIZE, limits::too_large_string)
}

impl<T> ReadEx for T
where
    T: io::Read,
{
    fn read_bytes(&mut self, rv: &mut [u8]) -> Result<()> {
        let mut i = 0;
        while i < rv.len() {
            let res_nread = {
                let buf = &mut rv[i..];
                self.read(buf)
            };
            match res_nread {
                Ok(0) => return Err(would_block(rv.len() - i, true)),
                Ok(nread) => i += nread,
                Err(e) => return Err(From::from(e)),
            }
        }
        Ok(())
    }

    fn read_scalar<V>(&mut self) -> Result<V>
    where
        V: Copy + Unmarshal<V> + StatBuffer,
    {
        let mut buffer = V::buffer();
        self.read_bytes(buffer.as_mut())?;
        Ok(V::unmarshal(buffer.as_ref()))
    }

    fn read_string(&mut self) -> Result<String> {
        let buffer = self.read_len_encode_bytes()?;
        Ok(String::from_utf8(buffer)?)
    }

    fn read_len_encode_bytes(&mut self) -> Result<Vec<u8>> {
        let str_len = read_string_len(self)?;
        self.read_vec(str_len)
    }

    fn skip_string(&mut self) -> Result<()> {
        let str_len = read_string_len(self)?;
        let mut buffer = [0_u8; 1024];
        let mut left = str_len;
        while left > 0 {
            let step = left.min(buffer.len());
            self.read_bytes(&mut buffer[..step])
                .map_err(|e| and_then_missing(e, left - step))?;
            left -= step;
        }
        Ok(())
    }

    fn read_uvarint(&mut self) -> Result<u64> {
        let mut x = 0_u64;
        let mut s = 0_u32;
        let mut i = 0_usize;
        loop {
            let b: u8 = self.read_scalar()?;

            if b < 0x80 {
                if i == 9 && b > 1 {
                    return Err(Error::Driver(DriverError::Overflow));
                }
                return Ok(x | (u64::from(b) << s));
            }
            // A tenth byte with its high bit set: more than 64 bits.
            if i == 9 {
                return Err(Error::Driver(DriverError::Overflow));
            }

            x |= u64::from(b & 0x7f) << s;
            s += 7;

            i += 1;
        }
    }

    fn read_str_into_buffer(&mut self, pool: &mut StringPool) -> Result<()> {
        let str_len = read_string_len(self)?;
        if str_len > READ_CHUNK_SIZE {
            // Large: read as it arrives, then handed to the pool whole.
            let bytes = self.read_vec(str_len)?;
            pool.push_owned(bytes);
        } else {
            let buffer = pool.allocate(str_len);
            self.read_bytes(buffer)?;
        }
        Ok(())
    }

    fn read_vec(&mut self, len: usize) -> Result<Vec<u8>> {
        let mut buffer = Vec::new();
        while buffer.len() < len {
            let start = buffer.len();
            let step = (len - start).min(READ_CHUNK_SIZE);
            buffer.resize(start + step, 0_u8);
            self.read_bytes(&mut buffer[start..])
                .map_err(|e| and_then_missing(e, len - start - step))?;
        }
        Ok(buffer)
    }
}
