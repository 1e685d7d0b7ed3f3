//! Which consumer group protocol a table's consumers speak: Kafka's
//! consumer protocol (KIP-848) where the broker has it, else the classic one.
//!
//! Under the classic protocol a new group waits for members to gather (the
//! broker's `group.initial.rebalance.delay.ms`, 3 s by default) before any
//! partition is assigned, and every rebalance stops the whole group; under
//! KIP-848 the broker assigns partitions at a member's first heartbeat and
//! moves only the ones that change owner. Brokers without it (Kafka before
//! 4.0, tansu) never assign a partition to such a consumer, and librdkafka
//! reports nothing, so a consumer that got no assignment within [`PROBE`],
//! while no other consumer of its table got any either (one left without a
//! partition is a member all the same), starts again with the classic
//! protocol, which that broker list then
//! keeps for the rest of the process. The server may also be told to use
//! one protocol only (`--kafka-group-protocol`, [`choose`]).
//!
//! Uses rdkafka's configuration only.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use rdkafka::ClientConfig;

/// How long a consumer under KIP-848 may go without an assignment before
/// its broker is taken not to have the protocol.
pub(super) const PROBE: Duration = Duration::from_secs(5);

/// Broker lists that did not assign partitions under KIP-848.
static CLASSIC: Mutex<BTreeSet<String>> = Mutex::new(BTreeSet::new());

/// Which protocol the server was told to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Choice {
    /// KIP-848 where the broker has it (tried first), else classic.
    Auto = 0,
    /// KIP-848 only (no trial: a broker without it never assigns).
    Consumer = 1,
    /// Classic only: a killed server's partitions come back after 6 s
    /// (the client's session timeout) rather than the broker's KIP-848 one.
    Classic = 2,
}

static CHOICE: AtomicU8 = AtomicU8::new(Choice::Auto as u8);

/// Sets the protocol every consumer started from now on uses.
pub fn choose(choice: Choice) {
    CHOICE.store(choice as u8, Ordering::Relaxed);
}

fn chosen() -> Choice {
    match CHOICE.load(Ordering::Relaxed) {
        1 => Choice::Consumer,
        2 => Choice::Classic,
        _ => Choice::Auto,
    }
}

/// Whether a consumer under KIP-848 is on trial (may fall back).
pub(super) fn on_trial() -> bool {
    chosen() == Choice::Auto
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Protocol {
    /// KIP-848, on trial until the first assignment.
    Consumer,
    Classic,
}

impl Protocol {
    /// The protocol to try first for `brokers`.
    pub(super) fn for_brokers(brokers: &str) -> Protocol {
        match chosen() {
            Choice::Consumer => return Protocol::Consumer,
            Choice::Classic => return Protocol::Classic,
            Choice::Auto => {}
        }
        let classic = CLASSIC.lock().unwrap_or_else(|p| p.into_inner());
        if classic.contains(brokers) {
            Protocol::Classic
        } else {
            Protocol::Consumer
        }
    }

    /// `brokers` did not assign under KIP-848: classic from now on.
    pub(super) fn classic_from_now_on(brokers: &str) {
        let mut classic = CLASSIC.lock().unwrap_or_else(|p| p.into_inner());
        classic.insert(brokers.to_string());
    }

    pub(super) fn name(self) -> &'static str {
        match self {
            Protocol::Consumer => "consumer",
            Protocol::Classic => "classic",
        }
    }

    /// The group settings of this protocol.
    pub(super) fn configure(self, config: &mut ClientConfig) {
        match self {
            // Session timeout, heartbeats and assignment are the broker's
            // under KIP-848 (librdkafka refuses the client settings).
            Protocol::Consumer => {
                config.set("group.protocol", "consumer");
            }
            Protocol::Classic => {
                config
                    // A consumer that died (SIGKILL) holds its partitions
                    // until the session times out: 6 s (the least Kafka
                    // brokers accept by default,
                    // group.min.session.timeout.ms) instead of librdkafka's
                    // 45 s lets a restarted server resume sooner. Heartbeats
                    // come from librdkafka's own thread, so busy inserts do
                    // not miss them.
                    .set("session.timeout.ms", "6000")
                    .set("heartbeat.interval.ms", "1000")
                    // A rebalance moves only the partitions that change
                    // owner; the others go on consuming (the context drops
                    // what it held of the ones that leave).
                    .set("partition.assignment.strategy", "cooperative-sticky");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_broker_list_that_failed_the_trial_stays_classic() {
        let brokers = "protocol-test-broker:9092";
        assert_eq!(Protocol::for_brokers(brokers), Protocol::Consumer);
        Protocol::classic_from_now_on(brokers);
        assert_eq!(Protocol::for_brokers(brokers), Protocol::Classic);
        assert_eq!(Protocol::for_brokers("another:9092"), Protocol::Consumer);
        let mut config = ClientConfig::new();
        Protocol::Consumer.configure(&mut config);
        assert_eq!(config.get("group.protocol"), Some("consumer"));
        assert_eq!(config.get("session.timeout.ms"), None);
        let mut config = ClientConfig::new();
        Protocol::Classic.configure(&mut config);
        assert_eq!(config.get("group.protocol"), None);
        assert_eq!(config.get("session.timeout.ms"), Some("6000"));
    }
}
