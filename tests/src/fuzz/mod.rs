//! The fuzz targets' shared driver (issue 10) and the SQL-ish input
//! generators they have in common.
//!
//! Every target is one test function that calls [`run`] with a proptest
//! strategy and a property. Without `KAFKAHOUSE_FUZZ_SECONDS` a target runs
//! [`Target::cases`] cases, a few seconds' worth, as part of `cargo test`;
//! with `KAFKAHOUSE_FUZZ_SECONDS=N` it keeps drawing new cases from new seeds
//! until N seconds have passed (`scripts/fuzz`). Either way it prints how
//! many cases ran, and a failure fails the test with proptest's minimal
//! failing input, where it panicked and how to run it again
//! (`KAFKAHOUSE_FUZZ_SEED`, `KAFKAHOUSE_FUZZ_CASES`).
//!
//! Each case runs on a thread of its own with a fixed stack (that of a tokio
//! worker, where the server parses), so that stack depth is the same in
//! every run. Targets whose code under test could abort the process (a stack
//! overflow, a failed allocation) run their cases in a child process
//! ([`Target::fork`]): a crash then fails the target with its input instead
//! of ending the test binary.
//!
//! `planner/tests/fuzz.rs` includes this module with `#[path]`, so it may use
//! nothing but std and proptest.

#![allow(dead_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::{Cell, RefCell};
use std::collections::hash_map::RandomState;
use std::fmt;
use std::hash::{BuildHasher, Hasher};
use std::panic::{self, AssertUnwindSafe};
use std::sync::Once;
use std::time::{Duration, Instant};

use proptest::strategy::Strategy;
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestError, TestRng, TestRunner};

/// Seconds to fuzz each target for; unset means the bounded run of `cargo test`.
pub const SECONDS_ENV: &str = "KAFKAHOUSE_FUZZ_SECONDS";
/// The seed of the first batch, to run a reported failure again.
pub const SEED_ENV: &str = "KAFKAHOUSE_FUZZ_SEED";
/// Cases per batch, with `KAFKAHOUSE_FUZZ_SEED`, to run a reported failure again.
pub const CASES_ENV: &str = "KAFKAHOUSE_FUZZ_CASES";
/// Set: a forked target runs its cases in this process (to debug a failure).
pub const IN_PROCESS_ENV: &str = "KAFKAHOUSE_FUZZ_IN_PROCESS";

/// The stack of a tokio worker thread, where the server does its parsing.
pub const CASE_STACK: usize = 2 << 20;

/// How one target runs.
#[derive(Debug, Clone, Copy)]
pub struct Target {
    /// The test function's name (`cargo test -- --exact NAME` runs it alone).
    pub name: &'static str,
    /// `module_path!()` where the test function is (a forked child runs it).
    pub module: &'static str,
    /// Cases in the bounded run.
    pub cases: u32,
    /// Whether cases run in a child process (see the module's doc).
    pub fork: bool,
    /// Stack size of the thread each case runs on.
    pub stack: usize,
}

impl Target {
    pub const fn new(name: &'static str, module: &'static str, cases: u32) -> Target {
        Target {
            name,
            module,
            cases,
            fork: false,
            stack: CASE_STACK,
        }
    }

    /// Cases run in a child process, so that a crash fails only the target.
    pub const fn forked(mut self) -> Target {
        self.fork = true;
        self
    }
}

/// Stack of the thread that generates cases: proptest's value trees for
/// nested strategies recurse deeply in a debug build.
const GENERATOR_STACK: usize = 256 << 20;

/// Runs `test` on cases from the strategy `strategy()` makes, as the
/// environment asks (see the module's doc), and panics with the minimal
/// failing input on a failure. A panic in `test` is a failure; so is an `Err`.
pub fn run<S>(
    target: &Target,
    strategy: impl FnOnce() -> S + Send,
    test: impl Fn(S::Value) -> Result<(), TestCaseError> + Sync,
) where
    S: Strategy,
    S::Value: Send + Clone,
{
    install_panic_hook();
    std::thread::scope(|scope| {
        let driver = std::thread::Builder::new()
            .name(target.name.to_string())
            .stack_size(GENERATOR_STACK)
            .spawn_scoped(scope, || drive(target, strategy(), &test))
            .expect("spawn the fuzz driver's thread");
        if let Err(panic) = driver.join() {
            panic::resume_unwind(panic);
        }
    });
}

