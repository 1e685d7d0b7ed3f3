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

//! The decoder against hostile packets: announced sizes are refused or
//! read as they arrive (memory is measured), cut packets only ever "would
//! block" and say a number of missing bytes that is never too many, and
//! nothing panics.

use std::alloc::GlobalAlloc;
use std::alloc::Layout;
use std::alloc::System;
use std::cell::Cell;
use std::io::Cursor;
use std::os::raw::c_char;

use chrono_tz::Tz;
use lz4::liblz4::LZ4_compressBound;
use lz4::liblz4::LZ4_compress_default;
use naive_cityhash::cityhash128;

use crate::binary::read_ex::missing_bytes;
use crate::binary::Encoder;
use crate::binary::Parser;
use crate::errors::Error;
use crate::errors::Result;
use crate::protocols::HelloRequest;
use crate::protocols::Packet;
use crate::types::Block;

/// Counts the bytes allocated by the current thread: the tests measure
/// what a parse allocates.
struct Counting;

thread_local! {
    /// (bytes allocated now, most allocated since `measure` started)
    static ALLOCATED: Cell<(isize, isize)> = const { Cell::new((0, 0)) };
}

fn count(delta: isize) {
    let _ = ALLOCATED.try_with(|a| {
        let (now, peak) = a.get();
        a.set((now + delta, peak.max(now + delta)));
    });
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = System.alloc(layout);
        if !p.is_null() {
            count(layout.size() as isize);
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let p = System.alloc_zeroed(layout);
        if !p.is_null() {
            count(layout.size() as isize);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout);
        count(-(layout.size() as isize));
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = System.realloc(ptr, layout, new_size);
        if !p.is_null() {
            count(new_size as isize - layout.size() as isize);
        }
        p
    }
}

#[global_allocator]
static COUNTING: Counting = Counting;

/// `f`'s result and the most bytes it had allocated at once.
fn measure<T>(f: impl FnOnce() -> T) -> (T, usize) {
    let start = ALLOCATED.with(|a| {
        let (now, _) = a.get();
        a.set((now, now));
        now
    });
    let result = f();
    let peak = ALLOCATED.with(|a| a.get().1);
    (result, (peak - start).max(0) as usize)
}

fn hello() -> HelloRequest {
    HelloRequest {
        client_name: b"test".to_vec(),
        client_revision: 54406,
        user: "default".to_string(),
        ..Default::default()
    }
}

/// Parses one packet off `bytes`: the packet, and the bytes it took.
fn parse(bytes: &[u8], compress: bool) -> (Result<Packet>, usize) {
    let mut cursor = Cursor::new(bytes);
    let packet = Parser::new(&mut cursor, Tz::UTC).parse_packet(&Some(hello()), compress);
    (packet, cursor.position() as usize)
}

fn code(result: Result<Packet>) -> u32 {
    match result {
        Err(Error::Server(e)) => e.code,
        Err(e) => panic!("not a server error: {e:?}"),
        Ok(p) => panic!("parsed: {p:?}"),
    }
}

fn varint(v: u64) -> Vec<u8> {
    let mut e = Encoder::new();
    e.uvarint(v);
    e.get_buffer()
}

/// A Data packet's start, up to its numbers of columns and rows.
fn data_header(columns: u64, rows: u64) -> Vec<u8> {
    let mut e = Encoder::new();
    e.uvarint(2); // Data
    e.string(""); // temporary table
    e.uvarint(1);
    e.write(false);
    e.uvarint(2);
    e.write(-1_i32);
    e.uvarint(0);
    e.uvarint(columns);
    e.uvarint(rows);
    e.get_buffer()
}

/// A Data packet of one column of `type_name` whose data is `data`.
fn data_with_column(rows: u64, type_name: &str, data: &[u8]) -> Vec<u8> {
    let mut bytes = data_header(1, rows);
    let mut e = Encoder::new();
    e.string("c");
    e.string(type_name);
    e.write_bytes(data);
    bytes.extend(e.get_buffer());
    bytes
}

#[test]
fn hello_with_a_huge_name_length_is_refused_before_allocating() {
    for len in [1_u64 << 40, 1 << 62, u64::MAX] {
        let mut bytes = vec![0];
        bytes.extend(varint(len));
        bytes.extend(b"abc");
        let (result, peak) = measure(|| code(parse(&bytes, false).0));
        assert_eq!(result, 131, "{len}");
        assert!(peak < 4096, "{peak} bytes allocated for {len}");
    }
}

#[test]
fn strings_under_the_limit_grow_with_the_bytes_that_arrived() {
    let len = (1_u64 << 30) - 1;
    let mut bytes = vec![0];
    bytes.extend(varint(len));
    bytes.extend([b'a'; 100]);
    let ((result, taken), peak) = measure(|| parse(&bytes, false));
    let need = result
        .as_ref()
        .err()
        .and_then(missing_bytes)
        .expect("would block");
    assert_eq!(taken, bytes.len());
    assert_eq!(need.bytes as u64, len - 100);
    assert!(peak < 256 << 10, "{peak} bytes allocated");
}

