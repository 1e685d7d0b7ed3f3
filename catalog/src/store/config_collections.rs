//! Named collections from kafkahouse's configuration file: kept in the
//! catalog beside those made by queries, replaced from the file at every
//! start. Uses the catalog's state.

use std::collections::BTreeMap;

use super::{Catalog, CatalogError, NamedCollection};

impl Catalog {
    /// Makes the collections of the configuration file `from_config` the
    /// catalog's: added, replaced (a query's collection of the same name
    /// included: the file wins) or, when gone from the file, removed.
    pub fn sync_config_collections(
        &self,
        from_config: Vec<NamedCollection>,
    ) -> Result<(), CatalogError> {
        let wanted: BTreeMap<String, NamedCollection> = from_config
            .into_iter()
            .map(|mut c| {
                c.from_config = true;
                (c.name.clone(), c)
            })
            .collect();
        // Unchanged since the last start: nothing to write.
        let current: BTreeMap<String, NamedCollection> = self
            .read()
            .collections
            .iter()
            .filter(|(name, c)| c.from_config || wanted.contains_key(*name))
            .map(|(name, c)| (name.clone(), c.clone()))
            .collect();
        if current == wanted {
            return Ok(());
        }
        self.change(|state| {
            state.collections.retain(|_, c| !c.from_config);
            state.collections.extend(wanted.clone());
            Ok(())
        })
    }
}
