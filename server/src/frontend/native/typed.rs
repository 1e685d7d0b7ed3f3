//! Typed columns for native-protocol clients: results whose values arrive as
//! text (the backend's TabSeparated, kafkahouse's own tables) encoded in
//! ClickHouse's Native layout by their ClickHouse types, and the header of a
//! client's INSERT announcing the destination's real types, so that drivers
//! (clickhouse-driver, clickhouse-client) send and receive dates, times,
//! enums, decimals, UUIDs, addresses and arrays as such, not as strings.
//!
//! The bytes are read back with opensrv-clickhouse's own block reader, so a
//! type it cannot carry falls back to text. Uses the catalog's types, the
//! result set and the text-array reader of `formats`.

use std::io::Cursor;

use catalog::ChType;
use chrono::{NaiveDate, NaiveDateTime, TimeZone as _};
use opensrv_clickhouse::types::Block;

use super::passthrough::{put_string, put_varint, BLOCK_INFO};
use crate::result::ResultSet;

/// The type name opensrv-clickhouse reads for `ty` (and clients receive),
/// when values of `ty` can travel typed: what the client gets is `ty`'s
/// values in that type (LowCardinality as its values, a DateTime with a
/// time zone as the instant).
pub(super) fn native_type(ty: &ChType) -> Option<String> {
    Some(match ty {
        ChType::LowCardinality(inner) => native_type(inner)?,
        ChType::Nullable(inner) if !matches!(inner.value_type(), ChType::Array(_)) => {
            format!("Nullable({})", native_type(inner)?)
        }
        ChType::Array(inner) if array_item(inner).is_some() => {
            format!("Array({})", native_type(inner)?)
        }
        ChType::Nullable(_) | ChType::Array(_) => return None,
        ChType::DateTime { .. } => "DateTime".to_string(),
        ChType::DateTime64 { precision, .. } => format!("DateTime64({precision})"),
        ChType::Decimal { precision, .. } if *precision <= 18 => ty.to_string(),
        ChType::String
        | ChType::FixedString(_)
        | ChType::Date
        | ChType::Uuid
        | ChType::IPv4
        | ChType::IPv6
        | ChType::Enum8(_)
        | ChType::Enum16(_) => ty.to_string(),
        _ if crate::formats::is_number(Some(ty)) => ty.to_string(),
        _ => return None,
    })
}

/// How an array's items are written in text: quoted (`['a','b']`) or bare
/// (`[1,2]`); `None` for items not read here (nested arrays, NULLs).
fn array_item(ty: &ChType) -> Option<bool> {
    match ty {
        ChType::LowCardinality(inner) => array_item(inner),
        ChType::Nullable(_) | ChType::Array(_) => None,
        ChType::Decimal { .. } => Some(false),
        _ if crate::formats::is_number(Some(ty)) => Some(false),
        _ => native_type(ty).map(|_| true),
    }
}

/// `result` as one block of typed columns (each column whose type and
/// values encode; text otherwise), or `None` when the reader refuses it.
pub(super) fn block(result: &ResultSet) -> Option<Block> {
    let mut out = BLOCK_INFO.to_vec();
    put_varint(&mut out, result.columns.len() as u64);
    put_varint(&mut out, result.rows.len() as u64);
    for (i, column) in result.columns.iter().enumerate() {
        let cells: Vec<Option<&str>> = result
            .rows
            .iter()
            .map(|row| row.get(i).and_then(|v| v.as_deref()))
            .collect();
        put_string(&mut out, column.name.as_bytes());
        let typed = column.ty.as_ref().and_then(|ty| {
            let name = native_type(ty)?;
            let mut data = Vec::new();
            encode(ty, &cells, &mut data)?;
            Some((name, data))
        });
        match typed {
            Some((name, data)) => {
                put_string(&mut out, name.as_bytes());
                out.extend_from_slice(&data);
            }
            None => text_column(&cells, &mut out),
        }
    }
    Block::load(&mut Cursor::new(out), chrono_tz::Tz::UTC, false).ok()
}

/// The empty block that tells a client the columns of its INSERT and their
/// types, or `None` when a type cannot travel typed.
pub(super) fn header(columns: &[(String, ChType)]) -> Option<Block> {
    let mut out = BLOCK_INFO.to_vec();
    put_varint(&mut out, columns.len() as u64);
    put_varint(&mut out, 0);
    for (name, ty) in columns {
        put_string(&mut out, name.as_bytes());
        put_string(&mut out, native_type(ty)?.as_bytes());
    }
    Block::load(&mut Cursor::new(out), chrono_tz::Tz::UTC, false).ok()
}

