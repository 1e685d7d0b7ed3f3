//! The shared catalog's rule, against a log in memory that delivers records
//! to an instance only when it writes (so two instances can write without
//! having seen each other's record, as over a real network).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, Weak};

use super::*;
use crate::store::{ColumnDef, KafkaTableDef, QualifiedName};
use crate::types::ChType;

const KEY: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

#[derive(Debug, Default)]
struct Log {
    records: Mutex<Vec<Vec<u8>>>,
    /// Each instance, with the next position it has not been given yet.
    instances: Mutex<Vec<(Weak<Catalog>, usize)>>,
    key: Option<SecretKey>,
}

impl Log {
    /// Gives instance `index` every record it has not seen yet.
    fn deliver(&self, index: usize) {
        let records = self.records.lock().unwrap().clone();
        let (catalog, from) = {
            let instances = self.instances.lock().unwrap();
            (instances[index].0.upgrade().unwrap(), instances[index].1)
        };
        for (position, bytes) in records.iter().enumerate().skip(from) {
            catalog.apply_logged(
                position as u64,
                Record::decode(bytes, self.key.as_ref()).ok(),
            );
        }
        self.instances.lock().unwrap()[index].1 = records.len();
    }
}

#[derive(Debug)]
struct Writer {
    log: Arc<Log>,
    index: usize,
}

impl Journal for Writer {
    fn append(&self, records: &[Record]) -> Result<Vec<u64>, CatalogError> {
        let mut positions = Vec::new();
        for r in records {
            let bytes = r.encode(self.log.key.as_ref())?;
            let mut log = self.log.records.lock().unwrap();
            log.push(bytes);
            positions.push(log.len() as u64 - 1);
        }
        self.log.deliver(self.index);
        Ok(positions)
    }
}

fn instances(n: usize, key: Option<SecretKey>) -> (Arc<Log>, Vec<Arc<Catalog>>) {
    let log = Arc::new(Log {
        key,
        ..Log::default()
    });
    let catalogs: Vec<Arc<Catalog>> = (0..n)
        .map(|index| {
            let catalog = Arc::new(Catalog::shared(Arc::new(Writer {
                log: log.clone(),
                index,
            })));
            log.instances
                .lock()
                .unwrap()
                .push((Arc::downgrade(&catalog), 0));
            catalog
        })
        .collect();
    (log, catalogs)
}

fn table(name: &str, topic: &str) -> Definition {
    Definition::KafkaTable(KafkaTableDef {
        name: QualifiedName::new("db", name),
        columns: vec![ColumnDef {
            name: "n".into(),
            ty: ChType::parse("UInt64").unwrap(),
        }],
        settings: BTreeMap::from([
            ("kafka_broker_list".to_string(), "b:9092".to_string()),
            ("kafka_topic_list".to_string(), topic.to_string()),
        ]),
        attached: true,
        collection: None,
    })
}

#[test]
fn a_change_on_one_instance_reaches_the_others() {
    let (log, c) = instances(3, None);
    c[0].create(table("q", "t")).unwrap();
    log.deliver(1);
    log.deliver(2);
    assert_eq!(c[1].list(), vec![table("q", "t")]);
    assert_eq!(c[2].list(), vec![table("q", "t")]);
    c[2].remove(&QualifiedName::new("db", "q")).unwrap();
    log.deliver(0);
    log.deliver(1);
    assert!(c[0].list().is_empty() && c[1].list().is_empty());
}

#[test]
fn two_creates_of_one_name_the_later_fails_with_already_exists() {
    let (log, c) = instances(2, None);
    // Neither has seen the other's record when it writes.
    c[0].create(table("q", "first")).unwrap();
    let second = c[1].create(table("q", "second"));
    assert!(
        matches!(second, Err(CatalogError::AlreadyExists(_))),
        "{second:?}"
    );
    log.deliver(0);
    assert_eq!(c[0].list(), vec![table("q", "first")]);
    assert_eq!(c[1].list(), vec![table("q", "first")]);
    // The log's newest record of the object is the winner's state (all
    // that compaction keeps).
    let records = log.records.lock().unwrap();
    let last = Record::decode(records.last().unwrap(), None).unwrap();
    assert_eq!(last.value, Some(Object::Definition(table("q", "first"))));
}

