//! Which call an attempt belongs to, when its request cannot say.
//!
//! Every request the simulated caller makes names its call in its content
//! ([`crate::wire::requests`]), and the probe goes by that. `models()` has
//! no request, and a wrapper's own reports (the probe's `Reporter`)
//! carry none: for those the client driver runs each call inside
//! [`scope`], and [`current`] reads the call back from the task.
//!
//! The limit: a task-local belongs to the task that polls the call's
//! future. A wrapper that makes an attempt, or reports, from a task of its
//! own (spawned, or a background worker shared by every caller) is outside
//! every call's scope; such a `models()` attempt, or such a report, cannot
//! be attributed and is recorded under [`CallId::UNATTRIBUTED`]
//! (no subject here does so).

use crate::wire::address::CallId;
use std::future::Future;

tokio::task_local! {
    /// The call whose future is being polled.
    static CALLER: CallId;
}

impl CallId {
    /// Where what no call can be found for is recorded: a client and call
    /// no workload makes.
    pub const UNATTRIBUTED: CallId = CallId::new(u32::MAX, u64::MAX);
}

/// Run `call` as call `id`: [`current`] says `id` wherever `call` is polled.
pub async fn scope<F: Future>(id: CallId, call: F) -> F::Output {
    CALLER.scope(id, call).await
}

/// The call being polled on this task, if any.
pub fn current() -> Option<CallId> {
    CALLER.try_with(|id| *id).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_scope_names_its_call_and_only_inside_it() {
        assert_eq!(current(), None);
        let id = CallId::new(2, 5);
        assert_eq!(scope(id, async { current() }).await, Some(id));
        assert_eq!(current(), None);
    }
}
