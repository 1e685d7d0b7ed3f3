//! The throughput comparison's printout: the lines the bench always printed
//! (for kafkahouse embedded), a table of every path, and the two ratios the
//! project targets.

use crate::options::Path;
use crate::paths::{mib, Outcome};

/// What was run, for the heading.
pub struct Run<'a> {
    pub machine: &'a str,
    pub rows: u64,
    pub partitions: i32,
    pub broker: &'a str,
    pub produce_secs: f64,
}

pub fn print(run: &Run, outcomes: &[Outcome], failures: &[(Path, String)]) {
    let n = run.rows as f64;
    println!("machine:           {}", run.machine);
    println!(
        "rows:              {} ({} partitions, {})",
        run.rows, run.partitions, run.broker
    );
    println!("produced in:       {:.2} s", run.produce_secs);
    // The bench's original lines, for kafkahouse on its embedded engine.
    if let Some(embedded) = find(outcomes, Path::Embedded) {
        let total = embedded.seconds;
        let streaming = total - embedded.first_rows.unwrap_or(0.0);
        println!(
            "end to end:        {total:.2} s, {:.0} rows/s (includes the consumer group join)",
            n / total
        );
        println!(
            "after first rows:  {streaming:.2} s, {:.0} rows/s",
            n / streaming.max(1e-9)
        );
        let peak = embedded.memory.and_then(|m| m.peak_rss_mib);
        println!("kafkahouse peak RSS: {:.0} MiB", peak.unwrap_or(f64::NAN));
    }

    println!();
    let ceiling = find(outcomes, Path::Ceiling).map(|c| n / c.seconds);
    println!(
        "{:<30} {:>8} {:>10} {:>9} {:>11} {:>10} {:>10} {:>12}",
        "path",
        "seconds",
        "rows/s",
        "/ceiling",
        "first rows",
        "idle RSS",
        "peak RSS",
        "anon > idle"
    );
    for o in outcomes {
        let rate = n / o.seconds;
        let ratio = ceiling.map_or_else(|| "-".to_string(), |c| format!("{:.2}x", rate / c));
        let first = o
            .first_rows
            .map_or_else(|| "-".to_string(), |s| format!("{s:.2} s"));
        let memory = o.memory.unwrap_or_default();
        println!(
            "{:<30} {:>8.2} {:>10.0} {:>9} {:>11} {:>10} {:>10} {:>12}",
            o.path.label(),
            o.seconds,
            rate,
            ratio,
            first,
            mib(memory.idle.map(|i| i.rss_mib)),
            mib(memory.peak_rss_mib),
            mib(memory.anon_above_idle()),
        );
    }
    for (path, why) in failures {
        println!("{:<30} FAILED: {why}", path.label());
    }
    println!();
    println!("seconds: consumer paths from the view's creation until count() = rows (group join");
    println!("  included); the ceiling from assign() until every partition reported its end; file");
    println!("  inserts the POST alone. first rows: until count() > 0 (ceiling: first message).");
    println!(
        "peak RSS: VmHWM (kafkahouse: its whole life, a process per path; 18.16: reset before"
    );
    println!("  each path). anon > idle: peak RssAnon sampled every 50 ms minus RssAnon before the work.");
    for note in outcomes.iter().flat_map(|o| &o.notes) {
        println!("{note}");
    }

    println!();
    target(
        "kafkahouse embedded / ClickHouse 18.16 Kafka engine",
        outcomes,
        Path::Embedded,
        Path::ChKafka,
        4.0,
    );
    target(
        "kafkahouse -> 18.16 / 18.16 file insert",
        outcomes,
        Path::Remote,
        Path::ChFile,
        0.8,
    );
    // What each backend takes as per-partition parts, with nothing else
    // running, against the same targets: no pipeline that makes those
    // parts can beat these.
    bound(
        "bound for embedded / 18.16 Kafka engine (embedded-parts / ch-kafka)",
        outcomes,
        (Path::EmbeddedParts, Path::ChKafka),
        4.0,
    );
    bound(
        "bound for remote / 18.16 file insert (ch-parts / ch-file)",
        outcomes,
        (Path::ChParts, Path::ChFile),
        0.8,
    );
    instances(outcomes);
}

/// Three instances against one, both through the same backend kafkahouse.
fn instances(outcomes: &[Outcome]) {
    if let (Some(one), Some(three)) = (
        find(outcomes, Path::Service1),
        find(outcomes, Path::Service3),
    ) {
        println!(
            "3 instances / 1 instance: {:.2}x (on a 2-core machine this measures the cost of \
             coordinating a group, not a speed-up: every process shares the same cores)",
            one.seconds / three.seconds
        );
    }
}

/// The ratio a target would have if kafkahouse were as fast as the
/// backend's own per-partition inserts, printed when both paths ran.
fn bound(what: &str, outcomes: &[Outcome], (top, bottom): (Path, Path), goal: f64) {
    if let (Some(t), Some(b)) = (find(outcomes, top), find(outcomes, bottom)) {
        let ratio = b.seconds / t.seconds;
        println!("{what}: {ratio:.2}x (the target is {goal}x)");
    }
}

fn find(outcomes: &[Outcome], path: Path) -> Option<&Outcome> {
    outcomes.iter().find(|o| o.path == path)
}

/// One of the project's target ratios (of rows/s), when both paths ran.
fn target(what: &str, outcomes: &[Outcome], top: Path, bottom: Path, goal: f64) {
    match (find(outcomes, top), find(outcomes, bottom)) {
        (Some(t), Some(b)) => {
            // Same rows, so the ratio of rates is the inverse ratio of times.
            let ratio = b.seconds / t.seconds;
            let verdict = if ratio >= goal { "met" } else { "not met" };
            println!("{what}: {ratio:.2}x (target >= {goal}x: {verdict})");
        }
        _ => println!(
            "{what}: not measured ({} and {} did not both run)",
            top.name(),
            bottom.name()
        ),
    }
}
