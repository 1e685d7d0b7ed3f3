//! The backend's own Native blocks, passed to a native-protocol client as
//! they are (as the HTTP interface passes the backend's bytes): every type
//! arrives as ClickHouse sent it (Bool, Map, Tuple, Int128, LowCardinality
//! ...). The backend answers in the Native format, a stream of blocks; each
//! block is found by reading its columns' data by their types, then sent as
//! one Data packet of the protocol. A type not known here (or bytes that do
//! not read) returns `None`, and the caller answers the typed text way.
//! Uses the catalog's types and `crate::compression`.

use std::io::{self, Read};

use catalog::ChType;

/// A block's `BlockInfo` as the protocol writes it before the columns
/// (field 1: not overflows, field 2: bucket -1, end), which the Native
/// format has not.
pub(super) const BLOCK_INFO: [u8; 8] = [1, 0, 2, 0xff, 0xff, 0xff, 0xff, 0];
/// The server's Data packet.
const SERVER_DATA: u64 = 1;
/// Revisions from which a Data packet names a temporary table and carries
/// a `BlockInfo` (ClickHouse's DBMS_MIN_REVISION_WITH_TEMPORARY_TABLES and
/// DBMS_MIN_REVISION_WITH_BLOCK_INFO).
const WITH_TEMPORARY_TABLES: u64 = 50264;
const WITH_BLOCK_INFO: u64 = 51903;
/// LowCardinality's index flags (ClickHouse's SerializationLowCardinality):
/// a block starts without a global dictionary, so one is read whenever
/// the flags say there is one; then the block's own keys.
const NEED_GLOBAL_DICTIONARY: u64 = 1 << 8;
const HAS_ADDITIONAL_KEYS: u64 = 1 << 9;
/// How much of a length read from the wire is taken at a time.
const STEP: usize = 64 << 10;

/// The blocks of a Native-format stream, each as its bytes; `None` when a
/// column's type is not read here or the bytes end early.
pub(super) fn blocks(body: &[u8]) -> Option<Vec<&[u8]>> {
    let mut found = Vec::new();
    let mut cursor = std::io::Cursor::new(body);
    let mut at = 0;
    while at < body.len() {
        // Measured, not copied: the body is already in memory.
        let mut r = Reader::new(&mut cursor, false);
        columns(&mut r).ok()?;
        found.push(&body[at..at + r.read]);
        at += r.read;
    }
    Some(found)
}

/// Reads one block of the Native format from `from` (after its protocol
/// `BlockInfo` when `with_info`, which is read and left out) and returns
/// its bytes. Bytes are taken as they come, so a length read from the
/// wire allocates only what arrived. Errors: `UnexpectedEof` when the
/// bytes end early, `InvalidData` for a type not read here.
pub(super) fn read_block(from: &mut dyn Read, with_info: bool) -> io::Result<Vec<u8>> {
    if with_info {
        // Fields: 1 is_overflows (UInt8), 2 bucket_num (Int32), 0 ends.
        let mut info = Reader::new(from, false);
        loop {
            match info.varint()? {
                0 => break,
                1 => info.take(1)?,
                2 => info.take(4)?,
                field => return Err(invalid(format!("unknown BlockInfo field {field}"))),
            }
        }
    }
    let mut r = Reader::new(from, true);
    columns(&mut r)?;
    Ok(r.kept)
}

/// Reads a block's columns, each by its type.
fn columns(r: &mut Reader) -> io::Result<()> {
    let columns = r.varint()?;
    let rows = usize::try_from(r.varint()?).map_err(|_| invalid("too many rows"))?;
    for _ in 0..columns {
        r.string()?;
        r.string()?;
        let ty = std::str::from_utf8(r.last(r.last_len))
            .ok()
            .and_then(|t| ChType::parse(t).ok())
            .ok_or_else(|| invalid("a column type not read here"))?;
        // No rows, no data: ClickHouse writes nothing for them.
        if rows > 0 {
            r.prefix(&ty)?;
            r.skip(&ty, rows)?;
        }
    }
    Ok(())
}

