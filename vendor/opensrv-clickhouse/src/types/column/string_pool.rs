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

use std::io::Write;
use std::slice;

const AVG_STR_SIZE: usize = 80;

/// The smallest chunk a pool allocates.
const MIN_CHUNK_SIZE: usize = 64;

/// Chunks grow by doubling up to this size (a longer string still gets a
/// chunk as long as itself).
const MAX_CHUNK_SIZE: usize = 1 << 20;

#[derive(Copy, Clone)]
struct StringPtr {
    chunk: usize,
    shift: usize,
    len: usize,
}

#[derive(Clone)]
pub struct StringPool {
    chunks: Vec<Vec<u8>>,
    pointers: Vec<StringPtr>,
    position: usize,
    capacity: usize,
    /// The bytes of all chunks.
    allocated: usize,
}

pub(crate) struct StringIter<'a> {
    pool: &'a StringPool,
    index: usize,
}

impl<'a> Iterator for StringIter<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<Self::Item> {
        if self.index < self.pool.len() {
            let result = self.pool.get(self.index);
            self.index += 1;
            return Some(result);
        }

        None
    }
}

impl<T> From<Vec<T>> for StringPool
where
    T: AsRef<[u8]>,
{
    fn from(source: Vec<T>) -> Self {
        let mut pool = StringPool::with_capacity(source.len());
        for s in source.iter() {
            let mut b = pool.allocate(s.as_ref().len());
            b.write_all(s.as_ref()).unwrap();
        }
        pool
    }
}

impl StringPool {
    pub fn with_capacity(capacity: usize) -> StringPool {
        StringPool {
            pointers: Vec::with_capacity(capacity),
            chunks: Vec::new(),
            position: 0,
            capacity,
            allocated: 0,
        }
    }

    pub fn allocate(&mut self, size: usize) -> &mut [u8] {
        if self.free_space() < size || self.chunks.is_empty() {
            self.reserve(size);
        }

        let chunk = self.chunks.len() - 1;
        let position = self.position;
        self.position += size;
        self.pointers.push(StringPtr {
            len: size,
            shift: position,
            chunk,
        });
        &mut self.chunks[chunk][position..position + size]
    }

    /// Adds `bytes` as the next string, in a chunk of its own (for long
    /// strings, read as they arrived rather than into a chunk allocated
    /// for their announced length).
    pub fn push_owned(&mut self, bytes: Vec<u8>) {
        self.pointers.push(StringPtr {
            len: bytes.len(),
            shift: 0,
            chunk: self.chunks.len(),
        });
        self.position = bytes.len();
        self.allocated += bytes.len();
        self.chunks.push(bytes);
    }

    fn free_space(&self) -> usize {
        if let Some(buffer) = self.chunks.last() {
            return buffer.len() - self.position;
        }

        0
    }

    /// A new chunk for at least `size` bytes. Chunks grow with what the
    /// pool already holds (doubling, up to `MAX_CHUNK_SIZE`) rather than
    /// with the capacity asked for, which for a column read off the wire is
    /// a row count the client announced.
    fn reserve(&mut self, size: usize) {
        use std::cmp::max;
        use std::cmp::min;
        let by_capacity = min(self.capacity.saturating_mul(AVG_STR_SIZE), MAX_CHUNK_SIZE);
        let by_growth = min(self.allocated, MAX_CHUNK_SIZE);
        let chunk = max(max(by_capacity, by_growth), max(size, MIN_CHUNK_SIZE));
        self.position = 0;
        self.allocated += chunk;
        self.chunks.push(vec![0_u8; chunk]);
    }

    #[inline(always)]
    pub fn get(&self, index: usize) -> &[u8] {
        let pointer = &self.pointers[index];
        unsafe { self.get_by_pointer(pointer) }
    }

    #[inline(always)]
    pub(crate) unsafe fn get_unchecked(&self, index: usize) -> &[u8] {
        let pointer = self.pointers.get_unchecked(index);
        self.get_by_pointer(pointer)
    }

    #[inline(always)]
    unsafe fn get_by_pointer(&self, pointer: &StringPtr) -> &[u8] {
        let chunk = &self.chunks.get_unchecked(pointer.chunk);

        let ptr = chunk.as_ptr().add(pointer.shift);
        slice::from_raw_parts(ptr, pointer.len)
    }

    #[inline(always)]
    pub(crate) fn len(&self) -> usize {
        self.pointers.len()
    }

    pub(crate) fn strings(&self) -> StringIter {
        StringIter {
            pool: self,
            index: 0,
        }
    }
}
