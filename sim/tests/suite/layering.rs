//! The simulator's modules form no import cycle: data flows one way, from
//! scenario to world to trace to judge to report.
//!
//! Every `crate::<module>` (grouped imports included) in a file under
//! `sim/src/<module>` is an edge from that top-level module (`super::`
//! stays inside a module, so it needs no edge); the graph must be
//! acyclic, and the judge and the probe must import nothing from the
//! wrapper crate.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

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

fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut all = Vec::new();
    files(&src, &mut all);
    let modules: BTreeSet<String> = all.iter().map(|f| module_of(&src, f)).collect();
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in &all {
        let from = module_of(&src, file);
        let text = std::fs::read_to_string(file).unwrap();
        for (i, _) in text.match_indices("crate::") {
            let rest = &text[i + "crate::".len()..];
            let name: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            if modules.contains(&name) && name != from && from != "lib" && from != "main" {
                edges.entry(from.clone()).or_default().insert(name);
            }
        }
    }
    edges
}

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

#[test]
fn modules_import_each_other_in_one_direction_only() {
    let edges = graph();
    assert!(
        edges.get("world").is_some_and(|e| e.contains("subject")),
        "{edges:?}"
    );
    let mut done = BTreeSet::new();
    for node in edges.keys() {
        let cycle = cycle_from(node, &edges, &mut Vec::new(), &mut done);
        assert!(
            cycle.is_none(),
            "import cycle: {}",
            cycle.unwrap().join(" -> ")
        );
    }
}

#[test]
fn grouped_imports_are_edges_too() {
    let found = imported("use crate::{builtin, generate::{a, b}};\nuse crate::run::x;");
    let want: BTreeSet<String> = ["builtin", "generate", "run"].map(String::from).into();
    assert_eq!(found, want);
}

#[test]
fn a_planted_cycle_is_found() {
    let mut edges = graph();
    edges
        .entry("check".into())
        .or_default()
        .insert("world".into());
    let mut done = BTreeSet::new();
    let found = edges
        .keys()
        .any(|n| cycle_from(n, &edges, &mut Vec::new(), &mut done).is_some());
    assert!(found, "check -> world -> subject -> check is a cycle");
}

#[test]
fn the_judge_and_the_probe_import_nothing_from_the_wrapper_crate() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
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
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut all = Vec::new();
    files(&src.join("check"), &mut all);
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
