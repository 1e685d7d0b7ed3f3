//! The catalog file: definitions and collections survive reopening, errors
//! are reported. Uses the catalog and a temporary directory.

use std::collections::BTreeMap;
use std::fs;

use super::file::FILE_NAME;
use super::*;
use crate::types::ChType;

fn table(name: &str) -> Definition {
    Definition::KafkaTable(KafkaTableDef {
        name: QualifiedName::new("KafkaEngine", name),
        columns: vec![ColumnDef {
            name: "labels".into(),
            ty: ChType::parse("Array(LowCardinality(String))").unwrap(),
        }],
        settings: BTreeMap::from([
            (
                "kafka_broker_list".to_string(),
                "localhost:9092".to_string(),
            ),
            ("kafka_topic_list".to_string(), "github".to_string()),
        ]),
        attached: true,
        collection: None,
    })
}

#[test]
fn definitions_survive_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let catalog = Catalog::open(dir.path()).unwrap();
    catalog.create(table("github_queue")).unwrap();
    catalog
        .create(Definition::View(ViewDef {
            name: QualifiedName::new("KafkaEngine", "github_mv"),
            source: QualifiedName::new("KafkaEngine", "github_queue"),
            destination: QualifiedName::new("KafkaEngine", "github"),
            select_sql: "SELECT * FROM github_queue".into(),
            engine: crate::ViewEngine::ClickHouse,
        }))
        .unwrap();
    drop(catalog);

    let reopened = Catalog::open(dir.path()).unwrap();
    assert_eq!(reopened.list().len(), 2);
    assert_eq!(
        reopened.get(&QualifiedName::new("KafkaEngine", "github_queue")),
        Some(table("github_queue"))
    );
}

#[test]
fn duplicate_and_missing_names_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let catalog = Catalog::open(dir.path()).unwrap();
    catalog.create(table("q")).unwrap();
    assert!(matches!(
        catalog.create(table("q")),
        Err(CatalogError::AlreadyExists(_))
    ));
    let missing = QualifiedName::new("KafkaEngine", "nope");
    assert!(matches!(
        catalog.remove(&missing),
        Err(CatalogError::NotFound(_))
    ));
    catalog
        .remove(&QualifiedName::new("KafkaEngine", "q"))
        .unwrap();
    assert!(Catalog::open(dir.path()).unwrap().list().is_empty());
}

#[test]
fn replace_flips_attachment_on_disk() {
    let dir = tempfile::tempdir().unwrap();
    let catalog = Catalog::open(dir.path()).unwrap();
    catalog.create(table("q")).unwrap();
    let Definition::KafkaTable(mut t) = table("q") else {
        unreachable!()
    };
    t.attached = false;
    catalog.replace(Definition::KafkaTable(t)).unwrap();
    let reopened = Catalog::open(dir.path()).unwrap();
    match reopened.get(&QualifiedName::new("KafkaEngine", "q")) {
        Some(Definition::KafkaTable(t)) => assert!(!t.attached),
        other => panic!("got {other:?}"),
    }
}

#[test]
fn show_create_hides_the_sasl_password() {
    let Definition::KafkaTable(mut t) = table("q") else {
        unreachable!()
    };
    t.settings
        .insert("kafka_sasl_password".into(), "hunter2".into());
    let shown = t.show_create();
    assert!(!shown.contains("hunter2"), "{shown}");
    assert!(
        shown.contains("kafka_sasl_password = '[HIDDEN]'"),
        "{shown}"
    );
    assert!(
        shown.contains("`labels` Array(LowCardinality(String))"),
        "{shown}"
    );
}

#[test]
fn named_collections_survive_reopening_and_alter() {
    let dir = tempfile::tempdir().unwrap();
    let catalog = Catalog::open(dir.path()).unwrap();
    let params = BTreeMap::from([
        ("kafka_broker_list".to_string(), "b:9092".to_string()),
        ("kafka_format".to_string(), "CSV".to_string()),
    ]);
    catalog
        .create_collection(NamedCollection {
            name: "kc".into(),
            params: params.clone(),
            ..Default::default()
        })
        .unwrap();
    assert!(matches!(
        catalog.create_collection(NamedCollection {
            name: "kc".into(),
            params: BTreeMap::new(),
            ..Default::default()
        }),
        Err(CatalogError::CollectionExists(_))
    ));
    catalog
        .alter_collection(
            "kc",
            &[("kafka_format".into(), "JSONEachRow".into())],
            &["kafka_broker_list".into()],
            &[],
        )
        .unwrap();
    let reopened = Catalog::open(dir.path()).unwrap();
    let kc = reopened.collection("kc").unwrap();
    assert_eq!(
        kc.params,
        BTreeMap::from([("kafka_format".to_string(), "JSONEachRow".to_string())])
    );
    reopened.drop_collection("kc").unwrap();
    assert!(matches!(
        reopened.drop_collection("kc"),
        Err(CatalogError::NoCollection(_))
    ));
}

#[test]
fn a_catalog_without_named_collections_still_opens() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(
        dir.path().join(FILE_NAME),
        br#"{"version":1,"definitions":[]}"#,
    )
    .unwrap();
    assert!(Catalog::open(dir.path()).unwrap().collection("x").is_none());
}

#[test]
fn a_corrupt_file_is_reported_not_ignored() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join(FILE_NAME), b"{not json").unwrap();
    assert!(matches!(
        Catalog::open(dir.path()),
        Err(CatalogError::Corrupt { .. })
    ));
}

#[test]
fn with_a_key_secrets_are_sealed_in_the_file() {
    const KEY: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
    let key = || Some(crate::sealing::SecretKey::from_hex(KEY).unwrap());
    let dir = tempfile::tempdir().unwrap();
    let Definition::KafkaTable(mut t) = table("q") else {
        unreachable!()
    };
    t.settings
        .insert("kafka_sasl_password".into(), "hunter2".into());
    // Written without a key first: sealed as soon as a key is configured.
    Catalog::open(dir.path())
        .unwrap()
        .create(Definition::KafkaTable(t.clone()))
        .unwrap();
    let text = || fs::read_to_string(dir.path().join(FILE_NAME)).unwrap();
    assert!(text().contains("hunter2"));
    let catalog = Catalog::open_sealed(dir.path(), key()).unwrap();
    assert!(
        !text().contains("hunter2") && text().contains("sealed:v1:"),
        "{}",
        text()
    );
    assert_eq!(catalog.list(), vec![Definition::KafkaTable(t.clone())]);
    drop(catalog);
    assert_eq!(
        Catalog::open_sealed(dir.path(), key()).unwrap().list(),
        vec![Definition::KafkaTable(t)]
    );
    // Without the key the file cannot be read: an error, not a guess.
    assert!(matches!(
        Catalog::open(dir.path()),
        Err(CatalogError::Sealing(crate::sealing::SealError::NoKey))
    ));
}
