//! Tests of the DDL readers: Kafka tables, views, named collections.

use super::*;

    const TUTORIAL_QUEUE: &str = "CREATE TABLE github_queue
(
    file_time DateTime,
    event_type Enum('CommitCommentEvent' = 1, 'CreateEvent' = 2),
    actor_login LowCardinality(String),
    labels Array(LowCardinality(String)),
    review_comments UInt32
)
   ENGINE = Kafka('kafka_host:9092', 'github', 'clickhouse',
            'JSONEachRow') SETTINGS kafka_thread_per_consumer = 0, kafka_num_consumers = 1;";

    #[test]
    fn tutorial_kafka_table() {
        let sql = TUTORIAL_QUEUE.trim_end_matches(';');
        let t = parse_create_kafka_table(sql).unwrap();
        assert!(!t.if_not_exists);
        assert_eq!(t.name.name, "github_queue");
        assert_eq!(t.columns.len(), 5);
        assert_eq!(
            t.columns[1].1,
            "Enum('CommitCommentEvent' = 1, 'CreateEvent' = 2)"
        );
        assert_eq!(
            t.columns[3],
            ("labels".into(), "Array(LowCardinality(String))".into())
        );
        assert_eq!(
            t.engine_args,
            ["kafka_host:9092", "github", "clickhouse", "JSONEachRow"]
        );
        assert_eq!(
            t.settings,
            vec![
                Setting {
                    name: "kafka_thread_per_consumer".into(),
                    value: "0".into()
                },
                Setting {
                    name: "kafka_num_consumers".into(),
                    value: "1".into()
                },
            ]
        );
    }

    #[test]
    fn settings_form_with_database_and_column_clauses() {
        let t = parse_create_kafka_table(
            "CREATE TABLE IF NOT EXISTS db.q (a String DEFAULT 'x' COMMENT 'c', `b c` Nullable(Int8)) \
             ENGINE = Kafka SETTINGS kafka_broker_list = 'b:9092', kafka_topic_list = 't', \
             kafka_group_name = 'g', kafka_format = 'JSONEachRow', kafka_max_block_size = 100",
        )
        .unwrap();
        assert!(t.if_not_exists);
        assert_eq!(t.name.database.as_deref(), Some("db"));
        assert_eq!(
            t.columns,
            vec![
                ("a".into(), "String".into()),
                ("b c".into(), "Nullable(Int8)".into())
            ]
        );
        assert!(t.engine_args.is_empty());
        assert_eq!(t.settings.len(), 5);
        assert_eq!(t.settings[4].value, "100");
    }

    #[test]
    fn columns_with_expressions_are_named() {
        use crate::ColumnExpression;
        let t = parse_create_kafka_table(
            "CREATE TABLE q (id UInt64, b UInt64 DEFAULT 7, c UInt64 DEFAULT id * 2 COMMENT 'x', \
             m String MATERIALIZED toString(id), e UInt8 EPHEMERAL, a String ALIAS toString(id), \
             z String CODEC(ZSTD(1)) COMMENT 'kept plain') ENGINE = Kafka('b:9092', 't', 'g', 'JSONEachRow')",
        )
        .unwrap();
        assert_eq!(t.columns.len(), 7);
        assert_eq!(t.columns[2], ("c".into(), "UInt64".into()));
        assert_eq!(
            t.expressions,
            vec![
                ("b".to_string(), ColumnExpression::Default),
                ("c".to_string(), ColumnExpression::Default),
                ("m".to_string(), ColumnExpression::Materialized),
                ("e".to_string(), ColumnExpression::Ephemeral),
                ("a".to_string(), ColumnExpression::Alias),
            ]
        );
    }

    #[test]
    fn malformed_definitions_say_where() {
        let e = parse_create_kafka_table("CREATE TABLE q (a) ENGINE = Kafka").unwrap_err();
        assert!(e.0.contains("column a has no type"), "{e}");
        let e = parse_create_kafka_table("CREATE TABLE q (a String) ENGINE = Kafka('x' 'y')")
            .unwrap_err();
        assert!(e.0.contains("engine arguments"), "{e}");
        let e = parse_create_kafka_table("CREATE TABLE q (a String) ENGINE = Kafka SETTINGS x")
            .unwrap_err();
        assert!(e.0.contains("'='"), "{e}");
    }

    #[test]
    fn tutorial_views() {
        let v = parse_create_materialized_view(
            "CREATE MATERIALIZED VIEW github_mv TO github AS\nSELECT *\nFROM github_queue",
        )
        .unwrap();
        assert_eq!(v.name.name, "github_mv");
        assert_eq!(v.to.as_ref().map(|t| t.name.as_str()), Some("github"));
        assert_eq!(v.select_sql, "SELECT *\nFROM github_queue");
        let v = parse_create_materialized_view(
            "CREATE MATERIALIZED VIEW IF NOT EXISTS db.mv TO db.dest (a String) AS SELECT a AS a FROM q WHERE a != 'x'",
        )
        .unwrap();
        assert!(v.if_not_exists);
        assert_eq!(v.to.unwrap().database.as_deref(), Some("db"));
        assert_eq!(v.select_sql, "SELECT a AS a FROM q WHERE a != 'x'");
        let v = parse_create_materialized_view(
            "CREATE MATERIALIZED VIEW mv ENGINE = MergeTree ORDER BY a AS SELECT 1 AS a",
        )
        .unwrap();
        assert_eq!(v.to, None);
    }

    #[test]
    fn kafka_table_from_a_named_collection_with_overrides() {
        let t = parse_create_kafka_table(
            "CREATE TABLE q (a UInt8) ENGINE = Kafka(kc, kafka_format = 'CSV', kafka_num_consumers = 2) SETTINGS kafka_max_block_size = 10",
        )
        .unwrap();
        assert!(t.engine_args.is_empty());
        let (name, overrides) = t.collection.unwrap();
        assert_eq!(name, "kc");
        assert_eq!(
            overrides,
            vec![
                Setting {
                    name: "kafka_format".into(),
                    value: "CSV".into()
                },
                Setting {
                    name: "kafka_num_consumers".into(),
                    value: "2".into()
                },
            ]
        );
        assert_eq!(t.settings.len(), 1);
        // A quoted first argument is still a broker list.
        let t = parse_create_kafka_table(
            "CREATE TABLE q (a UInt8) ENGINE = Kafka('b:9092', 't', 'g', 'JSONEachRow')",
        )
        .unwrap();
        assert!(t.collection.is_none());
        assert_eq!(t.engine_args.len(), 4);
        assert!(
            parse_create_kafka_table("CREATE TABLE q (a UInt8) ENGINE = Kafka(kc, 'x')").is_err()
        );
    }

    #[test]
    fn named_collection_statements() {
        assert_eq!(
            parse_named_collection(
                "CREATE NAMED COLLECTION IF NOT EXISTS kc ON CLUSTER c AS kafka_broker_list = 'b:9092', kafka_sasl_password = 'p' NOT OVERRIDABLE, kafka_num_consumers = 2 OVERRIDABLE"
            )
            .unwrap(),
            NamedCollectionStatement::Create {
                name: "kc".into(),
                if_not_exists: true,
                params: vec![
                    Setting { name: "kafka_broker_list".into(), value: "b:9092".into() },
                    Setting { name: "kafka_sasl_password".into(), value: "p".into() },
                    Setting { name: "kafka_num_consumers".into(), value: "2".into() },
                ],
                not_overridable: vec!["kafka_sasl_password".into()],
            }
        );
        assert_eq!(
            parse_named_collection(
                "alter named collection kc SET kafka_format = 'CSV' DELETE kafka_num_consumers"
            )
            .unwrap(),
            NamedCollectionStatement::Alter {
                name: "kc".into(),
                if_exists: false,
                set: vec![Setting {
                    name: "kafka_format".into(),
                    value: "CSV".into()
                }],
                delete: vec!["kafka_num_consumers".into()],
                not_overridable: vec![],
            }
        );
        assert_eq!(
            parse_named_collection("DROP NAMED COLLECTION IF EXISTS kc").unwrap(),
            NamedCollectionStatement::Drop {
                name: "kc".into(),
                if_exists: true
            }
        );
        assert!(parse_named_collection("ALTER NAMED COLLECTION kc").is_err());
        assert!(parse_named_collection("CREATE NAMED COLLECTION kc AS").is_err());
    }