#[test]
fn overlong_varints_are_errors() {
    let mut bytes = vec![0];
    bytes.extend([0xff; 11]);
    assert!(matches!(parse(&bytes, false).0, Err(Error::Driver(_))));
}

#[test]
fn blocks_announcing_too_many_columns_or_rows_are_refused() {
    assert_eq!(code(parse(&data_header(1 << 40, 1), false).0), 117);
    assert_eq!(code(parse(&data_header(1, 1 << 40), false).0), 117);
    // Under the limits: read as the bytes arrive.
    let bytes = data_with_column(1_000_000_000, "UInt64", &[0; 64]);
    let ((result, _), peak) = measure(|| parse(&bytes, false));
    let need = result
        .as_ref()
        .err()
        .and_then(missing_bytes)
        .expect("would block");
    assert_eq!(need.bytes, 8_000_000_000 - 64);
    assert!(peak < 256 << 10, "{peak} bytes allocated");
    let bytes = data_with_column(1_000_000_000, "String", &[3, b'a', b'b']);
    let ((result, _), peak) = measure(|| parse(&bytes, false));
    assert!(result.as_ref().err().and_then(missing_bytes).is_some());
    assert!(peak < 256 << 10, "{peak} bytes allocated");
}

#[test]
fn bad_column_types_are_errors_not_panics() {
    let cases: &[(&str, u32)] = &[
        ("FixedString(1099511627776)", 69),
        ("FixedString(16777216)", 69),
        ("FixedString(0)", 223),
        ("FixedString(x)", 223),
        ("FixedString", 50),
        ("Array", 50),
        ("Array(", 50),
        ("Nullable", 50),
        ("Tuple", 50),
        ("Tuple()", 50),
        ("Decimal)(9, 2", 50),
        ("Decimal(99, 2)", 50),
        ("DateTime64(20)", 69),
        ("Enum8('a' = 1", 50),
        ("Arrayé", 50),
        ("NoSuchType", 50),
    ];
    for (type_name, expected) in cases {
        let bytes = data_with_column(1, type_name, &[0; 64]);
        assert_eq!(code(parse(&bytes, false).0), *expected, "{type_name}");
    }
}

fn nested_arrays(depth: usize) -> String {
    format!("{}UInt8{}", "Array(".repeat(depth), ")".repeat(depth))
}

#[test]
fn deeply_nested_types_are_refused() {
    // Refused before its data is read, whatever the data says.
    for data in [[0_u8; 64], [1; 64], [0xff; 64]] {
        let bytes = data_with_column(1, &nested_arrays(5000), &data);
        assert_eq!(code(parse(&bytes, false).0), 306);
    }
    // Parentheses in an enum's quoted names are not nesting.
    let name = format!("Enum8('{}\\'' = 1)", "(".repeat(500));
    let bytes = data_with_column(1, &name, &[1]);
    assert!(
        matches!(parse(&bytes, false).0, Ok(Packet::Data(_))),
        "{name}"
    );
    let depth = super::MAX_TYPE_NESTING_DEPTH + 1;
    let bytes = data_with_column(0, &nested_arrays(depth), &[]);
    assert_eq!(code(parse(&bytes, false).0), 306);
}

#[test]
fn the_deepest_type_allowed_loads_on_a_small_stack() {
    // One row at each level: the offsets say 1, then the UInt8.
    let depth = super::MAX_TYPE_NESTING_DEPTH;
    let mut data = Vec::new();
    for _ in 0..depth {
        data.extend(1_u64.to_le_bytes());
    }
    data.push(7);
    let bytes = data_with_column(1, &nested_arrays(depth), &data);
    // Half of a tokio worker's 2 MiB, in a debug build (each level takes
    // about 3 KiB of it).
    let loaded = std::thread::Builder::new()
        .stack_size(1 << 20)
        .spawn(move || matches!(parse(&bytes, false), (Ok(Packet::Data(_)), n) if n == bytes.len()))
        .expect("thread")
        .join()
        .expect("no stack overflow");
    assert!(loaded);
}

#[test]
fn array_offsets_must_not_decrease() {
    let mut data = Vec::new();
    data.extend(5_u64.to_le_bytes());
    data.extend(2_u64.to_le_bytes());
    data.extend([0; 5]);
    let bytes = data_with_column(2, "Array(UInt8)", &data);
    assert_eq!(code(parse(&bytes, false).0), 117);
    let bytes = data_with_column(1, "Array(UInt8)", &(1_u64 << 41).to_le_bytes());
    assert_eq!(code(parse(&bytes, false).0), 128);
}

