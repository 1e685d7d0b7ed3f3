//! What the bench measures besides rows: the machine, a process's memory
//! from /proc (peak RSS, anonymous memory sampled on a background thread),
//! and the wait until a table's count reaches the rows produced.

use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// "2 cores, <CPU model>".
pub fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0);
    format!("{cores} cores, {cpu}")
}

/// A field of /proc/PID/status in kB (`VmHWM`, `VmRSS`, `RssAnon`), in MiB.
pub fn status_mib(pid: u32, field: &str) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| {
        l.strip_prefix(field)
            .is_some_and(|rest| rest.starts_with(':'))
    })?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

/// `VmHWM`: the process's peak resident memory, in MiB.
pub fn peak_rss_mib(pid: u32) -> Option<f64> {
    status_mib(pid, "VmHWM")
}

/// Resets the process's `VmHWM` to its current RSS (`clear_refs` 5), so a
/// long-lived server's peak can be read per path. Says why when it cannot.
pub fn reset_peak_rss(pid: u32) -> Result<(), String> {
    std::fs::write(format!("/proc/{pid}/clear_refs"), "5")
        .map_err(|e| format!("cannot reset the peak RSS of process {pid}: {e}"))
}

/// A process's memory before the work starts.
#[derive(Debug, Clone, Copy)]
pub struct Idle {
    pub rss_mib: f64,
    pub anon_mib: f64,
}

pub fn idle(pid: u32) -> Option<Idle> {
    Some(Idle {
        rss_mib: status_mib(pid, "VmRSS")?,
        anon_mib: status_mib(pid, "RssAnon")?,
    })
}

/// Samples a process's `RssAnon` every 50 ms on a thread, keeping the max.
pub struct AnonSampler {
    stop: Arc<AtomicBool>,
    peak_kib: Arc<AtomicU64>,
    thread: JoinHandle<()>,
    pid: u32,
}

impl AnonSampler {
    pub fn start(pid: u32) -> AnonSampler {
        let stop = Arc::new(AtomicBool::new(false));
        let peak_kib = Arc::new(AtomicU64::new(0));
        let thread = {
            let (stop, peak_kib) = (stop.clone(), peak_kib.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    if let Some(mib) = status_mib(pid, "RssAnon") {
                        peak_kib.fetch_max((mib * 1024.0) as u64, Ordering::Relaxed);
                    }
                    std::thread::sleep(Duration::from_millis(50));
                }
            })
        };
        AnonSampler {
            stop,
            peak_kib,
            thread,
            pid,
        }
    }

    /// Stops sampling; the peak `RssAnon` seen, in MiB (one last sample
    /// included), or None when the process could never be read.
    pub fn finish(self) -> Option<f64> {
        self.stop.store(true, Ordering::Relaxed);
        let _ = self.thread.join();
        if let Some(mib) = status_mib(self.pid, "RssAnon") {
            self.peak_kib
                .fetch_max((mib * 1024.0) as u64, Ordering::Relaxed);
        }
        match self.peak_kib.load(Ordering::Relaxed) {
            0 => None,
            kib => Some(kib as f64 / 1024.0),
        }
    }
}

/// How a consumer path drained the topic, from the view's creation.
#[derive(Debug, Clone, Copy)]
pub struct Drain {
    /// Until `count()` reached the rows produced.
    pub seconds: f64,
    /// Until `count()` was first above 0.
    pub first_rows: f64,
}

/// Gives up on a path after this long.
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(600);

/// Gives up on a path whose count stayed the same this long.
const STALL_TIMEOUT: Duration = Duration::from_secs(120);

/// Polls `count` every 100 ms (a count costs the server CPU too: not more
/// often) from `start` until it returns `rows`; `what` names the path in
/// the error when it never does (after `DRAIN_TIMEOUT`, or `STALL_TIMEOUT`
/// without a new row).
pub async fn drain<F, Fut>(
    what: &str,
    start: Instant,
    rows: u64,
    mut count: F,
) -> Result<Drain, String>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<u64, String>>,
{
    let mut first_rows = None;
    let (mut last_seen, mut last_change) = (0, Instant::now());
    loop {
        let seen = count().await?;
        if seen != last_seen {
            (last_seen, last_change) = (seen, Instant::now());
        }
        if first_rows.is_none() && seen > 0 {
            first_rows = Some(start.elapsed().as_secs_f64());
        }
        if seen >= rows {
            let seconds = start.elapsed().as_secs_f64();
            if seen > rows {
                eprintln!("bench: {what}: {seen} rows for {rows} produced (duplicates)");
            }
            return Ok(Drain {
                seconds,
                first_rows: first_rows.unwrap_or(seconds),
            });
        }
        if start.elapsed() > DRAIN_TIMEOUT || last_change.elapsed() > STALL_TIMEOUT {
            return Err(format!(
                "gave up at {seen} of {rows} rows after {:.0} s ({:.0} s without a new row)",
                start.elapsed().as_secs_f64(),
                last_change.elapsed().as_secs_f64()
            ));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
