//! Neither crate's modules form an import cycle: in the simulator data flows
//! one way, from scenario to world to trace to judge to report; in the
//! wrapper, the policy builds schedules and the loop uses both, and nothing
//! imports back.
//!
//! Every `crate::<module>` (grouped imports included) in a file under
//! `<crate>/src/<module>` is an edge from that top-level module (`super::`
//! stays inside a module, so it needs no edge); each crate's graph must be
//! acyclic, and the simulator's judge and probe must import nothing from
//! the wrapper crate. The wrapper crate is checked here, beside the
//! simulator, so that one scanner and one cycle finder serve both.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Every top-level name a file reaches through `crate::`, grouped
/// imports (`crate::{a, b::c}`) included.
fn imported(text: &str) -> BTreeSet<String> {
    let ident = |s: &str| -> String {
        s.trim()
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect()
    };
    let mut out = BTreeSet::new();
    for (i, _) in text.match_indices("crate::") {
        let rest = &text[i + "crate::".len()..];
        match rest.strip_prefix('{') {
            Some(group) => {
                // Top-level items of the group: split at commas outside braces.
                let mut depth = 0;
                let mut item = String::new();
                for c in group.chars() {
                    match c {
                        '{' => depth += 1,
                        '}' if depth == 0 => break,
                        '}' => depth -= 1,
                        ',' if depth == 0 => {
                            out.insert(ident(&item));
                            item.clear();
                            continue;
                        }
                        _ => {}
                    }
                    item.push(c);
                }
                out.insert(ident(&item));
            }
            None => {
                out.insert(ident(rest));
            }
        }
    }
    out
}

/// Top-level module of a file under `src`.
fn module_of(src: &Path, file: &Path) -> String {
    let rel = file.strip_prefix(src).unwrap();
    let first = rel
        .components()
        .next()
        .unwrap()
        .as_os_str()
        .to_string_lossy();
    first.trim_end_matches(".rs").to_string()
}

/// The simulator's `src`.
fn sim_src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// The wrapper crate's `src`, the workspace root's.
fn wrapper_src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../src")
}

/// The import graph of the crate under `src`: top-level module to the
/// top-level modules its files name through `crate::`. The crate roots
/// (`lib`, `main`) declare and re-export every module, so they are no node.
fn graph(src: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let mut all = Vec::new();
    files(src, &mut all);
    let modules: BTreeSet<String> = all.iter().map(|f| module_of(src, f)).collect();
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in &all {
        let from = module_of(src, file);
        if from == "lib" || from == "main" {
            continue;
        }
        let text = std::fs::read_to_string(file).unwrap();
        for name in imported(&text) {
            if modules.contains(&name) && name != from {
                edges.entry(from.clone()).or_default().insert(name);
            }
        }
    }
    edges
}

/// A cycle reachable from `node` that runs through `path`, if any: a
/// depth-first search that skips nodes already cleared (`done`).
fn cycle_from(
    node: &str,
    edges: &BTreeMap<String, BTreeSet<String>>,
    path: &mut Vec<String>,
    done: &mut BTreeSet<String>,
) -> Option<Vec<String>> {
    if let Some(at) = path.iter().position(|n| n == node) {
        let mut cycle = path[at..].to_vec();
        cycle.push(node.to_string());
        return Some(cycle);
    }
    if done.contains(node) {
        return None;
    }
    path.push(node.to_string());
    for next in edges.get(node).into_iter().flatten() {
        if let Some(c) = cycle_from(next, edges, path, done) {
            return Some(c);
        }
    }
    path.pop();
    done.insert(node.to_string());
    None
}

/// The first cycle found in `edges`, as the path that closes it.
fn first_cycle(edges: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    let mut done = BTreeSet::new();
    edges
        .keys()
        .find_map(|node| cycle_from(node, edges, &mut Vec::new(), &mut done))
}