/// A compressed frame of `raw` as ClickHouse writes it.
fn frame(raw: &[u8]) -> Vec<u8> {
    let mut buf = vec![0_u8; 9 + unsafe { LZ4_compressBound(raw.len() as i32) } as usize];
    let size = unsafe {
        LZ4_compress_default(
            raw.as_ptr() as *const c_char,
            buf.as_mut_ptr().add(9) as *mut c_char,
            raw.len() as i32,
            (buf.len() - 9) as i32,
        )
    };
    buf.truncate(9 + size as usize);
    buf[0] = 0x82;
    let compressed = buf.len() as u32;
    buf[1..5].copy_from_slice(&compressed.to_le_bytes());
    buf[5..9].copy_from_slice(&(raw.len() as u32).to_le_bytes());
    let hash = cityhash128(&buf);
    let mut out = Vec::new();
    out.extend(hash.lo.to_le_bytes());
    out.extend(hash.hi.to_le_bytes());
    out.extend(buf);
    out
}

/// A compressed Data packet announcing the given sizes, with `payload`.
fn compressed_header(compressed: u32, original: u32, payload: &[u8]) -> Vec<u8> {
    let mut bytes = vec![2, 0];
    bytes.extend([0; 16]);
    bytes.push(0x82);
    bytes.extend(compressed.to_le_bytes());
    bytes.extend(original.to_le_bytes());
    bytes.extend(payload);
    bytes
}

#[test]
fn compressed_frames_with_bad_sizes_are_refused_before_allocating() {
    let cases: &[(u32, u32, u32)] = &[
        (u32::MAX, 100, 39),
        ((1 << 30) + 1, 100, 39),
        (100, u32::MAX, 39),
        (100, 1 << 30, 271),
        (5, 0, 246),
    ];
    for (compressed, original, expected) in cases {
        let bytes = compressed_header(*compressed, *original, &[0; 32]);
        let (result, peak) = measure(|| code(parse(&bytes, true).0));
        assert_eq!(result, *expected, "{compressed} {original}");
        assert!(peak < 4096, "{peak} bytes allocated");
    }
    // Under the limit: the frame is read as it arrives.
    let bytes = compressed_header(1 << 30, 1 << 30, &[0; 32]);
    let ((result, _), peak) = measure(|| parse(&bytes, true));
    let need = result
        .as_ref()
        .err()
        .and_then(missing_bytes)
        .expect("would block");
    assert_eq!(need.bytes, (1 << 30) - 9 - 32);
    assert!(peak < 256 << 10, "{peak} bytes allocated");
    // A wrong checksum.
    let mut bytes = vec![2, 0];
    let mut good = frame(b"\x01\x00\x02\xff\xff\xff\xff\x00\x00\x00");
    good[0] ^= 1;
    bytes.extend(good);
    assert_eq!(code(parse(&bytes, true).0), 40);
}

/// A block of every kind of column the decoder reads in pieces.
fn sample_block() -> Block {
    let long = "x".repeat(200_000);
    Block::new()
        .column("u8", vec![1_u8, 2, 3])
        .column("u64", vec![1_u64, 2, 3])
        .column("s", vec!["a".to_string(), long, String::new()])
        .column(
            "n",
            vec![Some("b".to_string()), None, Some("c".to_string())],
        )
        .column("a", vec![vec![1_i64, 2], vec![], vec![3]])
        .column("ip", vec![std::net::Ipv4Addr::LOCALHOST; 3])
}

/// Every cut of `packet` (some of them for long ones) would block, saying
/// no more missing bytes than there really are; the whole parses.
fn check_cuts(packet: &[u8], compress: bool) {
    let n = packet.len();
    let cuts = (0..n).filter(|k| *k < 300 || n - k < 300 || k % 997 == 0);
    for k in cuts {
        let (result, _) = parse(&packet[..k], compress);
        let need = match result {
            Err(ref e) => missing_bytes(e).unwrap_or_else(|| panic!("cut at {k}: {e:?}")),
            Ok(p) => panic!("cut at {k} parsed: {p:?}"),
        };
        assert!(
            k + need.bytes <= n,
            "cut at {k} of {n}: says {} missing",
            need.bytes
        );
    }
    let (result, taken) = parse(packet, compress);
    match result {
        Ok(Packet::Data(block)) => {
            assert_eq!(block.row_count(), 3);
            assert_eq!(
                block.get::<String, _>(1, "s").map(|s| s.len()).ok(),
                Some(200_000)
            );
            assert_eq!(block.get::<Vec<i64>, _>(0, "a").ok(), Some(vec![1, 2]));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(taken, n);
}

#[test]
fn cut_packets_would_block_with_a_true_count_of_missing_bytes() {
    let mut e = Encoder::new();
    sample_block().send_client_data(&mut e, false);
    let plain = e.get_buffer();
    check_cuts(&plain, false);

    // The same block compressed, in three frames.
    let mut e = Encoder::new();
    sample_block().write(&mut e, false);
    let raw = e.get_buffer();
    let mut packet = vec![2, 0];
    for part in [&raw[..100], &raw[100..150_000], &raw[150_000..]] {
        packet.extend(frame(part));
    }
    check_cuts(&packet, true);
}
