//! Every method, called through [`invoke`] on the in-process provider,
//! hands its payloads to the caller.

use crate::backend::Backend;
use crate::faults::{FaultPlan, Faults};
use crate::link::local::SimProvider;
use crate::method::Method;
use crate::trace::ChunkId;
use crate::wire::address::CallId;
use crate::wire::{Ended, invoke};
use crabllm_core::Error;

const CLIENT: u32 = 2;
const CALL: u64 = 5;

/// Call `method` once on a fresh in-process world following `plan`; the
/// payloads received and how the call ended.
fn call(method: Method, plan: FaultPlan) -> (Vec<Option<ChunkId>>, Result<(), Ended>) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .unwrap();
    runtime.block_on(async {
        let id = CallId::new(CLIENT, CALL);
        let provider = SimProvider::new(Backend::on_tokio(Faults::new(plan, 1), None)).at(id);
        let mut got = Vec::new();
        let ended = invoke(&provider, method, id, |p| got.push(p)).await;
        (got, ended)
    })
}

fn chunk(index: u32) -> Option<ChunkId> {
    Some(ChunkId {
        client: CLIENT,
        call: CALL,
        stream: 0,
        index,
    })
}

#[test]
fn every_method_hands_every_payload_to_the_caller() {
    let plan = FaultPlan::default();
    for method in Method::ALL {
        let (got, ended) = call(method, plan.clone());
        assert!(ended.is_ok(), "{method}: {ended:?}");
        let want: Vec<_> = match method.is_stream() {
            true => (0..plan.chunks).map(chunk).collect(),
            false => vec![chunk(0)],
        };
        assert_eq!(got, want, "{method}");
    }
}

#[test]
fn every_stream_method_fails_after_half_its_items_as_a_stream_failure() {
    let plan = FaultPlan {
        script: vec!["stream-fail".parse().unwrap()],
        ..FaultPlan::default()
    };
    for method in Method::ALL.into_iter().filter(|m| m.is_stream()) {
        let (got, ended) = call(method, plan.clone());
        let want: Vec<_> = (0..plan.chunks / 2).map(chunk).collect();
        assert_eq!(got, want, "{method}");
        let ended = ended.expect_err(method.name());
        assert_eq!(ended.stream_failed, Some(false), "{method}");
        assert!(matches!(ended.error, Error::Network(_)), "{method}");
    }
}

#[test]
fn every_method_reports_a_status_before_any_item() {
    let plan = FaultPlan {
        script: vec!["503".parse().unwrap()],
        ..FaultPlan::default()
    };
    for method in Method::ALL {
        let (got, ended) = call(method, plan.clone());
        assert!(got.is_empty(), "{method}");
        let ended = ended.expect_err(method.name());
        assert_eq!(ended.stream_failed, None, "{method}");
        assert!(
            matches!(ended.error, Error::Provider { status: 503, .. }),
            "{method}"
        );
    }
}