/// Fails, naming the cycle and the replay command, if `edges` has one.
fn assert_acyclic(edges: &BTreeMap<String, BTreeSet<String>>, test: &str) {
    if let Some(cycle) = first_cycle(edges) {
        panic!(
            "import cycle: {}\nreplay: cargo test -p provider-retry-sim --test suite layering::{test}",
            cycle.join(" -> ")
        );
    }
}

#[test]
fn modules_import_each_other_in_one_direction_only() {
    let edges = graph(&sim_src());
    assert!(
        edges.get("world").is_some_and(|e| e.contains("subject")),
        "{edges:?}"
    );
    assert_acyclic(&edges, "modules_import_each_other_in_one_direction_only");
}

#[test]
fn the_wrappers_modules_import_each_other_in_one_direction_only() {
    let edges = graph(&wrapper_src());
    // The scan saw the wrapper: the loop's imports are edges.
    let retrying = edges.get("retrying").cloned().unwrap_or_default();
    for to in ["policy", "schedule", "classify", "rng"] {
        assert!(retrying.contains(to), "retrying -> {to} missing: {edges:?}");
    }
    assert_acyclic(
        &edges,
        "the_wrappers_modules_import_each_other_in_one_direction_only",
    );
}

/// A schedule is built from plain values: the policy builds it, and the
/// schedule knows nothing of the policy (as tower's backoff knows nothing
/// of its retry policy).
#[test]
fn the_schedule_knows_nothing_of_the_policy() {
    let edges = graph(&wrapper_src());
    assert!(edges["policy"].contains("schedule"), "{edges:?}");
    assert!(
        !edges.get("schedule").is_some_and(|e| e.contains("policy")),
        "schedule imports policy: {edges:?}"
    );
}

#[test]
fn grouped_imports_are_edges_too() {
    let found = imported("use crate::{builtin, generate::{a, b}};\nuse crate::run::x;");
    let want: BTreeSet<String> = ["builtin", "generate", "run"].map(String::from).into();
    assert_eq!(found, want);
}

#[test]
fn a_planted_cycle_is_found() {
    let mut edges = graph(&sim_src());
    assert!(first_cycle(&edges).is_none());
    edges
        .entry("check".into())
        .or_default()
        .insert("world".into());
    let cycle = first_cycle(&edges).expect("check -> world -> subject -> check is a cycle");
    assert_eq!(cycle.first(), cycle.last(), "{cycle:?}");
    assert!(cycle.contains(&"check".to_string()), "{cycle:?}");
}

#[test]
fn a_planted_cycle_in_the_wrapper_is_found() {
    let mut edges = graph(&wrapper_src());
    assert!(first_cycle(&edges).is_none());
    edges
        .entry("schedule".into())
        .or_default()
        .insert("policy".into());
    let cycle = first_cycle(&edges).expect("schedule -> policy -> schedule is a cycle");
    assert!(
        cycle.windows(2).any(|w| w == ["schedule", "policy"]),
        "{cycle:?}"
    );
}

#[test]
fn the_judge_and_the_probe_import_nothing_from_the_wrapper_crate() {
    let src = sim_src();
    let mut all = Vec::new();
    files(&src.join("check"), &mut all);
    all.push(src.join("subject/probe.rs"));
    assert!(all.len() > 1);
    for file in all {
        let text = std::fs::read_to_string(&file).unwrap();
        assert!(
            !text.contains("provider_retry::") && !text.contains("use provider_retry"),
            "{} imports the wrapper crate",
            file.display()
        );
    }
}

/// The judge knows correct behaviour from documented semantics alone: it
/// reaches no peer library and no peer adapter.
#[test]
fn the_judge_imports_no_peer() {
    let mut all = Vec::new();
    files(&sim_src().join("check"), &mut all);
    assert!(!all.is_empty());
    for file in all {
        let text = std::fs::read_to_string(&file).unwrap();
        for name in ["backon", "tokio_retry2", "tower::", "peers"] {
            assert!(
                !text.contains(name),
                "{} mentions {name}\nreplay: cargo test -p provider-retry-sim --test suite layering::the_judge_imports_no_peer",
                file.display()
            );
        }
    }
}
