//! The job's budget of message bytes in memory: every batch takes its share
//! before it is fetched and gives it back once it is appended, so a job
//! holds at most this much message data whatever its number of mailboxes,
//! connections and batches in flight.

use tokio::sync::{Semaphore, SemaphorePermit};

/// Permits count KiB: a semaphore takes at most `u32` permits at once.
const UNIT: u64 = 1024;

pub(crate) struct Budget {
    permits: Semaphore,
    total: u32,
}

impl Budget {
    pub fn new(bytes: u64) -> Budget {
        let total = u32::try_from(bytes.div_ceil(UNIT))
            .unwrap_or(u32::MAX)
            .clamp(1, Semaphore::MAX_PERMITS as u32);
        Budget {
            permits: Semaphore::new(total as usize),
            total,
        }
    }

    /// Waits until `bytes` fit. A batch larger than the whole budget (one
    /// message larger than it) takes all of it: it waits for the others to
    /// finish and then goes alone. Waiters are served in turn, so a large
    /// batch is not overtaken forever by small ones.
    /// The share is given back when dropped.
    pub async fn take(&self, bytes: u64) -> SemaphorePermit<'_> {
        let n = u32::try_from(bytes.div_ceil(UNIT))
            .unwrap_or(u32::MAX)
            .clamp(1, self.total);
        match self.permits.acquire_many(n).await {
            Ok(p) => p,
            // The semaphore is never closed.
            Err(_) => unreachable!("the byte budget is never closed"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn a_batch_larger_than_the_budget_goes_alone() {
        let b = Budget::new(10 * UNIT);
        let small = b.take(4 * UNIT).await;
        // Waits for the small batch to be appended, then takes everything.
        let big = b.take(1_000 * UNIT);
        tokio::pin!(big);
        assert!(tokio::time::timeout(Duration::from_millis(20), &mut big)
            .await
            .is_err());
        drop(small);
        let big = big.await;
        assert!(tokio::time::timeout(Duration::from_millis(20), b.take(1))
            .await
            .is_err());
        drop(big);
        let _ = b.take(10 * UNIT).await;
    }

    #[tokio::test]
    async fn shares_fit_side_by_side_up_to_the_budget() {
        let b = Budget::new(10 * UNIT);
        let _a = b.take(5 * UNIT).await;
        let _b = b.take(5 * UNIT - 1).await;
        assert!(tokio::time::timeout(Duration::from_millis(20), b.take(1))
            .await
            .is_err());
    }
}