/// A block received from a client in the Native format, to pass on as it
/// is (`INSERT ... FORMAT Native`).
pub(super) fn native_data(block: &Block) -> Vec<u8> {
    let mut encoder = opensrv_clickhouse::binary::Encoder::new();
    block.write(&mut encoder, false);
    let mut bytes = encoder.get_buffer();
    // What follows the BlockInfo is the Native format.
    bytes.drain(..BLOCK_INFO.len().min(bytes.len()));
    bytes
}

/// Values as `String`, or `Nullable(String)` when one is NULL.
fn text_column(cells: &[Option<&str>], out: &mut Vec<u8>) {
    let nullable = cells.iter().any(Option::is_none);
    if nullable {
        put_string(out, b"Nullable(String)");
        out.extend(cells.iter().map(|c| u8::from(c.is_none())));
    } else {
        put_string(out, b"String");
    }
    for cell in cells {
        put_string(out, cell.unwrap_or_default().as_bytes());
    }
}

/// Appends the Native data of `cells` (text as ClickHouse writes it; `None`
/// is NULL) as `ty`; `None` when a value does not read as `ty`.
fn encode(ty: &ChType, cells: &[Option<&str>], out: &mut Vec<u8>) -> Option<()> {
    match ty {
        ChType::LowCardinality(inner) => encode(inner, cells, out),
        ChType::Nullable(inner) => {
            out.extend(cells.iter().map(|c| u8::from(c.is_none())));
            for cell in cells {
                scalar(inner.value_type(), *cell, out)?;
            }
            Some(())
        }
        ChType::Array(inner) => {
            let quoted = array_item(inner)?;
            let mut items: Vec<String> = Vec::new();
            let mut offset = 0u64;
            for cell in cells {
                let these = array_items(cell.unwrap_or("[]"), quoted)?;
                offset += these.len() as u64;
                out.extend_from_slice(&offset.to_le_bytes());
                items.extend(these);
            }
            let items: Vec<Option<&str>> = items.iter().map(|s| Some(s.as_str())).collect();
            encode(inner, &items, out)
        }
        _ => {
            for cell in cells {
                // A NULL in a column not declared Nullable: not this type.
                scalar(ty, Some((*cell)?), out)?;
            }
            Some(())
        }
    }
}

/// The items of an array written as text.
fn array_items(text: &str, quoted: bool) -> Option<Vec<String>> {
    if quoted {
        return crate::formats::parse_text_array(text);
    }
    let inner = text.trim().strip_prefix('[')?.strip_suffix(']')?.trim();
    if inner.is_empty() {
        return Some(Vec::new());
    }
    Some(inner.split(',').map(|s| s.trim().to_string()).collect())
}

