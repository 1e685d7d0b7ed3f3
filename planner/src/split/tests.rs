//! Tests of the splitter: statements, their kinds, their SQL and data.

use super::*;

fn kinds(text: &str) -> Vec<(String, Kind)> {
    split(text)
        .into_iter()
        .map(|s| (s.sql.to_string(), s.kind))
        .collect()
}

fn name(database: Option<&str>, name: &str) -> ObjectName {
    ObjectName {
        database: database.map(str::to_string),
        name: name.to_string(),
    }
}

fn plain_query() -> Kind {
    Kind::Query {
        format: None,
        tables: vec![],
        settings: vec![],
    }
}

#[test]
fn one_statement_with_or_without_semicolon() {
    for text in ["SELECT 1", "SELECT 1;", "  SELECT 1 ;  \n", "SELECT 1;;"] {
        assert_eq!(
            kinds(text),
            vec![("SELECT 1".to_string(), plain_query())],
            "{text:?}"
        );
    }
}

#[test]
fn empty_and_comment_only_text_has_no_statements() {
    assert!(split("").is_empty());
    assert!(split(" ; ;\n").is_empty());
    assert!(split("-- nothing\n/* at all */").is_empty());
}

#[test]
fn several_statements_split_on_semicolons_outside_strings() {
    let got = kinds("CREATE DATABASE KafkaEngine; USE KafkaEngine; SELECT 'a;b' AS s");
    assert_eq!(got.len(), 3);
    assert_eq!(got[0], ("CREATE DATABASE KafkaEngine".into(), Kind::Other));
    assert_eq!(
        got[1],
        (
            "USE KafkaEngine".into(),
            Kind::Use {
                database: "KafkaEngine".into()
            }
        )
    );
    assert_eq!(got[2].0, "SELECT 'a;b' AS s");
}

#[test]
fn use_accepts_quoted_names() {
    assert_eq!(
        kinds("USE `my db`")[0].1,
        Kind::Use {
            database: "my db".into()
        }
    );
}

#[test]
fn set_statements_are_parsed() {
    assert_eq!(
        kinds("SET max_threads = 4, date_time_input_format = 'best_effort', x = -1")[0].1,
        Kind::Set {
            settings: vec![
                Setting {
                    name: "max_threads".into(),
                    value: "4".into()
                },
                Setting {
                    name: "date_time_input_format".into(),
                    value: "best_effort".into()
                },
                Setting {
                    name: "x".into(),
                    value: "-1".into()
                },
            ]
        }
    );
    // Not a plain assignment: forwarded as is.
    assert_eq!(kinds("SET ROLE admin")[0].1, Kind::Other);
}

#[test]
fn output_format_is_detected_only_as_a_clause() {
    let format = |text: &str| match &kinds(text)[0].1 {
        Kind::Query { format, .. } => format.clone(),
        other => panic!("{text}: {other:?}"),
    };
    assert_eq!(
        format("SELECT count() FROM github FORMAT JSONEachRow").as_deref(),
        Some("JSONEachRow")
    );
    assert_eq!(format("SELECT format('{}', 'x')"), None);
    assert_eq!(
        format("SELECT 1 FORMAT CSV SETTINGS max_threads = 1").as_deref(),
        Some("CSV")
    );
    assert_eq!(
        kinds("SHOW TABLES")[0].1,
        Kind::ShowTables { database: None }
    );
    assert_eq!(
        kinds("SHOW TABLES FROM KafkaEngine")[0].1,
        Kind::ShowTables {
            database: Some("KafkaEngine".into())
        }
    );
    assert_eq!(
        format("SHOW TABLES LIKE 'g%' FORMAT CSV").as_deref(),
        Some("CSV")
    );
}

#[test]
fn tables_of_a_query() {
    match &kinds("SELECT * FROM KafkaEngine.github_queue AS q JOIN other o ON 1 WHERE x IN (SELECT y FROM numbers(3))")[0].1 {
        Kind::Query { tables, .. } => assert_eq!(
            tables,
            &vec![name(Some("KafkaEngine"), "github_queue"), name(None, "other")]
        ),
        other => panic!("{other:?}"),
    }
}