#[test]
fn a_record_whose_predecessor_was_compacted_away_applies() {
    let (log, c) = instances(1, None);
    c[0].create(table("q", "t")).unwrap();
    let Definition::KafkaTable(mut detached) = table("q", "t") else {
        unreachable!()
    };
    detached.attached = false;
    c[0].replace(Definition::KafkaTable(detached.clone()))
        .unwrap();
    // A newcomer reads the compacted log: only the newest record.
    let records = log.records.lock().unwrap().clone();
    let newcomer = Catalog::shared(Arc::new(Writer {
        log: log.clone(),
        index: 0,
    }));
    newcomer.apply_logged(1, Record::decode(&records[1], None).ok());
    assert_eq!(newcomer.list(), vec![Definition::KafkaTable(detached)]);
}

#[test]
fn secrets_are_sealed_in_the_log_and_refused_without_a_key() {
    let Definition::KafkaTable(mut t) = table("q", "t") else {
        unreachable!()
    };
    t.settings
        .insert("kafka_sasl_password".into(), "hunter2".into());
    let (_, c) = instances(1, None);
    assert!(matches!(
        c[0].create(Definition::KafkaTable(t.clone())),
        Err(CatalogError::Sealing(crate::sealing::SealError::NoKey))
    ));
    assert!(c[0].list().is_empty());

    let (log, c) = instances(2, Some(SecretKey::from_hex(KEY).unwrap()));
    c[0].create(Definition::KafkaTable(t.clone())).unwrap();
    let raw = String::from_utf8(log.records.lock().unwrap()[0].clone()).unwrap();
    assert!(
        !raw.contains("hunter2") && raw.contains("sealed:v1:"),
        "{raw}"
    );
    log.deliver(1);
    assert_eq!(c[1].list(), vec![Definition::KafkaTable(t)]);
}

#[test]
fn collections_travel_but_those_of_the_configuration_file_stay_local() {
    let (log, c) = instances(2, None);
    c[0].sync_config_collections(vec![NamedCollection {
        name: "local".into(),
        ..Default::default()
    }])
    .unwrap();
    c[0].create_collection(NamedCollection {
        name: "kc".into(),
        params: BTreeMap::from([("kafka_format".to_string(), "CSV".to_string())]),
        ..Default::default()
    })
    .unwrap();
    c[0].alter_collection(
        "kc",
        &[("kafka_format".into(), "JSONEachRow".into())],
        &[],
        &[],
    )
    .unwrap();
    log.deliver(1);
    let names: Vec<String> = c[1].collections().into_iter().map(|c| c.name).collect();
    assert_eq!(names, vec!["kc".to_string()]);
    assert_eq!(
        c[1].collection("kc").unwrap().params["kafka_format"],
        "JSONEachRow"
    );
    assert!(c[0].collection("local").is_some());
}

/// Another instance's crossing create and its restatement of the winner
/// are applied before the winner looks at its own record: the winner still
/// succeeds (it did, and the restatement changed the object's version).
#[test]
fn the_winner_of_a_crossing_create_succeeds_whatever_comes_after() {
    #[derive(Debug)]
    struct Racing(Mutex<Option<Arc<Catalog>>>);
    impl Journal for Racing {
        fn append(&self, records: &[Record]) -> Result<Vec<u64>, CatalogError> {
            let catalog = self.0.lock().unwrap().clone().unwrap();
            let mine = records[0].clone();
            let theirs = Record {
                value: Some(Object::Definition(table("q", "theirs"))),
                ..mine.clone()
            };
            let restated = Record {
                expect: Some(0),
                ..mine.clone()
            };
            catalog.apply_logged(0, Some(mine));
            catalog.apply_logged(1, Some(theirs));
            catalog.apply_logged(2, Some(restated));
            Ok(vec![0])
        }
    }
    let journal = Arc::new(Racing(Mutex::new(None)));
    let catalog = Arc::new(Catalog::shared(journal.clone()));
    *journal.0.lock().unwrap() = Some(catalog.clone());
    catalog.create(table("q", "mine")).unwrap();
    assert_eq!(catalog.list(), vec![table("q", "mine")]);
}
