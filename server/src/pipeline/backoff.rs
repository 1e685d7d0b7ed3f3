//! Retry delays for the pipeline: [`Backoff`], the delay between attempts at
//! something that keeps failing (doubling from [`FIRST`] up to [`MAX`], with
//! ±20 % jitter), and [`wait`], a sleep that a stop cuts short.
//!
//! Uses only std and tokio: it is below everything else in the pipeline and
//! knows nothing of Kafka, the backend or the catalog.

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::time::Duration;

use tokio::sync::watch;

/// The first delay after a failure.
pub const FIRST: Duration = Duration::from_millis(200);
/// Longest wait between retries of a failing insert, preparation or
/// consumer: short, so that a backend or broker that comes back is used
/// within a few seconds (at 30 s the first insert after an outage came up to
/// half a minute late); a retry costs one request.
pub const MAX: Duration = Duration::from_secs(5);

/// How far a delay may stray from its nominal value, as a fraction of it:
/// consumers that failed together (a backend restart) retry apart.
const JITTER: f64 = 0.2;

/// Delays between retries: each nominal delay twice the last, from [`FIRST`]
/// up to [`MAX`]; each delay handed out is within ±20 % of its nominal one,
/// and never over [`MAX`].
#[derive(Debug, Clone)]
pub struct Backoff {
    /// The nominal delay the next call hands out.
    next: Duration,
    /// Draws so far: hashed for the jitter, so each draw differs.
    draws: u64,
    /// Randomly keyed (per process and per instance): the source of jitter
    /// without a random number crate.
    random: RandomState,
}

impl Default for Backoff {
    fn default() -> Self {
        Self::new()
    }
}

impl Backoff {
    pub fn new() -> Self {
        Self {
            next: FIRST,
            draws: 0,
            random: RandomState::new(),
        }
    }

    /// The delay before the next attempt; the one after will be twice as long
    /// (up to [`MAX`]).
    pub fn next_delay(&mut self) -> Duration {
        let nominal = self.next;
        self.next = (self.next * 2).min(MAX);
        self.draws += 1;
        // A uniform number in [0, 1) from the top 53 bits of the hash.
        let unit = (self.random.hash_one(self.draws) >> 11) as f64 / (1u64 << 53) as f64;
        let factor = 1.0 - JITTER + 2.0 * JITTER * unit;
        nominal.mul_f64(factor).min(MAX)
    }

    /// Back to [`FIRST`]: the next failure is a new run of failures.
    pub fn reset(&mut self) {
        self.next = FIRST;
    }

    /// Waits the next delay, unless a stop comes first.
    pub async fn wait(&mut self, stop: &mut watch::Receiver<bool>) -> Result<(), Stopped> {
        let delay = self.next_delay();
        wait(stop, delay).await
    }
}

/// The stop signal came: whoever waited should end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stopped;

/// Waits `duration`, unless a stop comes first (or has already come).
pub async fn wait(stop: &mut watch::Receiver<bool>, duration: Duration) -> Result<(), Stopped> {
    if *stop.borrow() {
        return Err(Stopped);
    }
    tokio::select! {
        _ = stop.changed() => Err(Stopped),
        () = tokio::time::sleep(duration) => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The bounds a delay with nominal value `nominal` must fall in.
    fn bounds(nominal: Duration) -> (Duration, Duration) {
        (
            nominal.mul_f64(1.0 - JITTER),
            nominal.mul_f64(1.0 + JITTER).min(MAX),
        )
    }

    fn assert_within(delay: Duration, nominal: Duration) {
        let (low, high) = bounds(nominal);
        assert!(
            low <= delay && delay <= high,
            "{delay:?} not within {low:?}..={high:?} (nominal {nominal:?})"
        );
    }

    #[test]
    fn doubles_from_the_first_delay_up_to_the_cap() {
        let mut backoff = Backoff::new();
        let mut nominal = FIRST;
        for _ in 0..20 {
            assert_within(backoff.next_delay(), nominal);
            nominal = (nominal * 2).min(MAX);
        }
        // 200 ms doubled 5 times is past 5 s: capped from there on.
        assert_eq!(nominal, MAX);
    }

    #[test]
    fn never_over_the_cap() {
        let mut backoff = Backoff::new();
        for _ in 0..1000 {
            assert!(backoff.next_delay() <= MAX);
        }
        assert_within(backoff.next_delay(), MAX);
    }

    #[test]
    fn reset_starts_over() {
        let mut backoff = Backoff::new();
        for _ in 0..10 {
            backoff.next_delay();
        }
        backoff.reset();
        assert_within(backoff.next_delay(), FIRST);
        assert_within(backoff.next_delay(), FIRST * 2);
    }

    #[test]
    fn jitter_stays_within_a_fifth_and_varies() {
        let delays: Vec<Duration> = (0..200)
            .map(|_| {
                let mut backoff = Backoff::new();
                backoff.next_delay()
            })
            .collect();
        for d in &delays {
            assert_within(*d, FIRST);
        }
        let (min, max) = (delays.iter().min(), delays.iter().max());
        assert!(min < max, "no jitter: {min:?}");
    }

    #[tokio::test]
    async fn a_stop_cuts_the_wait_short() {
        let (tx, mut rx) = watch::channel(false);
        assert_eq!(wait(&mut rx, Duration::from_millis(1)).await, Ok(()));
        let waiting = tokio::spawn(async move { wait(&mut rx, Duration::from_secs(3600)).await });
        let _ = tx.send(true);
        let waited = tokio::time::timeout(Duration::from_secs(10), waiting).await;
        assert!(matches!(waited, Ok(Ok(Err(Stopped)))), "{waited:?}");

        let (_tx, mut stopped) = watch::channel(true);
        assert_eq!(Backoff::new().wait(&mut stopped).await, Err(Stopped));
    }
}
