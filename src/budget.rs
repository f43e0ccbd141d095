//! `RetryBudget`: a token bucket shared by wrappers, spent by retries, refilled by successes.
//!
//! # Why this model
//!
//! A budget bounds what retries add to a struggling provider. Two families
//! exist: a ratio of retries to calls over a sliding time window with a
//! floor (Finagle and tower's `TpsBudget`: 10 s, 20 %, 10 retries/s; Envoy:
//! 20 % of active requests, at least 3), and a token bucket refilled by
//! successes (the AWS SDKs' retry quota: 500 tokens, 5 per retry, 10 per
//! timeout retry, a refund when a retry succeeds; gRPC's retry throttling is
//! the same idea with a half-full threshold). We take the token bucket:
//!
//! - it needs no clock, so it is exact and deterministic under a paused or
//!   simulated clock, and costs one atomic word;
//! - it is sized by events, not by time, so it adapts to any call rate
//!   without a window to tune;
//! - with the defaults (500 tokens, 5 per retry, 1 back per first-try
//!   success) a sustained failure can spend at most one retry per five
//!   successful calls (20 %, the same share as the window budgets) plus a
//!   burst of 100 retries, and a total outage costs at most 100 retries
//!   across every wrapper sharing the budget before retries stop.
//!
//! A retry whose call then succeeds gets its tokens back (as in the AWS
//! SDKs): retries that work are free, retries that feed an outage are not.

use crabllm_core::Error;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// Default tokens in a full budget: a burst of 100 retries at the default cost.
pub const DEFAULT_CAPACITY: u64 = 500;
/// Default tokens one retry after an error costs.
pub const DEFAULT_RETRY_COST: u64 = 5;
/// Default tokens one retry after a timeout costs: a timeout held a
/// connection for the whole attempt, so it weighs double.
pub const DEFAULT_TIMEOUT_COST: u64 = 10;
/// Default tokens a call that succeeds on its first attempt puts back.
pub const DEFAULT_SUCCESS_REFILL: u64 = 1;

/// A retry budget: a token bucket shared by every clone, and by every
/// wrapper it is given to.
///
/// Each retry withdraws [`retry_cost`](Self::retry_cost) tokens
/// ([`timeout_cost`](Self::timeout_cost) after a timeout); if the bucket
/// holds fewer, the retry is refused and the call ends with its last error
/// ([`GiveUp::Budget`](crate::GiveUp::Budget)). A call that succeeds puts
/// back what its retries withdrew, or [`success_refill`](Self::success_refill)
/// if it needed none; the bucket never holds more than its capacity.
///
/// Lock-free: one `AtomicU64`. A success finding the bucket full does not
/// write, so a healthy system's calls share the word read-only.
///
/// # Default
///
/// Full, [`DEFAULT_CAPACITY`] tokens, costs [`DEFAULT_RETRY_COST`] and
/// [`DEFAULT_TIMEOUT_COST`], refill [`DEFAULT_SUCCESS_REFILL`].
///
/// # Saturation
///
/// All arithmetic saturates. A capacity of 0 refuses every retry; a cost of
/// 0 makes that kind of retry free (the budget never refuses it).
///
/// # Examples
///
/// ```
/// use provider_retry::RetryBudget;
///
/// let budget = RetryBudget::new().capacity(10);
/// let shared = budget.clone();
/// assert!(budget.try_withdraw(5));
/// assert!(shared.try_withdraw(5));
/// assert!(!budget.try_withdraw(5), "both clones drew from one bucket");
/// budget.deposit(1_000);
/// assert_eq!(shared.get_tokens(), 10, "never above capacity");
/// ```
#[derive(Clone)]
pub struct RetryBudget {
    bucket: Arc<Bucket>,
}

struct Bucket {
    tokens: AtomicU64,
    capacity: u64,
    retry_cost: u64,
    timeout_cost: u64,
    success_refill: u64,
}

impl Default for RetryBudget {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for RetryBudget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = &*self.bucket;
        f.debug_struct("RetryBudget")
            .field("tokens", &self.get_tokens())
            .field("capacity", &b.capacity)
            .field("retry_cost", &b.retry_cost)
            .field("timeout_cost", &b.timeout_cost)
            .field("success_refill", &b.success_refill)
            .finish()
    }
}

impl RetryBudget {
    /// A full budget with the default sizes.
    pub fn new() -> Self {
        Self::build(
            DEFAULT_CAPACITY,
            DEFAULT_RETRY_COST,
            DEFAULT_TIMEOUT_COST,
            DEFAULT_SUCCESS_REFILL,
        )
    }

    fn build(capacity: u64, retry_cost: u64, timeout_cost: u64, success_refill: u64) -> Self {
        Self {
            bucket: Arc::new(Bucket {
                tokens: AtomicU64::new(capacity),
                capacity,
                retry_cost,
                timeout_cost,
                success_refill,
            }),
        }
    }

    fn rebuild(&self, f: impl FnOnce(&mut [u64; 4])) -> Self {
        let b = &*self.bucket;
        let mut sizes = [b.capacity, b.retry_cost, b.timeout_cost, b.success_refill];
        f(&mut sizes);
        let [capacity, retry, timeout, refill] = sizes;
        Self::build(capacity, retry, timeout, refill)
    }

    /// A full budget of `tokens`. Like every setter, this returns a new
    /// bucket: set sizes before handing clones out.
    pub fn capacity(&self, tokens: u64) -> Self {
        self.rebuild(|s| s[0] = tokens)
    }

    /// Tokens one retry after an error withdraws.
    pub fn retry_cost(&self, tokens: u64) -> Self {
        self.rebuild(|s| s[1] = tokens)
    }

