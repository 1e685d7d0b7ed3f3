//! The decoder's handling of rows, virtual columns and broken messages,
//! with a stand-in parser (the engine parser is tested against a real
//! engine in tests/formats.rs and tests/bad_messages.rs).

use super::*;
use arrow::array::{AsArray, Int32Array, ListArray, UInt32Array};
use arrow::datatypes::{TimestampSecondType, UInt32Type, UInt64Type};

fn columns() -> Vec<ColumnDef> {
    let col = |name: &str, ty: &str| ColumnDef {
        name: name.into(),
        ty: ChType::parse(ty).unwrap(),
    };
    vec![
        col("number", "UInt32"),
        col("maybe", "Nullable(Int32)"),
        col("event_type", "Enum('PushEvent' = 12, 'CreateEvent' = 2)"),
    ]
}

/// Each line of a message is a row: a number, or `~` for NULL in `maybe`;
/// anything else breaks the message. Stands in for a format.
struct Numbers;

impl Parse for Numbers {
    fn parse(&self, messages: &[&Message]) -> Result<Parsed, ParseFailure> {
        let (mut numbers, mut maybe, mut rows) = (Vec::new(), Vec::new(), Vec::new());
        for (i, m) in messages.iter().enumerate() {
            let text = std::str::from_utf8(&m.payload).map_err(|e| ParseFailure {
                index: Some(i),
                error: broken(e.to_string()),
            })?;
            let mut n = 0;
            for line in text.lines() {
                if line == "~" {
                    numbers.push(0);
                    maybe.push(None);
                } else {
                    let v: u32 = line.parse().map_err(|_| ParseFailure {
                        index: Some(i),
                        error: broken(format!("Cannot parse '{line}'")),
                    })?;
                    numbers.push(v);
                    maybe.push(Some(v as i32));
                }
                n += 1;
            }
            rows.push(n);
        }
        let events = default_array(&columns()[2].ty, numbers.len())
            .map_err(|error| ParseFailure { index: None, error })?;
        Ok(Parsed {
            columns: vec![
                Arc::new(UInt32Array::from(numbers)),
                Arc::new(Int32Array::from(maybe)),
                events,
            ],
            rows_per_message: rows,
        })
    }
}

fn decoder(mode: ErrorMode) -> BlockDecoder {
    BlockDecoder::with_parser(Box::new(Numbers), &columns(), mode)
}

fn message(offset: i64, payload: &str) -> Message {
    Message {
        payload: payload.as_bytes().to_vec(),
        key: Some(b"k".to_vec()),
        offset,
        timestamp_ms: Some(1_700_000_000_123),
        headers: vec![("h".into(), b"v".to_vec())],
    }
}

#[test]
fn rows_carry_their_message_s_virtual_columns() {
    let batch = decoder(ErrorMode::Default)
        .decode(
            "github",
            3,
            &[message(10, "7"), message(11, "1\n~"), message(12, "")],
        )
        .unwrap()
        .batch;
    assert_eq!(batch.num_rows(), 3);
    assert_eq!(
        batch.column(0).as_primitive::<UInt32Type>().values(),
        &[7, 1, 0]
    );
    assert!(batch.column(1).is_null(2));
    let by_name = |n: &str| batch.column(batch.schema().index_of(n).unwrap()).clone();
    assert_eq!(by_name("_topic").as_string::<i32>().value(2), "github");
    assert_eq!(
        by_name("_offset").as_primitive::<UInt64Type>().values(),
        &[10, 11, 11]
    );
    assert_eq!(
        by_name("_partition").as_primitive::<UInt64Type>().value(0),
        3
    );
    assert_eq!(by_name("_key").as_string::<i32>().value(1), "k");
    assert_eq!(
        by_name("_timestamp")
            .as_primitive::<TimestampSecondType>()
            .value(0),
        1_700_000_000
    );
    let names = by_name("_headers.name");
    assert_eq!(
        names
            .as_any()
            .downcast_ref::<ListArray>()
            .unwrap()
            .value_length(1),
        1
    );
}

#[test]
fn a_broken_message_fails_the_block_with_its_offset() {
    let decoder = decoder(ErrorMode::Default);
    let e = decoder
        .decode("github", 0, &[message(7, "1"), message(8, "x")])
        .err()
        .unwrap();
    assert_eq!(e.code, codes::INCORRECT_DATA);
    assert!(e.message.contains("offset 8"), "{e}");
    let e = decoder
        .decode("github", 0, &[message(9, "many")])
        .err()
        .unwrap();
    assert_eq!(e.code, codes::INCORRECT_DATA);
}

fn block() -> Vec<Message> {
    vec![
        message(1, "1"),
        message(2, "2x"),
        message(3, "3"),
        message(4, "not a number"),
        message(5, "5\nyesterday"),
        message(6, "6"),
    ]
}

fn offsets(batch: &RecordBatch) -> Vec<u64> {
    batch
        .column(batch.schema().index_of("_offset").unwrap())
        .as_primitive::<UInt64Type>()
        .values()
        .to_vec()
}