fn invalid(what: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.into())
}

/// The empty Native block that announces `columns` with their types.
pub(super) fn header(columns: &[(String, ChType)]) -> Vec<u8> {
    let mut out = Vec::new();
    put_varint(&mut out, columns.len() as u64);
    put_varint(&mut out, 0);
    for (name, ty) in columns {
        put_string(&mut out, name.as_bytes());
        put_string(&mut out, ty.to_string().as_bytes());
    }
    out
}

/// Whether a client of `revision` puts a `BlockInfo` before each block.
pub(super) fn has_block_info(revision: u64) -> bool {
    revision >= WITH_BLOCK_INFO
}

/// The rows a block read by [`read_block`] holds.
pub(super) fn rows_of(block: &[u8]) -> u64 {
    let mut cursor = std::io::Cursor::new(block);
    let mut r = Reader::new(&mut cursor, false);
    r.varint().and_then(|_| r.varint()).unwrap_or(0)
}

/// One Data packet with `block` for a client of `revision`, its body
/// compressed when the client asked for compression.
pub(super) fn data_packet(block: &[u8], revision: u64, compress: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(block.len() + 16);
    put_varint(&mut out, SERVER_DATA);
    if revision >= WITH_TEMPORARY_TABLES {
        put_varint(&mut out, 0);
    }
    let mut body = Vec::with_capacity(block.len() + BLOCK_INFO.len());
    if revision >= WITH_BLOCK_INFO {
        body.extend_from_slice(&BLOCK_INFO);
    }
    body.extend_from_slice(block);
    if compress {
        out.extend(crate::compression::compress(
            &body,
            crate::compression::Method::Lz4,
        ));
    } else {
        out.extend(body);
    }
    out
}

/// Reads from a byte source, counting the bytes read and keeping them all
/// (`keep`) or only the last step of them.
struct Reader<'a> {
    from: &'a mut dyn Read,
    keep: bool,
    kept: Vec<u8>,
    read: usize,
    /// The length of the last string read (its bytes end `kept`).
    last_len: usize,
}

impl<'a> Reader<'a> {
    fn new(from: &'a mut dyn Read, keep: bool) -> Reader<'a> {
        Reader {
            from,
            keep,
            kept: Vec::new(),
            read: 0,
            last_len: 0,
        }
    }

    /// Reads the next `n` bytes, in steps so that a length from the wire
    /// allocates only what arrived.
    fn take(&mut self, n: usize) -> io::Result<()> {
        let mut left = n;
        while left > 0 {
            let step = left.min(STEP);
            if !self.keep {
                self.kept.clear();
            }
            let at = self.kept.len();
            self.kept.resize(at + step, 0);
            self.from.read_exact(&mut self.kept[at..])?;
            self.read += step;
            left -= step;
        }
        Ok(())
    }

    /// The last `n` bytes read (fewer, past a step when not keeping).
    fn last(&self, n: usize) -> &[u8] {
        &self.kept[self.kept.len().saturating_sub(n)..]
    }

    fn varint(&mut self) -> io::Result<u64> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            self.take(1)?;
            let byte = self.last(1)[0];
            value |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(invalid("a varint longer than 64 bits"))
    }

    fn u64(&mut self) -> io::Result<u64> {
        self.take(8)?;
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(self.last(8));
        Ok(u64::from_le_bytes(bytes))
    }

    fn count(&mut self) -> io::Result<usize> {
        usize::try_from(self.u64()?).map_err(|_| invalid("a count past the address space"))
    }

    fn string(&mut self) -> io::Result<()> {
        let n = usize::try_from(self.varint()?).map_err(|_| invalid("a string too long"))?;
        self.take(n)?;
        self.last_len = n;
        Ok(())
    }

