//! A shared retry budget: what it refuses, what it refunds, who shares it.

use crate::support::{Scripted, Step, request};
use crabllm_core::Provider;
use provider_retry::{Jitter, RetryBudget, Retrying};
use std::time::Duration;

fn failing() -> Scripted {
    Scripted::new([]).then_always(Step::Status(503, None))
}

fn wrap(inner: Scripted, budget: &RetryBudget) -> Retrying<Scripted> {
    Retrying::new(inner)
        .jitter(Jitter::None)
        .budget(budget.clone())
}

#[tokio::test(start_paused = true)]
async fn an_outage_drains_the_budget_then_retries_stop() {
    // 12 tokens at 5 a retry: two retries, then none.
    let budget = RetryBudget::new().capacity(12);
    let inner = failing();
    let w = wrap(inner.clone(), &budget);
    assert!(w.chat_completion(&request()).await.is_err());
    assert_eq!(inner.count(), 3, "first call: both retries paid");
    assert_eq!(budget.get_tokens(), 2);
    assert!(w.chat_completion(&request()).await.is_err());
    assert_eq!(inner.count(), 4, "second call: no retry affordable");
    assert_eq!(budget.get_tokens(), 2, "a refused retry takes nothing");
}

#[tokio::test(start_paused = true)]
async fn a_retry_that_succeeds_is_refunded() {
    let budget = RetryBudget::new().capacity(20);
    let inner = Scripted::new([Step::Status(503, None), Step::Ok(Duration::ZERO)]);
    wrap(inner, &budget)
        .chat_completion(&request())
        .await
        .unwrap();
    assert_eq!(budget.get_tokens(), 20);
}

#[tokio::test(start_paused = true)]
async fn first_try_successes_refill_one_token_each() {
    let budget = RetryBudget::new().capacity(20);
    assert!(budget.try_withdraw(10));
    let inner = Scripted::new([]).then_always(Step::Ok(Duration::ZERO));
    let w = wrap(inner, &budget);
    for _ in 0..3 {
        w.chat_completion(&request()).await.unwrap();
    }
    assert_eq!(budget.get_tokens(), 13);
}

#[tokio::test(start_paused = true)]
async fn a_timeout_retry_costs_the_timeout_price() {
    let budget = RetryBudget::new().capacity(100).timeout_cost(30);
    let inner = Scripted::new([Step::Hang, Step::Decode]);
    let w = wrap(inner, &budget).timeout(Duration::from_secs(1));
    assert!(w.chat_completion(&request()).await.is_err());
    assert_eq!(budget.get_tokens(), 70);
}

#[tokio::test(start_paused = true)]
async fn wrappers_given_one_budget_share_it_and_clones_too() {
    let budget = RetryBudget::new().capacity(10);
    let (a, b) = (failing(), failing());
    let first = wrap(a.clone(), &budget);
    let second = wrap(b.clone(), &budget);
    let clone = first.clone();
    let _ = first.max_retries(1).chat_completion(&request()).await;
    let _ = second.max_retries(1).chat_completion(&request()).await;
    assert_eq!(budget.get_tokens(), 0);
    let _ = clone.chat_completion(&request()).await;
    assert_eq!(a.count() + b.count(), 2 + 2 + 1, "the clone found it empty");
    assert!(clone.get_budget().is_some_and(|c| c.shares_with(&budget)));
}

#[tokio::test(start_paused = true)]
async fn without_a_budget_nothing_is_refused() {
    let inner = failing();
    let w = Retrying::new(inner.clone())
        .max_retries(50)
        .jitter(Jitter::None);
    assert!(w.get_budget().is_none());
    assert!(w.chat_completion(&request()).await.is_err());
    assert_eq!(inner.count(), 51);
}