#[test]
fn broken_messages_are_skipped_up_to_the_limit() {
    let decoded = decoder(ErrorMode::Skip(3))
        .decode("t", 0, &block())
        .unwrap();
    assert_eq!(offsets(&decoded.batch), [1, 3, 6]);
    let bad: Vec<usize> = decoded.bad.iter().map(|b| b.index).collect();
    assert_eq!(bad, [1, 3, 4]);
    assert!(
        decoded.bad[2].error.contains("yesterday"),
        "{:?}",
        decoded.bad
    );
    assert_eq!(
        decoded.bad[0].error,
        "Code: 117. DB::Exception: Cannot parse '2x'"
    );
    // The limit is per message, as in ClickHouse (its error count restarts
    // with each message): three broken messages under a limit of 1 are all
    // skipped. (Before, more than N in one block failed it: a block's fate
    // depended on where it was cut.)
    let decoded = decoder(ErrorMode::Skip(1))
        .decode("t", 0, &block())
        .unwrap();
    assert_eq!(offsets(&decoded.batch), [1, 3, 6]);
    assert!(decoder(ErrorMode::Default)
        .decode("t", 0, &block())
        .is_err());
}

#[test]
fn stream_mode_makes_a_row_of_defaults_per_broken_message() {
    let decoded = decoder(ErrorMode::Stream).decode("t", 0, &block()).unwrap();
    let batch = decoded.batch;
    assert_eq!(offsets(&batch), [1, 2, 3, 4, 5, 6]);
    let column = |name: &str| batch.column(batch.schema().index_of(name).unwrap()).clone();
    let numbers = column("number");
    assert_eq!(
        numbers.as_primitive::<UInt32Type>().values(),
        &[1, 0, 3, 0, 0, 6]
    );
    let errors = column("_error");
    let errors = errors.as_string::<i32>();
    let raw = column("_raw_message");
    let raw = raw.as_string::<i32>();
    for row in [0, 2, 5] {
        assert_eq!((errors.value(row), raw.value(row)), ("", ""));
    }
    assert!(errors.value(1).contains("2x"), "{}", errors.value(1));
    assert_eq!(raw.value(3), "not a number");
    assert!(column("maybe").is_null(1), "a Nullable's default is NULL");
    assert_eq!(
        column("event_type").as_string::<i32>().value(1),
        "CreateEvent"
    );
}

#[test]
fn dead_letter_mode_leaves_broken_messages_out_and_names_them() {
    let decoded = decoder(ErrorMode::DeadLetterQueue)
        .decode("t", 0, &block())
        .unwrap();
    assert_eq!(offsets(&decoded.batch), [1, 3, 6]);
    assert_eq!(decoded.bad.len(), 3);
    assert!(decoded.batch.schema().index_of("_error").is_err());
}

#[test]
fn a_block_of_only_broken_messages() {
    let all_bad = [message(1, "x"), message(2, "-")];
    let decoded = decoder(ErrorMode::DeadLetterQueue)
        .decode("t", 0, &all_bad)
        .unwrap();
    assert_eq!(decoded.batch.num_rows(), 0);
    assert_eq!(decoded.bad.len(), 2);
}

#[test]
fn invalid_utf8_breaks_its_message() {
    let mut bad = message(2, "");
    bad.payload = b"\xff\xfe".to_vec();
    let block = [message(1, "1"), bad];
    let decoded = decoder(ErrorMode::DeadLetterQueue)
        .decode("t", 0, &block)
        .unwrap();
    assert_eq!(offsets(&decoded.batch), [1]);
    assert_eq!(decoded.bad[0].index, 1);
}

#[test]
fn raw_blob_is_the_payload() {
    let columns = vec![ColumnDef {
        name: "raw".into(),
        ty: ChType::String,
    }];
    let decoder = BlockDecoder::with_parser(
        Box::new(RawBlob::new(&columns).unwrap()),
        &columns,
        ErrorMode::Default,
    );
    let batch = decoder
        .decode(
            "t",
            0,
            &[message(1, "a,b\nc"), message(2, ""), message(3, "x")],
        )
        .unwrap()
        .batch;
    let raw = batch.column(0).as_string::<i32>();
    // An empty message has no rows, as in ClickHouse.
    assert_eq!((raw.len(), raw.value(0), raw.value(1)), (2, "a,b\nc", "x"));
}

#[test]
fn an_empty_block_has_the_full_schema() {
    let batch = decoder(ErrorMode::Default)
        .decode("t", 0, &[])
        .unwrap()
        .batch;
    assert_eq!(batch.num_rows(), 0);
    assert_eq!(batch.num_columns(), columns().len() + 8);
    let streaming = decoder(ErrorMode::Stream)
        .decode("t", 0, &[])
        .unwrap()
        .batch;
    assert_eq!(streaming.num_columns(), columns().len() + 10);
}