    /// A column's serialization prefix: LowCardinality's keys version,
    /// wherever one is nested.
    fn prefix(&mut self, ty: &ChType) -> io::Result<()> {
        match ty {
            ChType::LowCardinality(_) => self.u64().map(|_| ()),
            ChType::Nullable(t) | ChType::Array(t) => self.prefix(t),
            ChType::Map(k, v) => {
                self.prefix(k)?;
                self.prefix(v)
            }
            ChType::Tuple(elements) => elements.iter().try_for_each(|(_, t)| self.prefix(t)),
            _ => Ok(()),
        }
    }

    /// Moves past `rows` values of `ty`.
    fn skip(&mut self, ty: &ChType, rows: usize) -> io::Result<()> {
        match ty {
            ChType::String => {
                for _ in 0..rows {
                    self.string()?;
                }
                Ok(())
            }
            ChType::Nullable(inner) => {
                self.take(rows)?;
                self.skip(inner, rows)
            }
            ChType::Array(inner) => {
                let items = self.offsets(rows)?;
                self.skip(inner, items)
            }
            ChType::Map(key, value) => {
                let items = self.offsets(rows)?;
                self.skip(key, items)?;
                self.skip(value, items)
            }
            ChType::Tuple(elements) => elements.iter().try_for_each(|(_, t)| self.skip(t, rows)),
            ChType::LowCardinality(inner) => {
                let flags = self.u64()?;
                let key_size = match flags & 0xff {
                    width @ 0..=3 => 1usize << width,
                    _ => return Err(invalid("an unknown LowCardinality index type")),
                };
                let keys = match inner.as_ref() {
                    ChType::Nullable(t) => t.as_ref(),
                    t => t,
                };
                if flags & NEED_GLOBAL_DICTIONARY != 0 {
                    let n = self.count()?;
                    self.skip(keys, n)?;
                }
                if flags & HAS_ADDITIONAL_KEYS != 0 {
                    let n = self.count()?;
                    self.skip(keys, n)?;
                }
                let n = self.count()?;
                self.take(
                    n.checked_mul(key_size)
                        .ok_or_else(|| invalid("too many rows"))?,
                )
            }
            other => {
                let size = width(other).ok_or_else(|| invalid("a column type not read here"))?;
                self.take(
                    rows.checked_mul(size)
                        .ok_or_else(|| invalid("too many rows"))?,
                )
            }
        }
    }

    /// An array column's offsets; returns its items' count (the last).
    fn offsets(&mut self, rows: usize) -> io::Result<usize> {
        let mut last = 0;
        for _ in 0..rows {
            last = self.count()?;
        }
        Ok(last)
    }
}

/// The bytes of one value of a fixed-width type.
fn width(ty: &ChType) -> Option<usize> {
    Some(match ty {
        ChType::Int8 | ChType::UInt8 | ChType::Bool | ChType::Enum8(_) | ChType::Nothing => 1,
        ChType::Int16 | ChType::UInt16 | ChType::Enum16(_) | ChType::Date => 2,
        ChType::Int32
        | ChType::UInt32
        | ChType::Float32
        | ChType::Date32
        | ChType::DateTime { .. }
        | ChType::IPv4 => 4,
        ChType::Int64 | ChType::UInt64 | ChType::Float64 | ChType::DateTime64 { .. } => 8,
        ChType::Int128 | ChType::UInt128 | ChType::Uuid | ChType::IPv6 => 16,
        ChType::Int256 | ChType::UInt256 => 32,
        ChType::FixedString(n) => *n,
        ChType::Decimal { precision, .. } => match precision {
            0..=9 => 4,
            10..=18 => 8,
            19..=38 => 16,
            _ => 32,
        },
        _ => return None,
    })
}

/// A string as the Native format writes it: its length, then its bytes.
pub(super) fn put_string(out: &mut Vec<u8>, s: &[u8]) {
    put_varint(out, s.len() as u64);
    out.extend_from_slice(s);
}