#[test]
fn statements_about_one_table() {
    assert_eq!(
        kinds("DESCRIBE TABLE q")[0].1,
        Kind::Describe {
            name: name(None, "q")
        }
    );
    assert_eq!(
        kinds("DESC db.q")[0].1,
        Kind::Describe {
            name: name(Some("db"), "q")
        }
    );
    assert_eq!(
        kinds("EXISTS TABLE q")[0].1,
        Kind::Exists {
            name: name(None, "q")
        }
    );
    assert_eq!(
        kinds("SHOW CREATE TABLE q")[0].1,
        Kind::ShowCreate {
            name: name(None, "q")
        }
    );
    assert_eq!(
        kinds("DROP TABLE IF EXISTS db.q SYNC")[0].1,
        Kind::Drop {
            name: name(Some("db"), "q"),
            if_exists: true
        }
    );
    assert_eq!(
        kinds("DROP VIEW github_mv")[0].1,
        Kind::Drop {
            name: name(None, "github_mv"),
            if_exists: false
        }
    );
    assert_eq!(
        kinds("DETACH TABLE github_queue")[0].1,
        Kind::Detach {
            name: name(None, "github_queue"),
            if_exists: false
        }
    );
    assert_eq!(
        kinds("ATTACH TABLE github_queue")[0].1,
        Kind::Attach {
            name: name(None, "github_queue"),
            if_not_exists: false
        }
    );
    assert_eq!(
        kinds("ALTER TABLE db.q MODIFY SETTING kafka_max_block_size = 10, kafka_format = 'CSV'")[0]
            .1,
        Kind::AlterSettings {
            name: name(Some("db"), "q"),
            modify: vec![
                Setting {
                    name: "kafka_max_block_size".into(),
                    value: "10".into()
                },
                Setting {
                    name: "kafka_format".into(),
                    value: "CSV".into()
                },
            ],
            reset: vec![],
        }
    );
    assert_eq!(
        kinds("ALTER TABLE q RESET SETTING a, b")[0].1,
        Kind::AlterSettings {
            name: name(None, "q"),
            modify: vec![],
            reset: vec!["a".into(), "b".into()],
        }
    );
    // Other ALTERs, and broken setting lists, are the backend's.
    for other in [
        "ALTER TABLE q ADD COLUMN x UInt8",
        "ALTER TABLE q RESET SETTING a,",
        "ALTER TABLE q MODIFY SETTING a",
        "ALTER TABLE q MODIFY SETTING a = 1 SETTINGS mutations_sync = 1",
    ] {
        assert_eq!(kinds(other)[0].1, Kind::Other, "{other}");
    }
    // ATTACH with a definition is ClickHouse's business.
    assert_eq!(
        kinds("ATTACH TABLE t (a UInt8) ENGINE = Memory")[0].1,
        Kind::Other
    );
    assert_eq!(
        kinds("DROP DATABASE IF EXISTS KafkaEngine")[0].1,
        Kind::DropDatabase {
            database: "KafkaEngine".into()
        }
    );
    assert!(matches!(
        &kinds("INSERT INTO db.t VALUES (1)")[0].1,
        Kind::Insert { table: Some(t), .. } if *t == name(Some("db"), "t")
    ));
    assert!(matches!(
        kinds("CREATE MATERIALIZED VIEW github_mv TO github AS SELECT * FROM github_queue")[0].1,
        Kind::CreateMaterializedView(Ok(_))
    ));
}

