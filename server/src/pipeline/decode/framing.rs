//! How a block's messages become one input for the engine, and how many
//! rows each message should yield. ClickHouse parses every message on its
//! own; parsing a block as one input is much faster, and is only trusted
//! when the rows the engine returns add up to the rows counted here (else
//! the engine parses each message as its own file).

use super::Message;

/// How one format's messages join into one input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Framing {
    /// Row text formats: messages are joined by newlines. `header_lines`
    /// (WithNames: 1, WithNamesAndTypes: 2) open every message; they are kept
    /// once when all messages have the same ones.
    Lines { rows: RowCount, header_lines: usize },
    /// Protobuf: each message holds length-delimited rows; they concatenate.
    LengthDelimited,
    /// ProtobufSingle: one row per message without a length; given one, the
    /// messages read as length-delimited Protobuf.
    AddLength,
    /// AvroConfluent: one row per message, each with its own schema id.
    OneEach,
    /// Formats whose messages are whole documents (Avro files, JSON, ...).
    Separate,
}

/// How rows are counted in a row text format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowCount {
    /// JSON values (objects or arrays) at the top level.
    Json,
    /// CSV records (quoted newlines do not end one).
    Csv,
    /// Non-empty lines.
    NonEmptyLines,
    /// Every line.
    Lines,
}

/// A block as one input.
#[derive(Debug)]
pub struct Joined {
    /// The format to parse `data` as (ProtobufSingle becomes Protobuf).
    pub format: String,
    pub data: Vec<u8>,
    /// Rows each message should yield.
    pub rows: Vec<usize>,
}

impl Framing {
    pub fn of(format: &str) -> Framing {
        let lines = |rows, header_lines| Framing::Lines { rows, header_lines };
        match format {
            "JSONEachRow"
            | "JSONLines"
            | "NDJSON"
            | "JSONStringsEachRow"
            | "JSONCompactEachRow"
            | "JSONCompactStringsEachRow"
            | "JSONAsString"
            | "JSONAsObject" => lines(RowCount::Json, 0),
            "JSONCompactEachRowWithNames" => lines(RowCount::Json, 1),
            "JSONCompactEachRowWithNamesAndTypes" => lines(RowCount::Json, 2),
            "CSV" => lines(RowCount::Csv, 0),
            "CSVWithNames" => lines(RowCount::Csv, 1),
            "CSVWithNamesAndTypes" => lines(RowCount::Csv, 2),
            // TSKV needs each row's line break, which a message may lack.
            "TSV" | "TabSeparated" | "TSVRaw" | "TabSeparatedRaw" | "TSKV" => {
                lines(RowCount::NonEmptyLines, 0)
            }
            "TSVWithNames" | "TabSeparatedWithNames" => lines(RowCount::NonEmptyLines, 1),
            "TSVWithNamesAndTypes" | "TabSeparatedWithNamesAndTypes" => {
                lines(RowCount::NonEmptyLines, 2)
            }
            "LineAsString" => lines(RowCount::Lines, 0),
            "Protobuf" => Framing::LengthDelimited,
            "ProtobufSingle" => Framing::AddLength,
            "AvroConfluent" => Framing::OneEach,
            _ => Framing::Separate,
        }
    }