/// A varint (LEB128) as the protocol writes lengths and counts.
pub(super) fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    loop {
        let byte = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn column(out: &mut Vec<u8>, name: &str, ty: &str, data: &[u8]) {
        put_varint(out, name.len() as u64);
        out.extend_from_slice(name.as_bytes());
        put_varint(out, ty.len() as u64);
        out.extend_from_slice(ty.as_bytes());
        out.extend_from_slice(data);
    }

    #[test]
    fn blocks_are_found_by_their_columns() {
        let mut first = vec![2, 2];
        column(&mut first, "s", "String", b"\x01a\x02bc");
        // Map(String, UInt8): offsets 1, 2; keys "k", "l"; values 7, 8.
        column(
            &mut first,
            "m",
            "Map(String, UInt8)",
            &[
                &1u64.to_le_bytes()[..],
                &2u64.to_le_bytes(),
                b"\x01k\x01l",
                &[7, 8],
            ]
            .concat(),
        );
        let mut second = vec![1, 1];
        // LowCardinality(String): version, flags (UInt8 keys, additional
        // keys), 2 keys, 1 index.
        column(
            &mut second,
            "lc",
            "LowCardinality(String)",
            &[
                &1u64.to_le_bytes()[..],
                // What ClickHouse writes: additional keys, and the
                // update bit, which alone brings no dictionary.
                &(HAS_ADDITIONAL_KEYS | 1 << 10).to_le_bytes(),
                &2u64.to_le_bytes(),
                b"\x00\x01x",
                &1u64.to_le_bytes(),
                &[1],
            ]
            .concat(),
        );
        let body = [first.clone(), second.clone()].concat();
        assert_eq!(blocks(&body), Some(vec![&first[..], &second[..]]));
        // Cut short, or an unknown type: not passed through.
        assert_eq!(blocks(&body[..body.len() - 1]), None);
        let mut unknown = vec![1, 1];
        column(&mut unknown, "v", "Variant(String, UInt8)", &[0]);
        assert_eq!(blocks(&unknown), None);
    }

    #[test]
    fn hostile_blocks_end_in_errors_not_allocations() {
        let read = |bytes: &[u8], info: bool| read_block(&mut std::io::Cursor::new(bytes), info);
        // A string announced at 1 TiB with 3 bytes there: more bytes are
        // awaited, and only what arrived was kept.
        let mut huge = vec![1, 1];
        column(&mut huge, "s", "String", &[]);
        put_varint(&mut huge, 1 << 40);
        huge.extend_from_slice(b"abc");
        let e = read(&huge, false).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::UnexpectedEof);
        // Rows past the address space, a type nested past the parser's
        // depth, an unknown BlockInfo field: refused.
        let mut many = vec![1];
        put_varint(&mut many, u64::MAX);
        column(&mut many, "n", "UInt64", &[]);
        assert_eq!(
            read(&many, false).unwrap_err().kind(),
            io::ErrorKind::InvalidData
        );
        let deep = format!("{}UInt8{}", "Array(".repeat(5000), ")".repeat(5000));
        let mut nested = vec![1, 1];
        column(&mut nested, "a", &deep, &[]);
        assert_eq!(
            read(&nested, false).unwrap_err().kind(),
            io::ErrorKind::InvalidData
        );
        assert_eq!(
            read(&[7, 0], true).unwrap_err().kind(),
            io::ErrorKind::InvalidData
        );
        // A client's block: BlockInfo left out, rows counted.
        let mut block = vec![1, 2];
        column(&mut block, "b", "Bool", &[1, 0]);
        let sent = [&BLOCK_INFO[..], &block].concat();
        assert_eq!(read(&sent, true).unwrap(), block);
        assert_eq!(rows_of(&block), 2);
    }

    #[test]
    fn packets_carry_block_info_for_current_clients() {
        let packet = data_packet(&[0, 0], 54406, false);
        assert_eq!(packet, [&[1, 0][..], &BLOCK_INFO, &[0, 0]].concat());
        assert_eq!(data_packet(&[0, 0], 50000, false), [1, 0, 0]);
    }
}