#[test]
fn inline_insert_data_is_not_tokenized_as_sql() {
    // A JSON string with an escaped quote and a semicolon would confuse a
    // SQL tokenizer; the data runs to the `;` that ends a line.
    let text = "INSERT INTO github FORMAT JSONEachRow {\"title\":\"a \\\"q\\\"; b\"}\n{\"title\":\"c\"};\nSELECT count() FROM github";
    let got = kinds(text);
    assert_eq!(got.len(), 2, "{got:?}");
    assert!(matches!(got[0].1, Kind::Insert { .. }));
    assert!(got[0].0.ends_with("{\"title\":\"c\"}"), "{:?}", got[0].0);
    assert_eq!(got[1].0, "SELECT count() FROM github");
}

#[test]
fn insert_values_is_sql() {
    let got = kinds("INSERT INTO t VALUES (1, 'x;y'); SELECT 1");
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].0, "INSERT INTO t VALUES (1, 'x;y')");
    let got = kinds("INSERT INTO t FORMAT Values (1, 'a'); SELECT 1");
    assert_eq!(got.len(), 2);
}

#[test]
fn insert_select_with_format_is_not_inline_data() {
    let got = kinds("INSERT INTO t SELECT * FROM s FORMAT JSONEachRow; SELECT 1");
    assert_eq!(got.len(), 2);
}

#[test]
fn view_selects_lose_their_format_and_show_their_tables() {
    let sql = "SELECT a, b\nFROM KafkaEngine.github\nFORMAT JsonEachRow;";
    assert_eq!(
        without_output_format(sql),
        "SELECT a, b\nFROM KafkaEngine.github"
    );
    assert_eq!(
        without_output_format("SELECT format(x) FROM t;"),
        "SELECT format(x) FROM t"
    );
    let refs = table_references(
        "SELECT * FROM github AS g JOIN db.other ON 1 WHERE x IN (SELECT y FROM numbers(3))",
    );
    let sql = "SELECT * FROM github AS g JOIN db.other ON 1 WHERE x IN (SELECT y FROM numbers(3))";
    let names: Vec<&str> = refs.iter().map(|(_, r)| &sql[r.clone()]).collect();
    assert_eq!(names, ["github", "db.other"]);
}

#[test]
fn insert_target_spans() {
    let sql =
        "INSERT INTO KafkaEngine.github_queue SELECT * FROM github LIMIT 100 FORMAT JSONEachRow";
    assert_eq!(
        &sql[insert_target_span(sql).unwrap()],
        "KafkaEngine.github_queue"
    );
    let sql = "insert into table `q` (a) VALUES (1)";
    assert_eq!(&sql[insert_target_span(sql).unwrap()], "`q`");
    assert!(insert_target_span("SELECT 1").is_none());
}

#[test]
fn system_sync_kafka_is_recognised() {
    assert_eq!(
        kinds("SYSTEM SYNC KAFKA db.q TIMEOUT 30")[0].1,
        Kind::SyncKafka {
            name: ObjectName {
                database: Some("db".into()),
                name: "q".into()
            },
            timeout_seconds: Some(30),
            replica: false,
        }
    );
    assert!(matches!(
        kinds("SYSTEM SYNC REPLICA q")[0].1,
        Kind::SyncKafka { replica: true, .. }
    ));
    assert!(matches!(
        kinds("system sync kafka q")[0].1,
        Kind::SyncKafka {
            timeout_seconds: None,
            ..
        }
    ));
    // Malformed: left to whoever handles Other (the backend's error).
    assert_eq!(kinds("SYSTEM SYNC KAFKA q TIMEOUT soon")[0].1, Kind::Other);
    assert_eq!(kinds("SYSTEM SYNC REPLICA t STRICT")[0].1, Kind::Other);
}

#[test]
fn named_collection_statements_are_recognised() {
    for text in [
        "CREATE NAMED COLLECTION kc AS kafka_broker_list = 'b:9092'",
        "alter named collection kc DELETE x",
        "DROP NAMED COLLECTION IF EXISTS kc",
    ] {
        assert!(
            matches!(kinds(text)[0].1, Kind::NamedCollection(Ok(_))),
            "{text}"
        );
    }
    assert!(matches!(
        kinds("CREATE TABLE q (a String) ENGINE = Kafka(kc)")[0].1,
        Kind::CreateKafkaTable(Ok(_))
    ));
    assert!(matches!(kinds("DROP TABLE named")[0].1, Kind::Drop { .. }));
}

