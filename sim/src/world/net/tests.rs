//! Every method over the simulated network: the server and the HTTP
//! provider carry each one's payloads, statuses, Retry-After and failures.

use crate::link::Cursor;
use crate::link::http::HttpProvider;
use crate::method::Method;
use crabllm_core::Error;

/// What one call over the network got: its payloads and how it ended.
type Got = (
    Vec<Option<crate::trace::ChunkId>>,
    Result<(), (Error, Option<bool>)>,
);

/// Every method called `steps` times in turn by one client over a
/// turmoil network, against a server replaying `script`.
fn over_the_network(script: &[&str], steps: u64) -> Vec<(Method, Got)> {
    use crate::backend::{Backend, Clock};
    use crate::faults::{FaultPlan, Faults};
    use crate::world::net::server::Server;
    use crate::world::net::world::wall;
    use std::sync::{Arc, Mutex};
    let plan = FaultPlan {
        script: script
            .iter()
            .map(|s| s.parse().expect("a script step"))
            .collect(),
        script_repeat: true,
        ..FaultPlan::default()
    };
    let mut sim = turmoil::Builder::new()
        .simulation_duration(std::time::Duration::from_secs(600))
        .build();
    let server = Server::new(
        Backend::new(Faults::new(plan, 1), None, Clock::Turmoil),
        wall,
    );
    crate::world::net::world::serve(&mut sim, server);
    let out = Arc::new(Mutex::new(Vec::new()));
    let sink = out.clone();
    sim.client("client", async move {
        let cursor = Cursor::default();
        let provider = HttpProvider::new("server:80", 1, cursor.clone(), wall);
        for (m, method) in Method::ALL.into_iter().enumerate() {
            for step in 0..steps {
                cursor.set(m as u64 * 100 + step);
                let mut got = Vec::new();
                let ended = crate::wire::invoke(&provider, method, |p| got.push(p)).await;
                let ended = ended.map_err(|e| (e.error, e.stream_failed));
                sink.lock().unwrap().push((method, (got, ended)));
            }
        }
        Ok(())
    });
    sim.run().unwrap();
    std::mem::take(&mut *out.lock().unwrap())
}

/// Payloads of one whole answer: from client 1's call, numbered from 0.
fn whole(method: Method, got: &[Option<crate::trace::ChunkId>], items: u32) {
    let indices: Vec<_> = got.iter().map(|p| p.map(|p| (p.client, p.index))).collect();
    let want: Vec<_> = match method.is_stream() {
        true => (0..items).map(|i| Some((1, i))).collect(),
        false => vec![Some((1, 0))],
    };
    assert_eq!(indices, want, "{method}");
}

#[test]
fn every_method_travels_the_network_with_its_payloads() {
    let script = ["ok", "429:ra=2000", "network", "decode", "stream-fail"];
    let calls = over_the_network(&script, script.len() as u64);
    assert_eq!(calls.len(), Method::ALL.len() * script.len());
    for pair in calls.chunks(script.len()) {
        let method = pair[0].0;
        let [ok, status, net, decode, fail] = &pair.iter().map(|c| &c.1).collect::<Vec<_>>()[..]
        else {
            unreachable!()
        };
        assert!(ok.1.is_ok(), "{method}: {ok:?}");
        whole(method, &ok.0, 8);
        assert!(
            matches!(
                status,
                (got, Err((Error::Provider { status: 429, retry_after: Some(w), .. }, None)))
                    if got.is_empty() && w.as_secs() == 2
            ),
            "{method}: {status:?}"
        );
        assert!(
            matches!(net, (got, Err((Error::Network(_), None))) if got.is_empty()),
            "{method}: {net:?}"
        );
        assert!(
            matches!(decode, (got, Err((Error::Decode(_), None))) if got.is_empty()),
            "{method}: {decode:?}"
        );
        if method.is_stream() {
            whole(method, &fail.0, 4);
            assert!(
                matches!(fail.1, Err((Error::Network(_), Some(false)))),
                "{method}: {fail:?}"
            );
        } else {
            whole(method, &fail.0, 1);
            assert!(fail.1.is_ok(), "{method}: {fail:?}");
        }
    }
}
