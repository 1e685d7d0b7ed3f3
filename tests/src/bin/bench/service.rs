//! The several-instances paths: kafkahouse instances on a shared catalog
//! (`--catalog-topic`), one consumer group across them, all writing through
//! the HTTP interface of a backend kafkahouse on the embedded engine (the
//! topology of `tests/instances.rs`). One instance against three over the
//! same rows measures what coordinating a group costs.

use kafkahouse_tests::Kafkahouse;

use crate::options::Path;
use crate::paths::{Bench, Outcome};
use crate::setup::{self, Http};

impl Bench<'_> {
    /// `instances` kafkahouse processes in one group, timed from the view's
    /// creation until the backend holds every row.
    pub async fn service(&self, path: Path, instances: usize) -> Result<Outcome, String> {
        let dir = tempfile::tempdir().map_err(|e| format!("temp dir: {e}"))?;
        let backend_dir = dir.path().join("backend");
        std::fs::create_dir_all(&backend_dir).map_err(|e| format!("{e}"))?;
        let backend = setup::kafkahouse_embedded(&backend_dir);
        let backend_url = format!("http://{}", backend.http_addr);
        let catalog = format!("bench-catalog-{}", path.name());
        self.broker.create_topic(&catalog, 1);
        self.broker.create_topic(&format!("{catalog}-status"), 1);
        let level = setup::log_level();
        let servers: Vec<Kafkahouse> = (0..instances)
            .map(|i| {
                let id = format!("i{i}");
                Kafkahouse::start(
                    &dir.path().join(&id),
                    &[
                        "--clickhouse-url",
                        &backend_url,
                        "--catalog-topic",
                        &catalog,
                        "--catalog-brokers",
                        &self.broker.bootstrap,
                        "--instance-id",
                        &id,
                        "--log-level",
                        &level,
                    ],
                )
            })
            .collect();
        let client = servers[0].connect().await;
        setup::run(&client, "CREATE DATABASE KafkaEngine").await?;
        setup::run(&client, "USE KafkaEngine").await?;
        // A remote destination keeps tokens only with a window of its own.
        let table = kafkahouse_tests::fixture("sql/github_mergetree.sql");
        let table = format!(
            "{} SETTINGS non_replicated_deduplication_window = 1000",
            table.trim_end().trim_end_matches(';')
        );
        setup::run(&client, &table).await?;
        let group = format!("bench-{}", path.name());
        setup::run(
            &client,
            &setup::kafkahouse_queue(&self.broker.bootstrap, &group),
        )
        .await?;
        let http = Http::new(&backend_url);
        let outcome = self
            .kafkahouse_view(path, &servers[0], &client, || {
                http.count("KafkaEngine.github")
            })
            .await;
        for (i, server) in servers.iter().enumerate() {
            setup::print_log(&format!("{} instance {i}", path.name()), server);
        }
        let mut outcome = outcome?;
        outcome.notes.push(format!(
            "{}: memory is the first instance's; the backend kafkahouse runs the engine",
            path.name()
        ));
        Ok(outcome)
    }
}