    /// The block as one input, or `None` when its messages cannot be read
    /// as one (different headers, a format of whole documents). Empty
    /// messages yield no rows, as in ClickHouse.
    pub fn join(&self, format: &str, messages: &[&Message]) -> Option<Joined> {
        let mut data = Vec::with_capacity(messages.iter().map(|m| m.payload.len() + 1).sum());
        let mut rows = Vec::with_capacity(messages.len());
        let mut format = format.to_string();
        let mut header: Option<&[u8]> = None;
        for m in messages {
            let payload = m.payload.as_slice();
            if payload.is_empty() {
                rows.push(0);
                continue;
            }
            match self {
                Framing::Lines {
                    rows: count,
                    header_lines,
                } => {
                    let (head, body) = split_lines(payload, *header_lines)?;
                    match header {
                        None => {
                            header = Some(head);
                            data.extend_from_slice(head);
                        }
                        Some(first) if first == head => {}
                        Some(_) => return None,
                    }
                    // A message that does not hold whole rows (a JSON value
                    // left open, closed in the next message) must not be
                    // read joined to its neighbours: parsed alone, it is
                    // broken, as ClickHouse finds it.
                    rows.push(count_rows(*count, body)?);
                    data.extend_from_slice(body);
                    if !body.is_empty() && !body.ends_with(b"\n") {
                        data.push(b'\n');
                    }
                }
                Framing::LengthDelimited => {
                    rows.push(count_frames(payload)?);
                    data.extend_from_slice(payload);
                }
                Framing::AddLength => {
                    rows.push(1);
                    put_varint(&mut data, payload.len() as u64);
                    data.extend_from_slice(payload);
                    format = "Protobuf".to_string();
                }
                Framing::OneEach => {
                    rows.push(1);
                    data.extend_from_slice(payload);
                }
                Framing::Separate => return None,
            }
        }
        Some(Joined { format, data, rows })
    }
}

impl Framing {
    /// Rendered rows of a row text format cut apart: its header lines and
    /// each row (without its newline). `None` for formats whose rows cannot
    /// be cut from the text.
    pub fn split_rows<'b>(&self, body: &'b [u8]) -> Option<(&'b [u8], Vec<&'b [u8]>)> {
        let Framing::Lines { rows, header_lines } = self else {
            return None;
        };
        let (header, body) = split_lines(body, *header_lines)?;
        let mut out = Vec::new();
        let (mut start, mut quoted) = (0, false);
        for (i, &b) in body.iter().enumerate() {
            match b {
                b'"' if *rows == RowCount::Csv => quoted = !quoted,
                b'\n' if !quoted => {
                    let row = &body[start..i];
                    if !row.is_empty() || *rows == RowCount::Lines {
                        out.push(row);
                    }
                    start = i + 1;
                }
                _ => {}
            }
        }
        if start < body.len() {
            out.push(&body[start..]);
        }
        Some((header, out))
    }
}

/// The first `n` lines (with their newlines) and the rest; `None` when the
/// payload has fewer lines than a header needs.
fn split_lines(payload: &[u8], n: usize) -> Option<(&[u8], &[u8])> {
    let mut at = 0;
    for _ in 0..n {
        let end = payload[at..].iter().position(|b| *b == b'\n')?;
        at += end + 1;
    }
    Some(payload.split_at(at))
}

fn count_rows(count: RowCount, body: &[u8]) -> Option<usize> {
    Some(match count {
        RowCount::Json => json_values(body)?,
        RowCount::Csv => count_csv_records(body),
        RowCount::NonEmptyLines => body
            .split(|b| *b == b'\n')
            .filter(|line| !line.is_empty() && *line != b"\r")
            .count(),
        RowCount::Lines => {
            let newlines = body.iter().filter(|b| **b == b'\n').count();
            newlines + usize::from(!body.is_empty() && !body.ends_with(b"\n"))
        }
    })
}

/// Objects and arrays that open at the top level; `None` when one is left
/// open (or a string), or a bracket closes what was not opened: the text is
/// not whole values.
pub(super) fn json_values(body: &[u8]) -> Option<usize> {
    let (mut depth, mut in_string, mut escaped, mut values) = (0usize, false, false, 0);
    for &b in body {
        if in_string {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'{' | b'[' => {
                if depth == 0 {
                    values += 1;
                }
                depth += 1;
            }
            b'}' | b']' => depth = depth.checked_sub(1)?,
            _ => {}
        }
    }
    (depth == 0 && !in_string).then_some(values)
}

/// Records with any content (a line of delimiters is a record of empty
/// fields); a newline inside quotes does not end one.
fn count_csv_records(body: &[u8]) -> usize {
    let (mut quoted, mut content, mut records) = (false, false, 0);
    for &b in body {
        match b {
            b'"' => {
                quoted = !quoted;
                content = true;
            }
            b'\n' if !quoted => {
                records += usize::from(content);
                content = false;
            }
            b'\r' if !quoted => {}
            _ => content = true,
        }
    }
    records + usize::from(content)
}

