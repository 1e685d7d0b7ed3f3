//! The live dashboard (`/dashboard`) in a real headless browser (Debian's
//! chromium) against a running pipeline: its charts fill with points for
//! the Kafka table, the view shows its guarantee, and the screenshot in the
//! README (`docs/dashboard.png`) is taken here (written when missing, or
//! with `KAFKAHOUSE_UPDATE_SCREENSHOT=1`).

use std::path::PathBuf;
use std::process::Command;

use kafkahouse_tests::kafka::{create_ids_pipeline, id_rows, Setup, WAIT};
use kafkahouse_tests::wait_for;

/// Chromium, headless, with the page given `budget_ms` of virtual time
/// (the page polls once a second) and `args`; what it printed.
fn chromium(url: &str, budget_ms: u32, args: &[&str]) -> String {
    let profile = tempfile::tempdir().unwrap();
    let out = Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(format!("--virtual-time-budget={budget_ms}"))
        .args(args)
        .arg(url)
        .output()
        .expect("chromium (scripts/test installs it)");
    assert!(
        out.status.success(),
        "chromium: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The `data-points` of the element with id `id` in `dom`.
fn points(dom: &str, id: &str) -> usize {
    let Some(at) = dom.find(&format!("id=\"{id}\"")) else {
        return 0;
    };
    let tag_end = dom[at..].find('>').map_or(dom.len(), |e| at + e);
    let tag = &dom[at..tag_end];
    tag.split("data-points=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_charts_a_running_pipeline() {
    const PARTITIONS: i32 = 4;
    let s = Setup::new("events", PARTITIONS).await;
    create_ids_pipeline(&s, "events", "kafka_max_block_size = 200").await;
    let rows = id_rows(0, 20_000);
    s.broker
        .produce("events", PARTITIONS, &rows[..10_000])
        .await;
    wait_for(&s.client, "SELECT count() > 0 FROM dest", "1", WAIT).await;
    // More arrives while the browser watches.
    let producing = s
        .broker
        .produce_from("events", PARTITIONS, 10_000, &rows[10_000..]);

    let url = format!("http://{}/dashboard", s.server.http_addr);
    let (dom, ()) = tokio::join!(
        async {
            tokio::task::spawn_blocking({
                let url = url.clone();
                move || chromium(&url, 8_000, &["--dump-dom"])
            })
            .await
            .unwrap()
        },
        producing
    );
    let lag = points(&dom, "lag-default.q");
    let rate = points(&dom, "rows-default.q");
    assert!(
        lag >= 3 && rate >= 3,
        "lag {lag}, rows {rate} points:\n{dom}"
    );
    assert!(
        dom.contains("default.mv") && dom.contains("exactly_once"),
        "{dom}"
    );
    // uPlot drew them (its canvas and legend are in the page).
    assert!(dom.contains("<canvas") && dom.contains("u-legend"), "{dom}");
    assert!(!dom.contains("class=\"status error\""), "{dom}");

    // The README's screenshot, taken while a backlog drains.
    let shot = tempfile::tempdir().unwrap();
    let png = shot.path().join("dashboard.png");
    let more = id_rows(20_000, 120_000);
    let producing = s.broker.produce_from("events", PARTITIONS, 20_000, &more);
    let ((), ()) = tokio::join!(
        async {
            tokio::task::spawn_blocking({
                let (url, png) = (url.clone(), png.clone());
                move || {
                    chromium(
                        &url,
                        40_000,
                        &[
                            "--window-size=1280,760",
                            &format!("--screenshot={}", png.display()),
                        ],
                    );
                }
            })
            .await
            .unwrap()
        },
        producing
    );
    let bytes = std::fs::read(&png).expect("a screenshot");
    assert!(
        bytes.starts_with(b"\x89PNG") && bytes.len() > 20_000,
        "{} bytes",
        bytes.len()
    );
    // The README's copy: written when missing, or on request, so that a
    // test run leaves the working tree as it was.
    let docs = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs/dashboard.png");
    if !docs.exists() || std::env::var_os("KAFKAHOUSE_UPDATE_SCREENSHOT").is_some() {
        std::fs::write(&docs, &bytes).expect("docs/dashboard.png");
    }
    assert_eq!(
        wait_for(&s.client, "SELECT count() FROM dest", "120000", WAIT).await,
        "120000"
    );
}
