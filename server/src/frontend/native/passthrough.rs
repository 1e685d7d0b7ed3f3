//! The backend's own Native blocks, passed to a native-protocol client as
//! they are (as the HTTP interface passes the backend's bytes): every type
//! arrives as ClickHouse sent it (Bool, Map, Tuple, Int128, LowCardinality
//! ...). The backend answers in the Native format, a stream of blocks; each
//! block is found by reading its columns' data by their types, then sent as
//! one Data packet of the protocol. A type not known here (or bytes that do
//! not read) returns `None`, and the caller answers the typed text way.
//! Uses the catalog's types and `crate::compression`.

use catalog::ChType;

/// A block's `BlockInfo` as the protocol writes it before the columns.
const BLOCK_INFO: [u8; 8] = [1, 0, 2, 0xff, 0xff, 0xff, 0xff, 0];
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

/// The blocks of a Native-format stream, each as its bytes; `None` when a
/// column's type is not read here or the bytes end early.
pub(super) fn blocks(body: &[u8]) -> Option<Vec<&[u8]>> {
    let mut found = Vec::new();
    let mut r = Reader { bytes: body, at: 0 };
    while r.at < body.len() {
        let start = r.at;
        let columns = r.varint()?;
        let rows = usize::try_from(r.varint()?).ok()?;
        for _ in 0..columns {
            r.string()?;
            let ty = std::str::from_utf8(r.string()?).ok()?;
            let ty = ChType::parse(ty).ok()?;
            // No rows, no data: ClickHouse writes nothing for them.
            if rows > 0 {
                r.prefix(&ty)?;
                r.skip(&ty, rows)?;
            }
        }
        found.push(&body[start..r.at]);
    }
    Some(found)
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

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Option<&[u8]> {
        let end = self.at.checked_add(n)?;
        let taken = self.bytes.get(self.at..end)?;
        self.at = end;
        Some(taken)
    }

    fn varint(&mut self) -> Option<u64> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let byte = *self.take(1)?.first()?;
            value |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Some(value);
            }
        }
        None
    }

    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }

    fn string(&mut self) -> Option<&[u8]> {
        let n = usize::try_from(self.varint()?).ok()?;
        self.take(n)
    }

    /// A column's serialization prefix: LowCardinality's keys version,
    /// wherever one is nested.
    fn prefix(&mut self, ty: &ChType) -> Option<()> {
        match ty {
            ChType::LowCardinality(_) => self.u64().map(|_| ()),
            ChType::Nullable(t) | ChType::Array(t) => self.prefix(t),
            ChType::Map(k, v) => {
                self.prefix(k)?;
                self.prefix(v)
            }
            ChType::Tuple(elements) => elements.iter().try_for_each(|(_, t)| self.prefix(t)),
            _ => Some(()),
        }
    }

    /// Moves past `rows` values of `ty`.
    fn skip(&mut self, ty: &ChType, rows: usize) -> Option<()> {
        let fixed = |size: usize| rows.checked_mul(size);
        match ty {
            ChType::String => {
                for _ in 0..rows {
                    self.string()?;
                }
                Some(())
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
                let key_size = 1usize.checked_shl(u32::try_from(flags & 0xff).ok()?)?;
                let keys = match inner.as_ref() {
                    ChType::Nullable(t) => t.as_ref(),
                    t => t,
                };
                if flags & NEED_GLOBAL_DICTIONARY != 0 {
                    let n = usize::try_from(self.u64()?).ok()?;
                    self.skip(keys, n)?;
                }
                if flags & HAS_ADDITIONAL_KEYS != 0 {
                    let n = usize::try_from(self.u64()?).ok()?;
                    self.skip(keys, n)?;
                }
                let n = usize::try_from(self.u64()?).ok()?;
                self.take(n.checked_mul(key_size)?).map(|_| ())
            }
            other => {
                let size = width(other)?;
                self.take(fixed(size)?).map(|_| ())
            }
        }
    }

    /// An array column's offsets; returns its items' count (the last).
    fn offsets(&mut self, rows: usize) -> Option<usize> {
        let mut last = 0;
        for _ in 0..rows {
            last = self.u64()?;
        }
        usize::try_from(last).ok()
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

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
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
    fn packets_carry_block_info_for_current_clients() {
        let packet = data_packet(&[0, 0], 54406, false);
        assert_eq!(packet, [&[1, 0][..], &BLOCK_INFO, &[0, 0]].concat());
        assert_eq!(data_packet(&[0, 0], 50000, false), [1, 0, 0]);
    }
}