/// Length-delimited Protobuf rows: a varint length, then that many bytes.
fn count_frames(mut payload: &[u8]) -> Option<usize> {
    let mut frames = 0;
    while !payload.is_empty() {
        let (len, used) = read_varint(payload)?;
        let end = used.checked_add(usize::try_from(len).ok()?)?;
        payload = payload.get(end..)?;
        frames += 1;
    }
    Some(frames)
}

fn read_varint(bytes: &[u8]) -> Option<(u64, usize)> {
    let mut value = 0u64;
    for (i, b) in bytes.iter().enumerate().take(10) {
        value |= u64::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            return Some((value, i + 1));
        }
    }
    None
}

fn put_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8 & 0x7f) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(payload: &[u8]) -> Message {
        Message {
            payload: payload.to_vec(),
            key: None,
            offset: 0,
            timestamp_ms: None,
            headers: Vec::new(),
        }
    }

    fn join(format: &str, payloads: &[&[u8]]) -> Option<Joined> {
        let messages: Vec<Message> = payloads.iter().map(|p| m(p)).collect();
        let refs: Vec<&Message> = messages.iter().collect();
        Framing::of(format).join(format, &refs)
    }

    #[test]
    fn json_rows_are_counted_per_message() {
        let j = join(
            "JSONEachRow",
            &[br#"{"a":"}{"} {"b":[1,{"c":2}]}"#, b"", br#"{"a":"\"{"}"#],
        )
        .unwrap();
        assert_eq!(j.rows, [2, 0, 1]);
        assert_eq!(j.data.iter().filter(|b| **b == b'\n').count(), 2);
    }

    #[test]
    fn csv_headers_are_kept_once_when_they_agree() {
        let j = join("CSVWithNames", &[b"a,b\n1,\"x\ny\"\n", b"a,b\n2,z"]).unwrap();
        assert_eq!(j.rows, [1, 1]);
        assert_eq!(j.data, b"a,b\n1,\"x\ny\"\n2,z\n");
        assert!(join("CSVWithNames", &[b"a,b\n1,2", b"b,a\n2,1"]).is_none());
        assert!(join("CSVWithNames", &[b"no newline"]).is_none());
    }

    #[test]
    fn text_lines() {
        assert_eq!(join("TSV", &[b"1\tx\n\n2\ty\n"]).unwrap().rows, [2]);
        assert_eq!(
            join("LineAsString", &[b"a\n\nb", b"c\n"]).unwrap().rows,
            [3, 1]
        );
    }

    #[test]
    fn protobuf_frames() {
        let j = join("Protobuf", &[&[2, 8, 1, 0], &[1, 8]]).unwrap();
        assert_eq!(j.rows, [2, 1]);
        assert!(join("Protobuf", &[&[5, 8]]).is_none(), "a frame cut short");
        let single = join("ProtobufSingle", &[&[8, 1], &[8, 2, 16, 3]]).unwrap();
        assert_eq!(single.format, "Protobuf");
        assert_eq!(single.data, [2, 8, 1, 4, 8, 2, 16, 3]);
        assert_eq!(single.rows, [1, 1]);
    }

    #[test]
    fn rendered_rows_are_cut_apart() {
        let csv = Framing::of("CSVWithNames");
        let (header, rows) = csv.split_rows(b"a,b\n1,\"x\ny\"\n2,z\n").unwrap();
        assert_eq!(header, b"a,b\n");
        assert_eq!(rows, [&b"1,\"x\ny\""[..], b"2,z"]);
        let (_, rows) = Framing::of("JSONEachRow").split_rows(b"{}\n{}\n").unwrap();
        assert_eq!(rows.len(), 2);
        assert!(Framing::of("Avro").split_rows(b"Obj").is_none());
    }

    #[test]
    fn whole_documents_are_not_joined() {
        assert!(join("Avro", &[b"Obj\x01"]).is_none());
        assert_eq!(
            join("AvroConfluent", &[b"\0\0\0\0\x01\x02"]).unwrap().rows,
            [1]
        );
    }
}
