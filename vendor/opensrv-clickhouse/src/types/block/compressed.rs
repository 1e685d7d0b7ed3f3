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

use std::io;
use std::io::Read;
use std::mem;
use std::os::raw::c_char;
use std::os::raw::c_int;

use lz4::liblz4::LZ4_decompress_safe;
use naive_cityhash::cityhash128;
use naive_cityhash::U128;

use crate::binary::read_ex;
use crate::binary::ReadEx;
use crate::error_codes;
use crate::errors::Result;
use crate::limits;
use crate::limits::LZ4_MAX_EXPANSION;
use crate::limits::MAX_COMPRESSED_SIZE;

/// Method byte, compressed size and decompressed size.
const HEADER_SIZE: u32 = 9;

pub(crate) struct CompressedReader<'a, R> {
    reader: &'a mut R,
    cursor: io::Cursor<Vec<u8>>,
}

pub(crate) fn make<R>(reader: &mut R) -> CompressedReader<R> {
    CompressedReader {
        reader,
        cursor: io::Cursor::new(Vec::new()),
    }
}

impl<'a, R> CompressedReader<'a, R>
where
    R: Read + ReadEx,
{
    fn is_empty(&self) -> bool {
        let len = self.cursor.get_ref().len();
        let pos = self.cursor.position() as usize;
        len == pos
    }

    fn fill(&mut self) -> Result<()> {
        let cursor = mem::replace(&mut self.cursor, io::Cursor::new(Vec::new()));
        let buffer = cursor.into_inner();

        let tmp = decompress_buffer(&mut self.reader, buffer)?;
        self.cursor = io::Cursor::new(tmp);
        Ok(())
    }
}

impl<'a, R> Read for CompressedReader<'a, R>
where
    R: Read + ReadEx,
{
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        // Never 0 for a non-empty `buf`, which the caller would take for
        // the end of the buffered bytes: empty frames are skipped (each
        // takes bytes of the wire, so this ends).
        while !buf.is_empty() && self.is_empty() {
            if let Err(e) = self.fill() {
                // The bytes missing are those of the wire's next frame: the
                // caller, counting decompressed bytes, must not add to them.
                return Err(match read_ex::missing_bytes(&e) {
                    Some(need) => read_ex::would_block(need.bytes, false).into(),
                    None => e.into(),
                });
            }
        }

        self.cursor.read(buf)
    }
}

pub fn decompress_buffer<R>(reader: &mut R, buffer: Vec<u8>) -> Result<Vec<u8>>
where
    R: ReadEx,
{
    let h = U128 {
        lo: reader.read_scalar()?,
        hi: reader.read_scalar()?,
    };

    let method: u8 = reader.read_scalar()?;
    if method != 0x82 {
        return Err(limits::exception(
            error_codes::UNKNOWN_COMPRESSION_METHOD,
            format!("Unknown compression method: {method}"),
        ));
    }

    let compressed: u32 = reader.read_scalar()?;
    let original: u32 = reader.read_scalar()?;

    // Both sizes are checked before anything is allocated for them, and
    // the compressed bytes are read as they arrive.
    if compressed > MAX_COMPRESSED_SIZE {
        return Err(limits::exception(
            error_codes::TOO_LARGE_SIZE_COMPRESSED,
            format!(
                "Too large size_compressed_without_checksum: {compressed}. Most likely corrupted data."
            ),
        ));
    }
    if compressed < HEADER_SIZE {
        return Err(limits::exception(
            error_codes::CORRUPTED_DATA,
            format!(
                "Can't decompress data: the compressed data size ({compressed}, this should include header size) is less than the header size ({HEADER_SIZE})"
            ),
        ));
    }
    if original > MAX_COMPRESSED_SIZE {
        return Err(limits::exception(
            error_codes::TOO_LARGE_SIZE_COMPRESSED,
            format!("Too large size_decompressed: {original}. Most likely corrupted data."),
        ));
    }
    let payload = compressed - HEADER_SIZE;
    if u64::from(original) > u64::from(payload) * LZ4_MAX_EXPANSION {
        return Err(limits::exception(
            error_codes::CANNOT_DECOMPRESS,
            format!(
                "Cannot decompress: {payload} bytes of LZ4 cannot make the {original} bytes announced"
            ),
        ));
    }

    let mut buffer = buffer;
    buffer.clear();
    buffer.push(method);
    buffer.extend_from_slice(&compressed.to_le_bytes());
    buffer.extend_from_slice(&original.to_le_bytes());
    buffer.append(&mut reader.read_vec(payload as usize)?);

    if h != cityhash128(&buffer) {
        return Err(limits::exception(
            error_codes::CHECKSUM_DOESNT_MATCH,
            "Checksum doesn't match: corrupted data.",
        ));
    }

    let mut data = vec![0_u8; original as usize];
    // Both sizes are at most 1 GiB: they fit a c_int.
    let status = unsafe {
        LZ4_decompress_safe(
            buffer.as_ptr().add(HEADER_SIZE as usize) as *const c_char,
            data.as_mut_ptr() as *mut c_char,
            payload as c_int,
            original as c_int,
        )
    };

    if status < 0 || status as u32 != original {
        return Err(limits::exception(
            error_codes::CANNOT_DECOMPRESS,
            "Cannot decompress LZ4-encoded data",
        ));
    }

    Ok(data)
}
