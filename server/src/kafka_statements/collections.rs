//! `CREATE | ALTER | DROP NAMED COLLECTION`: kept in kafkahouse's catalog,
//! for `ENGINE = Kafka(collection)`. An ALTER reaches the tables made from
//! the collection at once (`alter.rs`). Uses the catalog and the pipelines.

use planner::{NamedCollectionStatement, Setting};

use super::errors::catalog_error;
use super::KafkaStatements;
use crate::error::{codes, ChError};
use crate::result::{done, Outcome};

impl KafkaStatements {
    pub(super) async fn named_collection(
        &self,
        statement: &NamedCollectionStatement,
    ) -> Result<Outcome, ChError> {
        use NamedCollectionStatement as S;
        let pairs = |settings: &[Setting]| -> Vec<(String, String)> {
            settings
                .iter()
                .map(|s| (s.name.clone(), s.value.clone()))
                .collect()
        };
        // Collections of the configuration file are immutable, as
        // ClickHouse's from config.xml.
        let immutable = |name: &str| -> Result<(), ChError> {
            match self.catalog.collection(name) {
                Some(c) if c.from_config => Err(ChError::new(
                    codes::NAMED_COLLECTION_IS_IMMUTABLE,
                    format!(
                        "Cannot get collection `{name}` for modification, because collection was defined as immutable"
                    ),
                )),
                _ => Ok(()),
            }
        };
        match statement {
            S::Create {
                name,
                if_not_exists,
                params,
                not_overridable,
            } => {
                if *if_not_exists && self.catalog.collection(name).is_some() {
                    return Ok(done("CREATE NAMED COLLECTION", None));
                }
                self.catalog
                    .create_collection(catalog::NamedCollection {
                        name: name.clone(),
                        params: pairs(params).into_iter().collect(),
                        not_overridable: not_overridable.iter().cloned().collect(),
                        from_config: false,
                    })
                    .map_err(catalog_error)?;
                // Values may be secrets: only the keys are logged.
                let keys: Vec<&str> = params.iter().map(|p| p.name.as_str()).collect();
                tracing::info!(collection = %name, ?keys, "named collection created");
                Ok(done("CREATE NAMED COLLECTION", None))
            }
            S::Alter {
                name,
                if_exists,
                set,
                delete,
                not_overridable,
            } => {
                if *if_exists && self.catalog.collection(name).is_none() {
                    return Ok(done("ALTER NAMED COLLECTION", None));
                }
                immutable(name)?;
                // The collection as it will be, checked against every table
                // made from it before anything changes.
                let mut params = self
                    .catalog
                    .collection(name)
                    .map(|c| c.params)
                    .unwrap_or_default();
                params.extend(pairs(set));
                for key in delete {
                    params.remove(key);
                }
                let tables = self.tables_of_collection(name, &params)?;
                self.catalog
                    .alter_collection(name, &pairs(set), delete, not_overridable)
                    .map_err(catalog_error)?;
                let changed = tables.len();
                for table in tables {
                    self.catalog
                        .replace(catalog::Definition::KafkaTable(table))
                        .map_err(catalog_error)?;
                }
                self.pipelines.reconcile().await;
                tracing::info!(collection = %name, tables = changed, "named collection altered");
                Ok(done("ALTER NAMED COLLECTION", None))
            }
            S::Drop { name, if_exists } => {
                if *if_exists && self.catalog.collection(name).is_none() {
                    return Ok(done("DROP NAMED COLLECTION", None));
                }
                immutable(name)?;
                self.catalog.drop_collection(name).map_err(catalog_error)?;
                tracing::info!(collection = %name, "named collection dropped");
                Ok(done("DROP NAMED COLLECTION", None))
            }
        }
    }
}
