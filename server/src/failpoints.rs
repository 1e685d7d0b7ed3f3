//! Test-only fault injection without a special build: the faults named in
//! `KAFKAHOUSE_FAILPOINTS` (comma-separated) are armed once at start-up
//! (`init`), and the code where a fault can strike asks `strikes`. Unset,
//! as in every normal run, a check is one relaxed atomic load.
//!
//! Uses nothing of the crate (std only), so any module may ask; the caller
//! of `init` logs what it armed.

use std::sync::atomic::{AtomicBool, Ordering};

/// The environment variable naming the faults to inject.
pub const VARIABLE: &str = "KAFKAHOUSE_FAILPOINTS";

/// A fault the code can be asked to inject.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failpoint {
    /// The first non-empty block the pipeline decodes panics, once per
    /// process: for the test that a consumer comes back by itself.
    DecodePanicOnce,
}

static DECODE_PANIC_ONCE: AtomicBool = AtomicBool::new(false);

impl Failpoint {
    const ALL: [Failpoint; 1] = [Failpoint::DecodePanicOnce];

    /// The name `KAFKAHOUSE_FAILPOINTS` uses.
    pub fn name(self) -> &'static str {
        match self {
            Failpoint::DecodePanicOnce => "decode_panic_once",
        }
    }

    fn armed(self) -> &'static AtomicBool {
        match self {
            Failpoint::DecodePanicOnce => &DECODE_PANIC_ONCE,
        }
    }
}

/// What a failpoint list names: the known faults and the unknown names.
fn parse(list: &str) -> (Vec<Failpoint>, Vec<String>) {
    let mut known = Vec::new();
    let mut unknown = Vec::new();
    for name in list.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        match Failpoint::ALL.into_iter().find(|f| f.name() == name) {
            Some(point) => known.push(point),
            None => unknown.push(name.to_string()),
        }
    }
    (known, unknown)
}

/// Arms the faults `KAFKAHOUSE_FAILPOINTS` names; returns them and the
/// names it does not know, for the caller to log.
pub fn init() -> (Vec<Failpoint>, Vec<String>) {
    let list = std::env::var(VARIABLE).unwrap_or_default();
    let (known, unknown) = parse(&list);
    for point in &known {
        point.armed().store(true, Ordering::Relaxed);
    }
    (known, unknown)
}

/// Whether `point` strikes now. A `..Once` fault strikes the first time it
/// is asked and is disarmed by that.
pub fn strikes(point: Failpoint) -> bool {
    take(point.armed())
}

/// True once if `armed`, disarming it.
fn take(armed: &AtomicBool) -> bool {
    // The load first: a swap on every block would write a shared cache line.
    armed.load(Ordering::Relaxed) && armed.swap(false, Ordering::Relaxed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_read_and_unknown_ones_returned() {
        assert_eq!(parse(""), (vec![], vec![]));
        assert_eq!(
            parse(" decode_panic_once , nope,"),
            (vec![Failpoint::DecodePanicOnce], vec!["nope".to_string()])
        );
    }

    #[test]
    fn a_once_fault_strikes_once() {
        // A flag of its own: the process-wide one would strike the decoder
        // tests running beside this one.
        let armed = AtomicBool::new(true);
        assert!(take(&armed));
        assert!(!take(&armed));
        assert!(!take(&AtomicBool::new(false)));
    }
}
