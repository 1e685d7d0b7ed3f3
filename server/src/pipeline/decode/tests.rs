//! The decoder's handling of rows, virtual columns and broken messages,
//! with the JSON fast path as the parser (the engine parser is tested
//! against a real engine in tests/formats.rs).

use super::*;
use arrow::array::{AsArray, ListArray};
use arrow::datatypes::{TimestampSecondType, UInt32Type, UInt64Type};

fn columns() -> Vec<ColumnDef> {
    let col = |name: &str, ty: &str| ColumnDef {
        name: name.into(),
        ty: ChType::parse(ty).unwrap(),
    };
    vec![
        col("file_time", "DateTime"),
        col("event_type", "Enum('PushEvent' = 12, 'CreateEvent' = 2)"),
        col("comment_id", "UInt64"),
        col("number", "UInt32"),
        col("labels", "Array(LowCardinality(String))"),
        col("title", "String"),
        col("maybe", "Nullable(Int32)"),
    ]
}

fn decoder(mode: ErrorMode) -> BlockDecoder {
    BlockDecoder::with_parser(
        Box::new(json::JsonParser::new(&columns())),
        &columns(),
        mode,
    )
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
fn clickhouse_json_conventions_and_virtual_columns() {
    let decoder = decoder(ErrorMode::Default);
    let batch = decoder
        .decode(
            "github",
            3,
            &[
                message(10, r#"{"file_time":"2011-02-12 00:00:00","event_type":"PushEvent","comment_id":"8093537819","number":39810,"labels":["a","b"],"title":"x"}"#),
                // Missing fields get defaults; a second row in one message.
                message(11, "{\"number\":1}\n{\"number\":2,\"maybe\":5}"),
            ],
        )
        .unwrap()
        .batch;
    assert_eq!(batch.num_rows(), 3);
    let time = batch.column(0).as_primitive::<TimestampSecondType>();
    assert_eq!(time.value(0), 1_297_468_800);
    assert_eq!(time.value(1), 0);
    let events = batch.column(1).as_string::<i32>();
    assert_eq!(events.value(0), "PushEvent");
    assert_eq!(
        events.value(1),
        "CreateEvent",
        "the lowest enum value is the default"
    );
    assert_eq!(
        batch.column(2).as_primitive::<UInt64Type>().value(0),
        8_093_537_819
    );
    assert_eq!(batch.column(3).as_primitive::<UInt32Type>().value(2), 2);
    let labels = batch
        .column(4)
        .as_any()
        .downcast_ref::<ListArray>()
        .unwrap();
    assert_eq!(labels.value_length(0), 2);
    assert_eq!(labels.value_length(1), 0);
    assert_eq!(batch.column(5).as_string::<i32>().value(1), "");
    assert!(batch.column(6).is_null(0));
    assert!(!batch.column(6).is_null(2));

    let by_name = |n: &str| batch.column(batch.schema().index_of(n).unwrap()).clone();
    let topics = by_name("_topic");
    assert_eq!(
        topics
            .as_any()
            .downcast_ref::<StringArray>()
            .unwrap()
            .value(2),
        "github"
    );
    let offsets = by_name("_offset");
    assert_eq!(offsets.as_primitive::<UInt64Type>().values(), &[10, 11, 11]);
    assert_eq!(
        by_name("_partition").as_primitive::<UInt64Type>().value(0),
        3
    );
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
        .decode(
            "github",
            0,
            &[message(7, r#"{"number":1}"#), message(8, r#"{"number":"#)],
        )
        .err()
        .unwrap();
    assert_eq!(e.code, codes::INCORRECT_DATA);
    assert!(e.message.contains("offset 8"), "{e}");
    let e = decoder
        .decode("github", 0, &[message(9, r#"{"number":"many"}"#)])
        .err()
        .unwrap();
    assert_eq!(e.code, codes::INCORRECT_DATA);
}

fn block() -> Vec<Message> {
    vec![
        message(1, r#"{"number":1}"#),
        message(2, r#"{"number":"#),
        message(3, r#"{"number":3}"#),
        message(4, "not json"),
        message(5, r#"{"number":5, "file_time":"yesterday"}"#),
        message(6, r#"{"number":6}"#),
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
    let decoded = decoder(ErrorMode::Skip(3)).decode("t", 0, &block()).unwrap();
    assert_eq!(offsets(&decoded.batch), [1, 3, 6]);
    let bad: Vec<usize> = decoded.bad.iter().map(|b| b.index).collect();
    assert_eq!(bad, [1, 3, 4]);
    assert!(decoded.bad[2].error.contains("yesterday"), "{:?}", decoded.bad);
    // One more broken message than allowed fails the block, as without skipping.
    let e = decoder(ErrorMode::Skip(2)).decode("t", 0, &block()).err().unwrap();
    assert!(e.message.contains("kafka_skip_broken_messages = 2"), "{e}");
    assert!(e.message.contains("offset 5"), "{e}");
    assert!(decoder(ErrorMode::Default).decode("t", 0, &block()).is_err());
}

#[test]
fn stream_mode_makes_a_row_of_defaults_per_broken_message() {
    let decoded = decoder(ErrorMode::Stream).decode("t", 0, &block()).unwrap();
    let batch = decoded.batch;
    assert_eq!(offsets(&batch), [1, 2, 3, 4, 5, 6]);
    let column = |name: &str| batch.column(batch.schema().index_of(name).unwrap()).clone();
    let numbers = column("number");
    assert_eq!(numbers.as_primitive::<UInt32Type>().values(), &[1, 0, 3, 0, 0, 6]);
    let errors = column("_error");
    let errors = errors.as_string::<i32>();
    let raw = column("_raw_message");
    let raw = raw.as_string::<i32>();
    for row in [0, 2, 5] {
        assert_eq!((errors.value(row), raw.value(row)), ("", ""));
    }
    assert!(errors.value(1).contains("JSONEachRow"), "{}", errors.value(1));
    assert_eq!(raw.value(3), "not json");
    assert!(column("maybe").is_null(1), "a Nullable's default is NULL");
    assert_eq!(column("event_type").as_string::<i32>().value(1), "CreateEvent");
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
    let all_bad = [message(1, "x"), message(2, "{")];
    let decoded = decoder(ErrorMode::DeadLetterQueue).decode("t", 0, &all_bad).unwrap();
    assert_eq!(decoded.batch.num_rows(), 0);
    assert_eq!(decoded.bad.len(), 2);
}

#[test]
fn invalid_utf8_breaks_its_message() {
    let mut bad = message(2, "");
    bad.payload = b"{\"title\":\"\xff\xfe\"}".to_vec();
    let block = [message(1, r#"{"number":1}"#), bad];
    let decoded = decoder(ErrorMode::DeadLetterQueue).decode("t", 0, &block).unwrap();
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
        .decode("t", 0, &[message(1, "a,b\nc"), message(2, ""), message(3, "x")])
        .unwrap()
        .batch;
    let raw = batch.column(0).as_string::<i32>();
    // An empty message has no rows, as in ClickHouse.
    assert_eq!((raw.len(), raw.value(0), raw.value(1)), (2, "a,b\nc", "x"));
}

#[test]
fn an_empty_block_has_the_full_schema() {
    let batch = decoder(ErrorMode::Default).decode("t", 0, &[]).unwrap().batch;
    assert_eq!(batch.num_rows(), 0);
    assert_eq!(batch.num_columns(), columns().len() + 8);
}
