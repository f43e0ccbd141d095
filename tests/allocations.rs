//! The success path of a non-streaming call allocates nothing.
//!
//! A counting global allocator counts this thread's allocations around
//! calls made through `Retrying` with the default policy; the provider is the
//! overhead benches' one, which itself allocates nothing.

#[allow(dead_code)]
#[path = "../benches/support/mod.rs"]
mod support;

use crabllm_core::Provider;
use provider_retry::Retrying;
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use support::{Bench, Mode, drive, paused_clock, request};

struct Counting;

thread_local! {
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

// SAFETY: every call forwards to the system allocator unchanged; the count
// is a const-initialised thread local, which never allocates.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.with(|n| n.set(n.get() + 1));
        // SAFETY: same contract as ours.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as ours.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.with(|n| n.set(n.get() + 1));
        // SAFETY: same contract as ours.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Allocations this thread made while running `f`.
fn allocations(f: impl FnOnce()) -> u64 {
    let before = ALLOCATIONS.with(Cell::get);
    f();
    ALLOCATIONS.with(Cell::get) - before
}

/// Allocations of 100 successful calls through the wrapper, after one to
/// warm up, polled by hand: `mode` must never need the clock to advance.
fn calls(mode: Mode) -> u64 {
    let rt = paused_clock();
    let _context = rt.enter();
    let wrapper = Retrying::new(Bench::new(mode)).seed(1);
    let req = request();
    assert!(drive(wrapper.chat_completion(&req)).is_ok());
    allocations(|| {
        for _ in 0..100 {
            assert!(drive(wrapper.chat_completion(&req)).is_ok());
        }
    })
}

#[test]
fn the_counter_sees_an_allocation() {
    // Without this the zero below could mean the counter never counts.
    assert_eq!(allocations(|| drop(std::hint::black_box(Box::new(1u8)))), 1);
}

#[test]
fn a_call_answered_at_once_allocates_nothing() {
    assert_eq!(calls(Mode::Ready), 0);
}

#[test]
fn a_call_pending_once_allocates_nothing() {
    // This path arms the per-attempt timer: registering it must not allocate either.
    assert_eq!(calls(Mode::PendingOnce), 0);
}

#[test]
fn a_retried_call_allocates() {
    // The retry path boxes its schedule (and sleeps, so it runs on the
    // runtime): the zeros above are not an accident of the counter.
    let rt = paused_clock();
    let wrapper = Retrying::new(Bench::new(Mode::FailOnce)).seed(1);
    let req = request();
    let n = allocations(|| assert!(rt.block_on(wrapper.chat_completion(&req)).is_ok()));
    assert!(n > 0);
}
