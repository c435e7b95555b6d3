//! Property-based fuzzing of the parsers (tests only): each target runs
//! random cases for a time budget, `MAILFERRY_FUZZ_SECONDS` (default 2;
//! `test.sh` gives each target a minute). A failure is shrunk to a minimal
//! input and reported with the seed that found it
//! (`MAILFERRY_FUZZ_SEED=<n>` replays it).

use std::time::{Duration, Instant};

use proptest::strategy::Strategy;
use proptest::test_runner::{Config, RngAlgorithm, TestCaseResult, TestRng, TestRunner};

/// Runs `test` on values of `strategy` until the time budget is spent.
pub(crate) fn fuzz<S: Strategy>(name: &str, strategy: S, test: impl Fn(S::Value) -> TestCaseResult)
where
    S::Value: std::fmt::Debug,
{
    let secs: f64 = std::env::var("MAILFERRY_FUZZ_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2.0);
    let base: u64 = std::env::var("MAILFERRY_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(1, |d| d.as_nanos() as u64)
        });
    let started = Instant::now();
    let deadline = started + Duration::from_secs_f64(secs);
    let (mut cases, mut round) = (0u64, 0u64);
    loop {
        let seed = base.wrapping_add(round);
        let mut bytes = [0u8; 32];
        bytes[..8].copy_from_slice(&seed.to_le_bytes());
        let config = Config {
            cases: 256,
            failure_persistence: None,
            ..Config::default()
        };
        let mut runner =
            TestRunner::new_with_rng(config, TestRng::from_seed(RngAlgorithm::ChaCha, &bytes));
        if let Err(e) = runner.run(&strategy, &test) {
            panic!("fuzz {name}: {e} (MAILFERRY_FUZZ_SEED={seed} replays it)");
        }
        cases += 256;
        round += 1;
        if Instant::now() >= deadline {
            break;
        }
    }
    let line = format!(
        "fuzz {name}: {cases} cases in {:.1} s, no failure",
        started.elapsed().as_secs_f64()
    );
    eprintln!("{line}");
    if let Ok(path) = std::env::var("MAILFERRY_FUZZ_LOG") {
        use std::io::Write;
        if let Ok(mut f) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
        {
            let _ = writeln!(f, "{line}");
        }
    }
}