/// One value of a non-nullable `ty` (`None`: its default, under a NULL).
fn scalar(ty: &ChType, text: Option<&str>, out: &mut Vec<u8>) -> Option<()> {
    macro_rules! number {
        ($t:ty) => {{
            let v: $t = match text {
                None => <$t>::default(),
                Some(t) => t.parse().ok()?,
            };
            out.extend_from_slice(&v.to_le_bytes());
        }};
    }
    match ty {
        ChType::LowCardinality(inner) => return scalar(inner, text, out),
        ChType::UInt8 => number!(u8),
        ChType::UInt16 => number!(u16),
        ChType::UInt32 => number!(u32),
        ChType::UInt64 => number!(u64),
        ChType::Int8 => number!(i8),
        ChType::Int16 => number!(i16),
        ChType::Int32 => number!(i32),
        ChType::Int64 => number!(i64),
        ChType::Float32 => number!(f32),
        ChType::Float64 => number!(f64),
        ChType::String => put_string(out, text.unwrap_or_default().as_bytes()),
        ChType::FixedString(n) => {
            let bytes = text.unwrap_or_default().as_bytes();
            if bytes.len() > *n {
                return None;
            }
            out.extend_from_slice(bytes);
            out.resize(out.len() + (n - bytes.len()), 0);
        }
        ChType::Date => {
            let days = match text {
                None => 0,
                Some(t) => {
                    let date = NaiveDate::parse_from_str(t, "%Y-%m-%d").ok()?;
                    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1)?;
                    u16::try_from((date - epoch).num_days()).ok()?
                }
            };
            out.extend_from_slice(&days.to_le_bytes());
        }
        ChType::DateTime { timezone } => {
            let seconds = match text {
                None => 0,
                Some(t) => {
                    u32::try_from(instant(t, timezone.as_deref())?.and_utc().timestamp()).ok()?
                }
            };
            out.extend_from_slice(&seconds.to_le_bytes());
        }
        ChType::DateTime64 {
            precision,
            timezone,
        } => {
            let ticks = match text {
                None => 0,
                Some(t) => {
                    let utc = instant(t, timezone.as_deref())?.and_utc();
                    let scale = 10i64.checked_pow(u32::from(*precision))?;
                    let nanos_per_tick = 1_000_000_000i64.checked_div(scale)?.max(1);
                    utc.timestamp()
                        .checked_mul(scale)?
                        .checked_add(i64::from(utc.timestamp_subsec_nanos()) / nanos_per_tick)?
                }
            };
            out.extend_from_slice(&ticks.to_le_bytes());
        }
        ChType::Decimal { precision, scale } => {
            let units = match text {
                None => 0,
                Some(t) => decimal_units(t, *scale)?,
            };
            if *precision <= 9 {
                out.extend_from_slice(&i32::try_from(units).ok()?.to_le_bytes());
            } else {
                out.extend_from_slice(&i64::try_from(units).ok()?.to_le_bytes());
            }
        }
        ChType::Enum8(values) => {
            let v = enum_value(values, text)?;
            out.extend_from_slice(&v.to_le_bytes());
        }
        ChType::Enum16(values) => {
            let v = enum_value(values, text)?;
            out.extend_from_slice(&v.to_le_bytes());
        }
        ChType::Uuid => {
            let v = match text {
                None => 0u128,
                Some(t) => uuid::Uuid::parse_str(t).ok()?.as_u128(),
            };
            // ClickHouse's layout: the high half, then the low one, each
            // little-endian.
            out.extend_from_slice(&((v >> 64) as u64).to_le_bytes());
            out.extend_from_slice(&(v as u64).to_le_bytes());
        }
        ChType::IPv4 => {
            let v = match text {
                None => 0u32,
                Some(t) => u32::from(t.parse::<std::net::Ipv4Addr>().ok()?),
            };
            out.extend_from_slice(&v.to_le_bytes());
        }
        ChType::IPv6 => {
            let v = match text {
                None => std::net::Ipv6Addr::UNSPECIFIED,
                Some(t) => t.parse::<std::net::Ipv6Addr>().ok()?,
            };
            out.extend_from_slice(&v.octets());
        }
        _ => return None,
    }
    Some(())
}

/// A DateTime's text as the UTC instant it names in `timezone` (UTC when
/// none; kafkahouse's server time zone).
fn instant(text: &str, timezone: Option<&str>) -> Option<NaiveDateTime> {
    let local = NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f").ok()?;
    match timezone {
        None | Some("UTC") => Some(local),
        Some(name) => {
            let tz: chrono_tz::Tz = name.parse().ok()?;
            Some(tz.from_local_datetime(&local).earliest()?.naive_utc())
        }
    }
}

/// `text` (`-12.50`) in units of 10^-scale.
fn decimal_units(text: &str, scale: u8) -> Option<i128> {
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
    let scale = usize::from(scale);
    if fraction.len() > scale || whole.is_empty() && fraction.is_empty() {
        return None;
    }
    let all = format!("{whole}{fraction:0<scale$}");
    if !all.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let units: i128 = all.parse().ok()?;
    Some(if negative { -units } else { units })
}