fn drive<S>(target: &Target, strategy: S, test: &(impl Fn(S::Value) -> Result<(), TestCaseError> + Sync))
where
    S: Strategy,
    S::Value: Send + Clone,
{
    let seconds: Option<u64> = env_number(SECONDS_ENV);
    let fixed_seed: Option<u64> = env_number(SEED_ENV);
    let fixed_cases: Option<u32> = env_number(CASES_ENV);
    // A forked child reruns this function up to its first batch, which it
    // replays; it must compute that batch's size as the parent did.
    let in_child = std::env::var_os("RUSTY_FORK_OCCURS").is_some();
    let say = |text: String| {
        if !in_child {
            println!("{}: {text}", target.name);
        }
    };
    let started = Instant::now();
    let deadline = seconds.map(|s| started + Duration::from_secs(s));
    let mut total: u64 = 0;
    let mut batch = match fixed_cases {
        Some(n) => n,
        // Every batch of a forked target has the size a fresh process
        // computes for its first one.
        None if forks(target) && seconds.is_some() => target.cases.saturating_mul(4),
        None => target.cases,
    }
    .max(1);
    let mut seed = fixed_seed.unwrap_or_else(fresh_seed);
    // What a forked child is run as (`--exact` this): the test function.
    let test_name: &'static str = Box::leak(format!("{}::{}", target.module, target.name).into_boxed_str());
    loop {
        let batch_started = Instant::now();
        let mut runner = TestRunner::new_with_rng(config(target, test_name, batch), rng(seed));
        let result = runner.run(&strategy, |value| run_case(target.stack, || test(value)));
        match result {
            Ok(()) => total += u64::from(batch),
            Err(TestError::Abort(why)) => {
                panic!("{}: proptest gave up after {total} cases: {why}", target.name)
            }
            Err(TestError::Fail(reason, value)) => {
                fail(target, test, total, seed, batch, reason.message(), value)
            }
        }
        let Some(deadline) = deadline else { break };
        let now = Instant::now();
        if now >= deadline {
            break;
        }
        say(format!(
            "{total} cases in {:.0} s, no failure so far",
            started.elapsed().as_secs_f64()
        ));
        seed = fresh_seed();
        if !forks(target) && fixed_cases.is_none() {
            // As many cases as fit in what is left, but a report at least
            // every minute.
            let per_case = batch_started.elapsed().as_secs_f64() / f64::from(batch);
            let left = (deadline - now).min(Duration::from_secs(60)).as_secs_f64();
            batch = (left / per_case.max(1e-6)).clamp(1.0, 1_000_000.0) as u32;
        }
    }
    say(format!(
        "{total} cases in {:.1} s ({} mode), no failure",
        started.elapsed().as_secs_f64(),
        if seconds.is_some() { "timed" } else { "bounded" }
    ));
}

fn config(target: &Target, test_name: &'static str, cases: u32) -> Config {
    Config {
        cases,
        failure_persistence: None,
        fork: forks(target),
        test_name: Some(test_name),
        // Shrinking a slow target (HTTP) must end in reasonable time too.
        max_shrink_time: 180_000,
        ..Config::default()
    }
}

fn rng(seed: u64) -> TestRng {
    let mut bytes = [0u8; 32];
    for chunk in bytes.chunks_mut(8) {
        chunk.copy_from_slice(&seed.to_le_bytes());
    }
    TestRng::from_seed(RngAlgorithm::ChaCha, &bytes)
}

fn fresh_seed() -> u64 {
    let mut hasher = RandomState::new().build_hasher();
    hasher.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default(),
    );
    hasher.finish()
}

fn env_number<T: std::str::FromStr>(name: &str) -> Option<T> {
    let text = std::env::var(name).ok()?;
    match text.trim().parse() {
        Ok(n) => Some(n),
        Err(_) => panic!("{name}={text} is not a number"),
    }
}

/// Reports a failure. For a panic in this process, runs the minimal input
/// once more to show where it panicked. A forked target's failure happened
/// in a child, whose output (printed above the report) says where it
/// panicked or how it crashed; running the input again here could end this
/// process, so it is not.
fn fail<V: fmt::Debug + Send + Clone>(
    target: &Target,
    test: &(impl Fn(V) -> Result<(), TestCaseError> + Sync),
    total: u64,
    seed: u64,
    batch: u32,
    reason: &str,
    value: V,
) -> ! {
    let forked = forks(target);
    let detail = if !forked && reason.starts_with(PANICKED) {
        WANT_BACKTRACE.with(|w| w.set(true));
        let copy = value.clone();
        let again = run_case(target.stack, move || test(copy));
        WANT_BACKTRACE.with(|w| w.set(false));
        match again {
            Err(e) => format!("\nThe same input once more, with a backtrace:\n{e}"),
            Ok(()) => "\n(The minimal input passed when run once more: the failure depends on state.)"
                .to_string(),
        }
    } else if forked {
        format!(
            "\n(It failed in a child process: the child's output above says where it panicked or how it \
             crashed. {IN_PROCESS_ENV}=1 with the seed below runs the cases here, with a backtrace for a panic.)"
        )
    } else {
        String::new()
    };
    panic!(
        "{name} failed after {total} passing cases.\n\
         Minimal failing input:\n{value:#?}\n\
         Failure: {reason}{detail}\n\
         Run again: {SEED_ENV}={seed} {CASES_ENV}={batch} cargo test ... {name} -- --exact",
        name = target.name
    )
}

/// Whether `target`'s cases run in a child process.
fn forks(target: &Target) -> bool {
    target.fork && std::env::var_os(IN_PROCESS_ENV).is_none()
}

const PANICKED: &str = "panicked at ";

