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

/// Connection pairs the job keeps busy: one per running mailbox, plus the
/// extra pairs of mailboxes copying several folders at once. Extra pairs
/// are opened only while the job has fewer than `parallel_mailboxes` (or
/// `connections_per_mailbox`, if more) in all: one mailbox alone gets its
/// second pair, but 4 mailboxes running side by side already keep the
/// servers busy, and a second pair each would only cost them twice the
/// logins (50 mailboxes: 15% slower).
pub(crate) struct Pairs {
    /// (pairs open, mailboxes not started yet).
    state: tokio::sync::watch::Sender<(usize, usize)>,
    target: usize,
}

/// A pair counted in [`Pairs`] until dropped.
pub(crate) struct PairSlot<'a>(&'a Pairs);

impl Drop for PairSlot<'_> {
    fn drop(&mut self) {
        self.0
            .state
            .send_modify(|(open, _)| *open = open.saturating_sub(1));
    }
}

impl Pairs {
    pub fn new(target: usize, mailboxes: usize) -> Pairs {
        Pairs {
            state: tokio::sync::watch::Sender::new((0, mailboxes)),
            target: target.max(1),
        }
    }

    /// A starting mailbox's own pair: always granted.
    pub fn mailbox(&self) -> PairSlot<'_> {
        self.state.send_modify(|(open, queued)| {
            *open += 1;
            *queued = queued.saturating_sub(1);
        });
        PairSlot(self)
    }

    /// Whether an extra pair fits: mailboxes still to start come first.
    fn has_room(&self, (open, queued): (usize, usize)) -> bool {
        queued == 0 && open < self.target
    }

    /// An extra pair, if the job has room for one.
    pub fn extra(&self) -> Option<PairSlot<'_>> {
        let granted = self.state.send_if_modified(|s| {
            let room = self.has_room(*s);
            if room {
                s.0 += 1;
            }
            room
        });
        // Not `then_some`: a slot made and dropped would count a pair less.
        if granted {
            Some(PairSlot(self))
        } else {
            None
        }
    }

    /// Waits until the job has room for an extra pair.
    pub async fn room(&self) {
        let mut rx = self.state.subscribe();
        // Never fails: `self` holds the sender.
        let _ = rx.wait_for(|s| self.has_room(*s)).await;
    }
}

/// Gives the free pages of the heap back to the system (glibc keeps them
/// otherwise): called once a large folder's lists are dropped, so that
/// what comes next (its verification, the next folder) reuses no more
/// than it needs of what the folder took.
pub(crate) fn give_back_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        extern "C" {
            fn malloc_trim(pad: usize) -> std::ffi::c_int;
        }
        // SAFETY: malloc_trim only returns free memory to the system,
        // under glibc's own locks.
        unsafe {
            malloc_trim(0);
        }
    }
}

/// Makes glibc give large buffers back to the system when they are freed.
/// By default it raises its mmap threshold to the size of the largest block
/// freed so far (up to 32 MiB), after which message-sized buffers come from
/// its heaps, where the holes they leave keep counting as memory in use.
/// A fixed threshold of 4 MiB keeps blocks of that size and more in their
/// own mappings, so the holes stay smaller than that. (At 1 MiB, 300
/// messages of 3 MB peaked at 40 MiB instead of 49, but the page faults of
/// the new mappings cost the client 15 to 20% more CPU.)
pub(crate) fn release_large_blocks() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        static ONCE: std::sync::Once = std::sync::Once::new();
        ONCE.call_once(|| {
            extern "C" {
                fn mallopt(param: std::ffi::c_int, value: std::ffi::c_int) -> std::ffi::c_int;
            }
            /// glibc's `M_MMAP_THRESHOLD`.
            const M_MMAP_THRESHOLD: std::ffi::c_int = -3;
            // SAFETY: mallopt only changes allocator parameters; glibc
            // takes its own lock, and the value is in its allowed range.
            unsafe {
                mallopt(M_MMAP_THRESHOLD, 4 << 20);
            }
        });
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
    async fn extra_pairs_only_while_the_job_has_room() {
        let pairs = Pairs::new(2, 2);
        let a = pairs.mailbox();
        assert!(
            pairs.extra().is_none(),
            "a mailbox still to start comes first"
        );
        let b = pairs.mailbox();
        drop(b);
        let extra = pairs.extra().expect("one mailbox leaves room");
        assert!(pairs.extra().is_none());
        let b = pairs.mailbox();
        drop(extra);
        assert!(pairs.extra().is_none(), "two mailboxes fill the job");
        drop(a);
        tokio::time::timeout(Duration::from_millis(20), pairs.room())
            .await
            .expect("room once a mailbox is done");
        assert!(pairs.extra().is_some());
        drop(b);
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