#[test]
fn tutorial_kafka_table_is_recognised() {
    let text = "CREATE TABLE github_queue (file_time DateTime, labels Array(LowCardinality(String)))\n   ENGINE = Kafka('kafka_host:9092', 'github', 'clickhouse',\n            'JSONEachRow') SETTINGS kafka_thread_per_consumer = 0, kafka_num_consumers = 1;";
    assert!(matches!(kinds(text)[0].1, Kind::CreateKafkaTable(Ok(_))));
    assert!(matches!(
        kinds("CREATE TABLE q (a String) ENGINE = Kafka SETTINGS kafka_broker_list = 'b:9092'")[0]
            .1,
        Kind::CreateKafkaTable(Ok(_))
    ));
    assert_eq!(
        kinds("CREATE TABLE github (a String) ENGINE = MergeTree ORDER BY a")[0].1,
        Kind::Other
    );
}

#[test]
fn untokenizable_text_goes_through_whole() {
    let got = kinds("SELECT 'unterminated; SELECT 2");
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].0, "SELECT 'unterminated; SELECT 2");
}

#[test]
fn multibyte_text_keeps_offsets_right() {
    let got = kinds("SELECT 'é€'; SELECT $1 AS ü");
    assert_eq!(got[1].0, "SELECT $1 AS ü");
}

#[test]
fn a_view_is_read_once_with_its_source_select_and_format() {
    let text = "CREATE MATERIALIZED VIEW db.mv TO out AS SELECT a, 'it\\'s' AS b FROM db.q WHERE a > 1 FORMAT JSONEachRow;";
    let Kind::CreateMaterializedView(Ok(view)) = &split(text)[0].kind else {
        panic!("not read as a view: {:?}", split(text));
    };
    assert_eq!(view.name, name(Some("db"), "mv"));
    assert_eq!(view.to, Some(name(None, "out")));
    assert_eq!(view.source, Some(name(Some("db"), "q")));
    assert_eq!(view.format.as_deref(), Some("JSONEachRow"));
    assert_eq!(
        view.select_sql,
        "SELECT a, 'it\\'s' AS b FROM db.q WHERE a > 1"
    );
    let select = view.select.as_ref().expect("the SELECT parses");
    assert!(select.to_string().contains("'it''s'"), "{select}");
    let Kind::CreateMaterializedView(Ok(broken)) =
        &split("CREATE MATERIALIZED VIEW mv TO t AS SELECT FROM WHERE")[0].kind
    else {
        panic!("not read as a view");
    };
    assert!(broken.select.is_err());
}

#[test]
fn inserts_say_what_the_client_sends() {
    let s = &split("INSERT INTO db.t (a, `b c`) FORMAT CSV")[0];
    assert_eq!(
        s.rows_from_client(),
        Some(&["a".to_string(), "b c".to_string()][..])
    );
    assert_eq!(
        s.insert_awaiting_format(),
        Some(("INSERT INTO db.t (a, `b c`)", "CSV"))
    );
    let Kind::Insert {
        target: Some(span), ..
    } = &s.kind
    else {
        panic!("{:?}", s.kind);
    };
    assert_eq!(&s.sql[span.clone()], "db.t");
    assert_eq!(
        split("INSERT INTO t VALUES")[0].rows_from_client(),
        Some(&[][..])
    );
    let inline = &split("INSERT INTO t FORMAT CSV\n1,2")[0];
    assert_eq!(inline.rows_from_client(), None);
    assert_eq!(inline.insert_awaiting_format(), None);
    assert_eq!(split("INSERT INTO t SELECT 1")[0].rows_from_client(), None);
    assert_eq!(
        split("INSERT INTO t (f(x)) VALUES")[0].rows_from_client(),
        None
    );
}

