//! Which call an attempt belongs to, when its request cannot say.
//!
//! Every request the simulated caller makes names its call in its content
//! ([`crate::wire::requests`]), and the probe goes by that. `models()` has
//! no request, and a wrapper's own reports (the probe's `Reporter`)
//! carry none: for those the client driver runs each call inside
//! [`scope`], and [`current`] reads the call back from the thread while
//! the call's future is polled (or dropped).
//!
//! The limit: the scope belongs to the task that polls the call's future.
//! A wrapper that makes an attempt, or reports, from a task of its own
//! (spawned, or a background worker shared by every caller) is outside
//! every call's scope; such a `models()` attempt, or such a report, cannot
//! be attributed and is recorded under [`CallId::UNATTRIBUTED`]
//! (no subject here does so).
//!
//! The scope is a thread-local cell set around each poll, as tokio's
//! task-locals are, but a plain `Cell` of a `Copy` id: a call's future is
//! polled a dozen times, and tokio's `RefCell` swap with its guards cost a
//! sweep about 3 % of its time.

use crate::wire::address::CallId;
use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

thread_local! {
    /// The call whose future is being polled on this thread.
    static CALLER: Cell<Option<CallId>> = const { Cell::new(None) };
}

impl CallId {
    /// Where what no call can be found for is recorded: a client and call
    /// no workload makes.
    pub const UNATTRIBUTED: CallId = CallId::new(u32::MAX, u64::MAX);
}

pin_project_lite::pin_project! {
    /// A call's future run as its call: see [`scope`].
    pub struct Scoped<F> {
        id: CallId,
        // Dropped in the scope too: a wrapper may report as it is dropped.
        #[pin]
        call: Option<F>,
    }

    impl<F> PinnedDrop for Scoped<F> {
        fn drop(this: Pin<&mut Self>) {
            let mut this = this.project();
            let _caller = Enter::new(*this.id);
            this.call.set(None);
        }
    }
}

/// Sets the current call until dropped, then puts back what was there
/// (also when a poll panics).
struct Enter(Option<CallId>);

impl Enter {
    fn new(id: CallId) -> Self {
        Enter(CALLER.replace(Some(id)))
    }
}

impl Drop for Enter {
    fn drop(&mut self) {
        CALLER.set(self.0);
    }
}

impl<F: Future> Future for Scoped<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let mut this = self.project();
        let _caller = Enter::new(*this.id);
        let Some(call) = this.call.as_mut().as_pin_mut() else {
            // Polled after it finished: as a future may, it never ends.
            return Poll::Pending;
        };
        let done = call.poll(cx);
        if done.is_ready() {
            // What the call held is dropped in its scope, as at a drop.
            this.call.set(None);
        }
        done
    }
}

/// Run `call` as call `id`: [`current`] says `id` wherever `call` is
/// polled or dropped.
pub fn scope<F: Future>(id: CallId, call: F) -> Scoped<F> {
    Scoped {
        id,
        call: Some(call),
    }
}

/// The call being polled on this thread, if any.
pub fn current() -> Option<CallId> {
    CALLER.get()
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

    #[tokio::test]
    async fn scopes_nest_and_a_pending_call_leaves_none_behind() {
        let (outer, inner) = (CallId::new(1, 1), CallId::new(1, 2));
        let seen = scope(outer, async move {
            let nested = scope(inner, async { current() }).await;
            (nested, current())
        })
        .await;
        assert_eq!(seen, (Some(inner), Some(outer)));
        let mut pending = Box::pin(scope(outer, futures::future::pending::<()>()));
        assert!(futures::poll!(pending.as_mut()).is_pending());
        assert_eq!(current(), None);
    }

    #[test]
    fn a_call_dropped_unfinished_is_dropped_inside_its_scope() {
        struct Reports(std::rc::Rc<Cell<Option<CallId>>>);
        impl Drop for Reports {
            fn drop(&mut self) {
                self.0.set(current());
            }
        }
        let seen = std::rc::Rc::new(Cell::new(None));
        let guard = Reports(seen.clone());
        let id = CallId::new(4, 9);
        let call = scope(id, async move {
            let _guard = guard;
            futures::future::pending::<()>().await;
        });
        let mut call = Box::pin(call);
        let waker = futures::task::noop_waker();
        assert!(
            call.as_mut()
                .poll(&mut Context::from_waker(&waker))
                .is_pending()
        );
        drop(call);
        assert_eq!(seen.get(), Some(id));
        assert_eq!(current(), None);
    }
}