    /// Tokens one retry after a timeout withdraws.
    pub fn timeout_cost(&self, tokens: u64) -> Self {
        self.rebuild(|s| s[2] = tokens)
    }

    /// Tokens a call that succeeded at once puts back.
    pub fn success_refill(&self, tokens: u64) -> Self {
        self.rebuild(|s| s[3] = tokens)
    }

    /// Tokens in the bucket now.
    pub fn get_tokens(&self) -> u64 {
        self.bucket.tokens.load(Ordering::Relaxed)
    }

    /// The most tokens the bucket holds.
    pub fn get_capacity(&self) -> u64 {
        self.bucket.capacity
    }

    /// What a retry after `error` costs.
    pub fn cost_of(&self, error: &Error) -> u64 {
        match error {
            Error::Timeout => self.bucket.timeout_cost,
            _ => self.bucket.retry_cost,
        }
    }

    /// Take `cost` tokens if the bucket holds that many; report whether it did.
    pub fn try_withdraw(&self, cost: u64) -> bool {
        if cost == 0 {
            return true;
        }
        // Relaxed: the bucket is a counter that orders no other memory.
        self.bucket
            .tokens
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |t| {
                t.checked_sub(cost)
            })
            .is_ok()
    }

    /// Put `tokens` back, up to the capacity.
    pub fn deposit(&self, tokens: u64) {
        let capacity = self.bucket.capacity;
        // A deposit that changes nothing (a full bucket, or no tokens) only
        // loads: `fetch_update` writes only when the closure returns a new
        // value, so a healthy system's calls cause no cache-line traffic.
        let _ = self
            .bucket
            .tokens
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |t| {
                let next = t.saturating_add(tokens).min(capacity);
                (next != t).then_some(next)
            });
    }

    /// Settle a call that succeeded after its retries withdrew `spent` tokens.
    pub(crate) fn succeeded(&self, spent: u64) {
        match spent {
            0 => self.deposit(self.bucket.success_refill),
            _ => self.deposit(spent),
        }
    }

    /// Whether `self` and `other` draw from the same bucket.
    pub fn shares_with(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.bucket, &other.bucket)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[derive(Debug, Clone)]
    enum Op {
        Withdraw(u64),
        Deposit(u64),
        Succeeded(u64),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            (0u64..40).prop_map(Op::Withdraw),
            (0u64..40).prop_map(Op::Deposit),
            (0u64..40).prop_map(Op::Succeeded),
            Just(Op::Withdraw(u64::MAX)),
            Just(Op::Deposit(u64::MAX)),
        ]
    }

    proptest! {
        /// The bucket behaves as the plain arithmetic says, whatever the sequence.
        #[test]
        fn matches_a_plain_model(capacity in 0u64..200, refill in 0u64..10, ops in prop::collection::vec(op(), 0..64)) {
            let budget = RetryBudget::new().capacity(capacity).success_refill(refill);
            let mut model = capacity;
            for op in ops {
                match op {
                    Op::Withdraw(c) => {
                        let ok = c <= model;
                        prop_assert_eq!(budget.try_withdraw(c), ok);
                        if ok { model -= c; }
                    }
                    Op::Deposit(n) => model = model.saturating_add(n).min(capacity),
                    Op::Succeeded(spent) => {
                        let back = if spent == 0 { refill } else { spent };
                        model = model.saturating_add(back).min(capacity);
                    }
                }
                match op {
                    Op::Deposit(n) => budget.deposit(n),
                    Op::Succeeded(s) => budget.succeeded(s),
                    Op::Withdraw(_) => {}
                }
                prop_assert_eq!(budget.get_tokens(), model);
                prop_assert!(budget.get_tokens() <= capacity);
            }
        }
    }

    #[test]
    fn zero_capacity_refuses_and_zero_cost_is_free() {
        let empty = RetryBudget::new().capacity(0);
        assert!(!empty.try_withdraw(1));
        assert!(empty.try_withdraw(0));
        empty.deposit(10);
        assert_eq!(empty.get_tokens(), 0);
    }

    #[test]
    fn timeouts_cost_their_own_price() {
        let b = RetryBudget::new().retry_cost(3).timeout_cost(7);
        assert_eq!(b.cost_of(&Error::Timeout), 7);
        assert_eq!(b.cost_of(&Error::Network("x".into())), 3);
    }

    #[test]
    fn each_setter_sets_one_size_and_debug_shows_them_all() {
        let b = RetryBudget::new()
            .capacity(50)
            .retry_cost(4)
            .timeout_cost(9)
            .success_refill(2);
        assert!(b.try_withdraw(8));
        assert_eq!(b.get_capacity(), 50);
        assert_eq!(
            format!("{b:?}"),
            "RetryBudget { tokens: 42, capacity: 50, retry_cost: 4, timeout_cost: 9, success_refill: 2 }"
        );
    }

    #[test]
    fn setters_make_a_new_bucket_and_clones_share_one() {
        let a = RetryBudget::new();
        assert!(a.shares_with(&a.clone()));
        assert!(!a.shares_with(&a.capacity(7)));
    }

    #[test]
    fn concurrent_withdrawals_never_overdraw() {
        let budget = RetryBudget::new().capacity(10_000);
        let taken: u64 = std::thread::scope(|s| {
            let handles: Vec<_> = (0..4)
                .map(|_| {
                    let b = budget.clone();
                    s.spawn(move || (0..5_000).filter(|_| b.try_withdraw(1)).count() as u64)
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).sum()
        });
        assert_eq!(taken, 10_000);
        assert_eq!(budget.get_tokens(), 0);
    }
}