#[test]
fn a_query_s_own_settings_are_read() {
    let Kind::Query { settings, .. } =
        &split("SELECT * FROM q WHERE a IN (SELECT 1 SETTINGS x = 2) SETTINGS stream_like_engine_allow_direct_select = 1, max_threads = -1 FORMAT CSV")[0].kind
    else {
        panic!("not a query");
    };
    let pairs: Vec<(&str, &str)> = settings
        .iter()
        .map(|s| (s.name.as_str(), s.value.as_str()))
        .collect();
    assert_eq!(
        pairs,
        [
            ("stream_like_engine_allow_direct_select", "1"),
            ("max_threads", "-1")
        ]
    );
}

/// What the client sends after the statement `text`, as the native
/// frontend asks (moved here with the reading from `frontend/native.rs`).
fn awaits_of(text: &str) -> Option<Vec<String>> {
    split(text)[0].rows_from_client().map(<[String]>::to_vec)
}

#[test]
fn client_data_statements_and_their_columns() {
    assert_eq!(awaits_of("INSERT INTO t VALUES"), Some(vec![]));
    assert_eq!(
        awaits_of("INSERT INTO db.t (a, `b c`) FORMAT JSONEachRow"),
        Some(vec!["a".to_string(), "b c".to_string()])
    );
    assert_eq!(awaits_of("INSERT INTO t SELECT 1"), None);
    assert_eq!(awaits_of("INSERT INTO t VALUES (1)"), None);
}

#[test]
fn deeply_nested_view_selects_are_read_on_any_stack() {
    // The fuzzer's case: 36 nested calls overflowed a 2 MiB thread when the
    // SELECT was parsed on the caller's stack.
    let read = |depth: usize| {
        let sql = format!(
            "CREATE MATERIALIZED VIEW t TO d AS SELECT {}1{} FROM q",
            "Array(".repeat(depth),
            ")".repeat(depth)
        );
        std::thread::Builder::new()
            .stack_size(2 << 20)
            .spawn(move || match split(&sql)[0].kind.clone() {
                Kind::CreateMaterializedView(Ok(view)) => view.select.is_ok(),
                other => panic!("not a view: {other:?}"),
            })
            .expect("thread")
            .join()
            .expect("no overflow")
    };
    assert!(read(36));
    // Past the nesting kafkahouse parses: an error, not a crash.
    assert!(!read(500));
    // Nested calls that sqlparser's recursion limit does not count (the
    // fuzzer's next case overflowed even a 32 MiB stack).
    let sql = format!(
        "CREATE MATERIALIZED VIEW t TO d AS SELECT {}1{} FROM q",
        "tuple(".repeat(5000),
        ")".repeat(5000)
    );
    match &split(&sql)[0].kind {
        Kind::CreateMaterializedView(Ok(view)) => assert!(view.select.is_err()),
        other => panic!("not a view: {other:?}"),
    }
}

#[test]
fn statements_about_one_table_keep_their_output_format() {
    let split = split(
        "SHOW CREATE TABLE kq FORMAT JSONEachRow; DESCRIBE TABLE db.kq FORMAT CSV; \
         EXISTS TABLE kq FORMAT JSONEachRow; DESCRIBE TABLE kq; DESCRIBE kq SETTINGS a = 1",
    );
    let got: Vec<(&str, Option<String>)> = split
        .iter()
        .map(|s| (s.kind.name(), s.output_format()))
        .collect();
    assert_eq!(
        got,
        [
            ("ShowCreate", Some("JSONEachRow".to_string())),
            ("Describe", Some("CSV".to_string())),
            ("Exists", Some("JSONEachRow".to_string())),
            ("Describe", None),
            // Not about the table alone: the backend's.
            ("Query", None),
        ]
    );
    assert_eq!(
        split[1].kind,
        Kind::Describe {
            name: name(Some("db"), "kq")
        }
    );
}
