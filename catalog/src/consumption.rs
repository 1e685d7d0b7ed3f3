//! What the catalog asks the pipelines to run: per attached Kafka table with
//! views, the table, its views, and the views into Kafka tables that fire on
//! the rows those views write. Derived from the definitions alone; uses only
//! the store's types.

use crate::store::{Definition, KafkaTableDef, QualifiedName, ViewDef};

/// A view whose destination is a Kafka table, with that table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProducingView {
    pub view: ViewDef,
    pub table: KafkaTableDef,
}

/// One Kafka table to consume, with everything its pipeline runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Consumption {
    pub table: KafkaTableDef,
    /// The views reading the table, into ClickHouse tables.
    pub views: Vec<ViewDef>,
    /// Views into Kafka tables reading the destinations of `views`: they
    /// fire on every block the pipeline inserts there.
    pub chained: Vec<ProducingView>,
    /// Views reading the table into other Kafka tables: they run over every
    /// block and produce their rows.
    pub producing: Vec<ProducingView>,
}

/// Views whose destination is a Kafka table and whose source is `source`.
pub fn producing_views(definitions: &[Definition], source: &QualifiedName) -> Vec<ProducingView> {
    definitions
        .iter()
        .filter_map(|d| match d {
            Definition::View(v) if &v.source == source => {
                definitions.iter().find_map(|t| match t {
                    Definition::KafkaTable(t) if t.name == v.destination => Some(ProducingView {
                        view: v.clone(),
                        table: t.clone(),
                    }),
                    _ => None,
                })
            }
            _ => None,
        })
        .collect()
}

/// Attached Kafka tables with at least one view, each with what its pipeline
/// runs, in the order of `definitions`.
pub fn consumptions(definitions: &[Definition]) -> Vec<Consumption> {
    let mut found: Vec<Consumption> = definitions
        .iter()
        .filter_map(|d| match d {
            Definition::KafkaTable(t) if t.attached => Some(Consumption {
                table: t.clone(),
                views: Vec::new(),
                chained: Vec::new(),
                producing: producing_views(definitions, &t.name),
            }),
            _ => None,
        })
        .collect();
    let is_kafka_table = |name: &QualifiedName| {
        definitions
            .iter()
            .any(|d| matches!(d, Definition::KafkaTable(t) if &t.name == name))
    };
    for d in definitions {
        if let Definition::View(v) = d {
            if let Some(c) = found.iter_mut().find(|c| c.table.name == v.source) {
                if !is_kafka_table(&v.destination) {
                    c.views.push(v.clone());
                }
            }
        }
    }
    found.retain(|c| !c.views.is_empty() || !c.producing.is_empty());
    for c in &mut found {
        c.chained = c
            .views
            .iter()
            .flat_map(|view| producing_views(definitions, &view.destination))
            .collect();
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn table(name: &str, attached: bool) -> Definition {
        Definition::KafkaTable(KafkaTableDef {
            name: QualifiedName::new("default", name),
            columns: Vec::new(),
            settings: BTreeMap::new(),
            attached,
            collection: None,
        })
    }

    fn view(name: &str, source: &str, destination: &str) -> Definition {
        Definition::View(ViewDef {
            name: QualifiedName::new("default", name),
            source: QualifiedName::new("default", source),
            destination: QualifiedName::new("default", destination),
            select_sql: "SELECT *".into(),
            engine: Default::default(),
        })
    }

    #[test]
    fn attached_tables_with_views_are_consumed_with_their_chains() {
        let definitions = vec![
            table("q", true),
            table("idle", true),
            table("detached", false),
            table("out", true),
            view("mv", "q", "t"),
            view("dmv", "detached", "t"),
            view("out_mv", "t", "out"),
        ];
        let found = consumptions(&definitions);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].table.name.name, "q");
        assert_eq!(found[0].views.len(), 1);
        assert_eq!(found[0].chained.len(), 1);
        assert_eq!(found[0].chained[0].table.name.name, "out");
        let t = QualifiedName::new("default", "t");
        assert_eq!(producing_views(&definitions, &t).len(), 1);
        assert!(found[0].producing.is_empty());
    }

    #[test]
    fn a_view_from_a_kafka_table_into_another_produces() {
        let definitions = vec![
            table("q", true),
            table("out", true),
            view("relay", "q", "out"),
        ];
        let found = consumptions(&definitions);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].table.name.name, "q");
        assert!(found[0].views.is_empty());
        assert_eq!(found[0].producing.len(), 1);
        assert_eq!(found[0].producing[0].table.name.name, "out");
    }
}