/// An enum's value by name (`None` text: the lowest value, its default).
fn enum_value<T: Copy + Ord>(values: &[(String, T)], text: Option<&str>) -> Option<T> {
    match text {
        Some(name) => values.iter().find(|(n, _)| n == name).map(|(_, v)| *v),
        None => values.iter().map(|(_, v)| *v).min(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::result::ResultColumn;

    fn result(columns: &[(&str, &str)], rows: &[&[Option<&str>]]) -> ResultSet {
        ResultSet {
            columns: columns
                .iter()
                .map(|(name, ty)| ResultColumn {
                    name: name.to_string(),
                    ty: ChType::parse(ty).ok(),
                })
                .collect(),
            rows: rows
                .iter()
                .map(|r| r.iter().map(|v| v.map(str::to_string)).collect())
                .collect(),
        }
    }

    fn types(block: &Block) -> Vec<String> {
        block
            .columns()
            .iter()
            .map(|c| c.sql_type().to_string().into_owned())
            .collect()
    }

    #[test]
    fn results_travel_in_their_types() {
        let r = result(
            &[
                ("d", "Date"),
                ("t", "DateTime('Asia/Tokyo')"),
                ("e", "Enum8('a' = 1, 'b' = 2)"),
                ("x", "Decimal(9, 2)"),
                ("u", "UUID"),
                ("ip", "IPv4"),
                ("n", "Nullable(Int64)"),
                ("arr", "Array(UInt32)"),
                ("words", "Array(LowCardinality(String))"),
                ("m", "Map(String, UInt8)"),
            ],
            &[
                &[
                    Some("2024-01-02"),
                    Some("2024-01-02 12:04:05"),
                    Some("b"),
                    Some("-12.5"),
                    Some("61f0c404-5cb3-11e7-907b-a6006ad3dba0"),
                    Some("1.2.3.4"),
                    None,
                    Some("[1,2]"),
                    Some("['x','y\\'z']"),
                    Some("{'k':1}"),
                ],
                &[
                    Some("1970-01-01"),
                    Some("1970-01-01 09:00:00"),
                    Some("a"),
                    Some("0.01"),
                    Some("00000000-0000-0000-0000-000000000000"),
                    Some("0.0.0.0"),
                    Some("7"),
                    Some("[]"),
                    Some("[]"),
                    Some("{}"),
                ],
            ],
        );
        let block = block(&r).expect("typed block");
        assert_eq!(
            types(&block),
            [
                "Date",
                "DateTime",
                // opensrv-clickhouse's spelling of the same type.
                "Enum8('a' = 1,'b' = 2)",
                "Decimal(9, 2)",
                "UUID",
                "IPv4",
                "Nullable(Int64)",
                "Array(UInt32)",
                "Array(String)",
                "String",
            ]
        );
        assert_eq!(block.row_count(), 2);
        let day: NaiveDate = block.get(0, "d").unwrap();
        assert_eq!(day, NaiveDate::from_ymd_opt(2024, 1, 2).unwrap());
        // Noon in Tokyo is 03:04:05 UTC; 09:00 in Tokyo is the epoch.
        let t: chrono::DateTime<chrono_tz::Tz> = block.get(0, "t").unwrap();
        assert_eq!(t.timestamp(), 1_704_164_645);
        let t: chrono::DateTime<chrono_tz::Tz> = block.get(1, "t").unwrap();
        assert_eq!(t.timestamp(), 0);
        let n: Option<i64> = block.get(0, "n").unwrap();
        assert_eq!(n, None);
        let arr: Vec<u32> = block.get(0, "arr").unwrap();
        assert_eq!(arr, [1, 2]);
        let words: Vec<String> = block.get(0, "words").unwrap();
        assert_eq!(words, ["x", "y'z"]);
        let u: uuid::Uuid = block.get(0, "u").unwrap();
        assert_eq!(u.to_string(), "61f0c404-5cb3-11e7-907b-a6006ad3dba0");
    }

    #[test]
    fn values_that_do_not_read_as_their_type_go_as_text() {
        let r = result(
            &[("d", "Date"), ("n", "UInt8")],
            &[&[Some("yesterday"), None]],
        );
        let block = block(&r).expect("a block");
        assert_eq!(types(&block), ["String", "Nullable(String)"]);
    }

    #[test]
    fn insert_headers_name_the_real_types() {
        let columns = [
            ("d".to_string(), ChType::parse("Date").unwrap()),
            ("t".to_string(), ChType::parse("DateTime('UTC')").unwrap()),
            (
                "tags".to_string(),
                ChType::parse("Array(LowCardinality(String))").unwrap(),
            ),
        ];
        let announced = header(&columns).expect("a header");
        assert_eq!(types(&announced), ["Date", "DateTime", "Array(String)"]);
        assert!(header(&[(
            "m".to_string(),
            ChType::parse("Map(String, UInt8)").unwrap()
        )])
        .is_none());
        assert_eq!(decimal_units("-12.5", 2), Some(-1250));
        assert_eq!(decimal_units("1.234", 2), None);
    }
}