thread_local! {
    /// Set on the thread running a case: its panics are the target's
    /// findings, recorded instead of printed.
    static IN_CASE: Cell<bool> = const { Cell::new(false) };
    static LAST_PANIC: RefCell<Option<String>> = const { RefCell::new(None) };
    static WANT_BACKTRACE: Cell<bool> = const { Cell::new(false) };
}

fn install_panic_hook() {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if !IN_CASE.with(Cell::get) {
                return previous(info);
            }
            let message = info.payload_as_str().unwrap_or("(a non-text panic)");
            let location = info
                .location()
                .map(|l| l.to_string())
                .unwrap_or_else(|| "?".to_string());
            let mut text = format!("{PANICKED}{location}: {message}");
            if WANT_BACKTRACE.with(Cell::get) {
                text.push_str(&format!("\n{}", std::backtrace::Backtrace::force_capture()));
            }
            LAST_PANIC.with(|p| *p.borrow_mut() = Some(text));
        }));
    });
}

/// Runs one case on a thread with `stack` bytes of stack; a panic becomes a
/// failure that says where it happened.
fn run_case(stack: usize, case: impl FnOnce() -> Result<(), TestCaseError> + Send) -> Result<(), TestCaseError> {
    let want_backtrace = WANT_BACKTRACE.with(Cell::get);
    std::thread::scope(|scope| {
        let thread = std::thread::Builder::new()
            .name("fuzz case".into())
            .stack_size(stack)
            .spawn_scoped(scope, move || {
                IN_CASE.with(|c| c.set(true));
                WANT_BACKTRACE.with(|w| w.set(want_backtrace));
                let result = panic::catch_unwind(AssertUnwindSafe(case));
                IN_CASE.with(|c| c.set(false));
                result.unwrap_or_else(|payload| {
                    let recorded = LAST_PANIC.with(|p| p.borrow_mut().take());
                    Err(TestCaseError::fail(recorded.unwrap_or_else(|| {
                        let message = payload
                            .downcast_ref::<&str>()
                            .map(|s| s.to_string())
                            .or_else(|| payload.downcast_ref::<String>().cloned())
                            .unwrap_or_default();
                        format!("{PANICKED}?: {message}")
                    })))
                })
            })
            .expect("spawn a thread for the case");
        thread
            .join()
            .unwrap_or_else(|_| Err(TestCaseError::fail("the case's thread panicked")))
    })
}

/// Bytes that print as a byte string (`b"GET /\r\n..."`), not as a list of
/// numbers, in failure reports.
#[derive(Clone, PartialEq, Eq)]
pub struct Bytes(pub Vec<u8>);

impl fmt::Debug for Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "b\"")?;
        for &b in &self.0 {
            write!(f, "{}", std::ascii::escape_default(b))?;
        }
        write!(f, "\" ({} bytes)", self.0.len())
    }
}

/// The system allocator, measuring the largest single allocation the
/// current thread asks for inside [`largest_allocation`]: a decoder that
/// believes an announced length allocates it before it has the bytes. A
/// test binary opts in with `#[global_allocator]`.
pub struct TrackingAllocator;

/// Above this, a tracked allocation is announced on stderr as it happens,
/// in case it is one the system refuses (which aborts the process).
const LOUD_ALLOCATION: usize = 1 << 30;

thread_local! {
    static TRACKING: Cell<bool> = const { Cell::new(false) };
    static LARGEST: Cell<usize> = const { Cell::new(0) };
}

fn note_allocation(size: usize) {
    let _ = TRACKING.try_with(|tracking| {
        if !tracking.get() {
            return;
        }
        let _ = LARGEST.try_with(|largest| largest.set(largest.get().max(size)));
        if size > LOUD_ALLOCATION {
            tracking.set(false);
            announce(size);
            tracking.set(true);
        }
    });
}

/// Writes the size without allocating (this runs inside the allocator).
fn announce(size: usize) {
    use std::io::Write;
    let mut buf = [0u8; 96];
    let mut cursor = std::io::Cursor::new(&mut buf[..]);
    let _ = writeln!(cursor, "fuzz: the code under test asks for {size} bytes at once");
    let n = cursor.position() as usize;
    let _ = std::io::stderr().write_all(&buf[..n]);
}

unsafe impl GlobalAlloc for TrackingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note_allocation(layout.size());
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note_allocation(layout.size());
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note_allocation(new_size);
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
}

/// Runs `f` and returns what it returned with the largest single allocation
/// this thread asked for meanwhile (0 unless [`TrackingAllocator`] is the
/// global allocator).
pub fn largest_allocation<T>(f: impl FnOnce() -> T) -> (T, usize) {
    struct Stop;
    impl Drop for Stop {
        fn drop(&mut self) {
            TRACKING.with(|t| t.set(false));
        }
    }
    LARGEST.with(|l| l.set(0));
    TRACKING.with(|t| t.set(true));
    let stop = Stop;
    let value = f();
    drop(stop);
    (value, LARGEST.with(Cell::get))
}

/// Generators of SQL-ish text: keywords kafkahouse reads, names, literals
/// with every quote style, comments, placeholders, deep nesting, non-ASCII
/// and random bytes, in soups and in statement templates.
pub mod sql;
