//! The sweep's two homes, `.github/workflows/sweep.yml` and the Kubernetes
//! Jobs in `deploy/`: each file is parsed, its exact commands run here for 2
//! shards of a few seeds, and the merge must equal one unsharded sweep.
//!
//! What only the engines can do is stood in for, and no more: the workflow's
//! artifacts are directories, its `${{ }}` expressions are evaluated for the
//! contexts it uses (an unknown one fails the test), `$GITHUB_PATH` is read
//! back after each step; a Kubernetes pod is its container's command with the
//! container's env, `$(VAR)` expanded, and `JOB_COMPLETION_INDEX` set, in a
//! directory that stands for the claim mounted at its `workingDir`.

use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Few seeds, so the test stays fast; 2 built-in scenarios x 2 seeds would
/// not cut every scenario across both shards, the whole list does.
const SEEDS: &str = "0..2";
/// Shards run here.
const SHARDS: u64 = 2;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn retry_sim() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_retry-sim"))
}

/// Every document in a YAML file.
fn yaml(relative: &str) -> Vec<Value> {
    let text = std::fs::read_to_string(repo().join(relative)).unwrap();
    serde_norway::Deserializer::from_str(&text)
        .map(|doc| Value::deserialize(doc).unwrap_or_else(|e| panic!("{relative}: {e}")))
        .collect()
}

/// A fresh directory for one part of this test.
fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("deploy-{}", std::process::id()))
        .join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn text(v: &Value) -> &str {
    v.as_str()
        .unwrap_or_else(|| panic!("expected a string, got {v}"))
}

/// `PATH` with `dirs` in front, as a runner's `$GITHUB_PATH` or an image's
/// `/usr/local/bin` puts them.
fn path_with(dirs: &[PathBuf]) -> String {
    let mut all: Vec<PathBuf> = dirs.to_vec();
    all.extend(std::env::split_paths(
        &std::env::var_os("PATH").unwrap_or_default(),
    ));
    std::env::join_paths(all)
        .unwrap()
        .to_string_lossy()
        .into_owned()
}

/// Run a command to completion; a non-zero exit fails the test with its output.
fn succeed(command: &mut Command, what: &str) -> String {
    let out = command.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{what} exited {:?}\nstdout:\n{stdout}\nstderr:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// What a merge must equal: one unsharded sweep's report (less its first
/// line, which says how it was run) and its runs, in a canonical order.
#[derive(Debug, PartialEq)]
struct Outcome {
    report: Vec<String>,
    runs: Vec<String>,
}

impl Outcome {
    fn read(report: &str, runs: &Path) -> Outcome {
        let mut runs: Vec<String> = std::fs::read_to_string(runs)
            .unwrap()
            .lines()
            .map(str::to_string)
            .collect();
        runs.sort();
        Outcome {
            report: report.lines().skip(1).map(str::to_string).collect(),
            runs,
        }
    }

    /// One unsharded sweep of `subject`, run in `dir`.
    fn whole(subject: &str, dir: &Path) -> Outcome {
        let report = succeed(
            Command::new(retry_sim())
                .args(["sweep", "--seeds", SEEDS, "--subject", subject, "--json"])
                .arg(dir.join("whole.jsonl")),
            "the unsharded sweep",
        );
        assert!(report.contains(" 0 failing"), "{report}");
        Outcome::read(&report, &dir.join("whole.jsonl"))
    }
}

/// A GitHub Actions expression as the workflow uses them: contexts joined by
/// `||`, the first non-empty one wins; `'text'` is a literal.
fn evaluate(expression: &str, contexts: &BTreeMap<&str, String>) -> String {
    for operand in expression.split("||").map(str::trim) {
        let value = match operand.strip_prefix('\'') {
            Some(literal) => literal.trim_end_matches('\'').to_string(),
            None => contexts
                .get(operand)
                .unwrap_or_else(|| panic!("the workflow uses ${{{{ {operand} }}}}, unknown here"))
                .clone(),
        };
        if !value.is_empty() {
            return value;
        }
    }
    String::new()
}

/// `text` with every `${{ expression }}` evaluated.
fn substitute(text: &str, contexts: &BTreeMap<&str, String>) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("${{") {
        let end = rest[start..].find("}}").expect("an unclosed ${{") + start;
        out.push_str(&rest[..start]);
        out.push_str(&evaluate(&rest[start + 3..end], contexts));
        rest = &rest[end + 2..];
    }
    out.push_str(rest);
    out
}

/// One workflow run: its env, the artifacts jobs upload (a directory each).
struct Workflow {
    env: Vec<(String, String)>,
    artifacts: PathBuf,
}

impl Workflow {
    /// Run one job's steps in a fresh directory; returns that directory.
    fn job(&self, name: &str, job: &Value, contexts: &BTreeMap<&str, String>) -> PathBuf {
        let dir = scratch(name);
        let github_path = dir.join(".github_path");
        let mut path = Vec::new();
        for step in job["steps"].as_array().expect("steps") {
            let with = |key: &str| step["with"].get(key).map(|v| substitute(text(v), contexts));
            if let Some(run) = step.get("run") {
                std::fs::write(&github_path, "").unwrap();
                let script = substitute(text(run), contexts);
                // How Actions runs a step with `shell: bash`.
                succeed(
                    Command::new("bash")
                        .args(["--noprofile", "--norc", "-eo", "pipefail", "-c", &script])
                        .current_dir(&dir)
                        .envs(self.env.iter().cloned())
                        .env("GITHUB_PATH", &github_path)
                        .env("PATH", path_with(&path)),
                    &format!("job {name}: {script}"),
                );
                // Each line goes in front, so the last one written wins.
                for dir in std::fs::read_to_string(&github_path).unwrap().lines() {
                    path.insert(0, PathBuf::from(dir));
                }
                continue;
            }
            let uses = text(&step["uses"]);
            if uses.starts_with("actions/upload-artifact@") {
                let store = self.artifacts.join(with("name").expect("an artifact name"));
                std::fs::create_dir_all(&store).unwrap();
                for file in with("path").expect("a path").lines().map(str::trim) {
                    let from = dir.join(file);
                    assert!(
                        from.exists(),
                        "job {name} uploads {file}, which no step wrote"
                    );
                    copy(&from, &store.join(file.trim_end_matches('/')));
                }
            } else if uses.starts_with("actions/download-artifact@") {
                let into = dir.join(with("path").expect("a download path"));
                let names: Vec<String> = match (with("name"), with("pattern")) {
                    (Some(name), None) => vec![name],
                    (None, Some(pattern)) => {
                        let prefix = pattern.strip_suffix('*').expect("a pattern NAME*");
                        assert_eq!(step["with"]["merge-multiple"], Value::Bool(true));
                        std::fs::read_dir(&self.artifacts)
                            .unwrap()
                            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                            .filter(|n| n.starts_with(prefix))
                            .collect()
                    }
                    other => panic!("job {name}: download-artifact with {other:?}"),
                };
                for artifact in names {
                    copy(&self.artifacts.join(artifact), &into);
                }
            } else {
                panic!("job {name}: a step `uses: {uses}` this test cannot stand in for");
            }
        }
        dir
    }
}

/// Copy a file, or a directory's contents, as artifacts are stored and restored.
fn copy(from: &Path, to: &Path) {
    if from.is_dir() {
        std::fs::create_dir_all(to).unwrap();
        for entry in std::fs::read_dir(from).unwrap() {
            let entry = entry.unwrap();
            copy(&entry.path(), &to.join(entry.file_name()));
        }
    } else {
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(from, to).unwrap();
    }
}

#[test]
fn the_github_workflow_merges_its_shards_into_one_sweep() {
    let flow = &yaml(".github/workflows/sweep.yml")[0];
    let jobs = &flow["jobs"];
    // The build job is cargo's: stand in its artifact, this test's retry-sim.
    let build = &jobs["build"];
    let built = build["steps"].as_array().unwrap();
    assert!(
        built.iter().any(|s| s["run"]
            .as_str()
            .is_some_and(|r| r.contains("--bin retry-sim"))),
        "{build}"
    );
    let workflow = Workflow {
        env: Vec::new(),
        artifacts: scratch("github-artifacts"),
    };
    copy(retry_sim(), &workflow.artifacts.join("retry-sim/retry-sim"));
    // As if dispatched by hand with few seeds.
    let inputs: BTreeMap<&str, String> = [
        ("inputs.seeds", SEEDS.to_string()),
        ("inputs.subject", "ours".to_string()),
    ]
    .into();
    let env: Vec<(String, String)> = flow["env"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), substitute(text(v), &inputs)))
        .collect();
    assert!(
        env.contains(&("SEEDS".to_string(), SEEDS.to_string())),
        "{env:?}"
    );
    let workflow = Workflow { env, ..workflow };
    let matrix = &jobs["shard"]["strategy"]["matrix"]["shard"];
    let shards: Vec<u64> = matrix
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap())
        .collect();
    assert_eq!(
        shards,
        (0..shards.len() as u64).collect::<Vec<_>>(),
        "shards 0..N"
    );
    for shard in 0..SHARDS {
        let contexts: BTreeMap<&str, String> = [
            ("matrix.shard", shard.to_string()),
            ("strategy.job-total", SHARDS.to_string()),
        ]
        .into();
        workflow.job(&format!("github-shard-{shard}"), &jobs["shard"], &contexts);
    }
    let merged = workflow.job("github-merge", &jobs["merge"], &BTreeMap::new());
    let uploaded = workflow.artifacts.join("sweep-report");
    assert!(uploaded.join("report/index.html").is_file());
    let report = std::fs::read_to_string(uploaded.join("merged.txt")).unwrap();
    assert!(
        report.starts_with(&format!("merged {SHARDS} file(s)")),
        "{report}"
    );
    assert_eq!(
        Outcome::read(&report, &merged.join("merged.jsonl")),
        Outcome::whole("ours", &scratch("github-whole"))
    );
}

/// A container's env, with `overrides` replacing values it sets.
fn container_env(container: &Value, overrides: &[(&str, String)]) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = container["env"]
        .as_array()
        .map(|vars| {
            vars.iter()
                .map(|v| (text(&v["name"]).to_string(), text(&v["value"]).to_string()))
                .collect()
        })
        .unwrap_or_default();
    for (name, value) in overrides {
        let slot = env.iter_mut().find(|(n, _)| n == name);
        slot.unwrap_or_else(|| panic!("the container sets no {name}"))
            .1 = value.clone();
    }
    env
}

/// Run a pod's one container as Kubernetes would start it: `command` then
/// `args`, each with `$(VAR)` expanded from the container's env, in `dir`.
fn run_pod(job: &Value, env: &[(String, String)], dir: &Path, what: &str) -> String {
    let containers = job["spec"]["template"]["spec"]["containers"]
        .as_array()
        .unwrap();
    assert_eq!(containers.len(), 1, "{what}: one container");
    let container = &containers[0];
    let expand = |word: &Value| {
        env.iter().fold(text(word).to_string(), |w, (name, value)| {
            w.replace(&format!("$({name})"), value)
        })
    };
    let mut argv: Vec<String> = container["command"]
        .as_array()
        .unwrap()
        .iter()
        .map(expand)
        .collect();
    argv.extend(container["args"].as_array().unwrap().iter().map(expand));
    // The image puts retry-sim on the path (deploy/Dockerfile).
    let bin = retry_sim().parent().unwrap().to_path_buf();
    succeed(
        Command::new(&argv[0])
            .args(&argv[1..])
            .current_dir(dir)
            .envs(env.iter().cloned())
            .env("PATH", path_with(&[bin])),
        &format!("{what}: {argv:?}"),
    )
}

/// The claim a Job mounts at its container's working directory.
fn claim_at_workdir(job: &Value) -> &str {
    let pod = &job["spec"]["template"]["spec"];
    let container = &pod["containers"][0];
    let mount = container["volumeMounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["mountPath"] == container["workingDir"])
        .expect("the working directory is a mounted volume");
    let volume = pod["volumes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == mount["name"])
        .unwrap();
    text(&volume["persistentVolumeClaim"]["claimName"])
}

#[test]
fn the_kubernetes_indexed_job_merges_its_shards_into_one_sweep() {
    let docs = yaml("deploy/sweep-job.yaml");
    let job = docs
        .iter()
        .find(|d| d["kind"] == "Job")
        .expect("a Job in deploy/sweep-job.yaml");
    assert_eq!(job["spec"]["completionMode"], "Indexed");
    let container = &job["spec"]["template"]["spec"]["containers"][0];
    let completions = job["spec"]["completions"].as_u64().unwrap();
    assert_eq!(
        container_env(container, &[])
            .iter()
            .find(|(n, _)| n == "JOB_COMPLETIONS")
            .map(|(_, v)| v.clone()),
        Some(completions.to_string()),
        "JOB_COMPLETIONS must equal spec.completions"
    );
    let claim = claim_at_workdir(job);
    assert!(
        docs.iter()
            .any(|d| d["kind"] == "PersistentVolumeClaim" && d["metadata"]["name"] == claim),
        "the claim {claim} is in the manifest"
    );
    let merge_job = &yaml("deploy/sweep-merge-job.yaml")[0];
    assert_eq!(
        claim_at_workdir(merge_job),
        claim,
        "the merge reads the sweep's claim"
    );
    // The claim: one directory every pod shares.
    let volume = scratch("kubernetes-claim");
    for index in 0..SHARDS {
        let mut env = container_env(
            container,
            &[
                ("JOB_COMPLETIONS", SHARDS.to_string()),
                ("SEEDS", SEEDS.to_string()),
            ],
        );
        env.push(("JOB_COMPLETION_INDEX".to_string(), index.to_string()));
        run_pod(job, &env, &volume, &format!("pod {index}"));
    }
    let merge_container = &merge_job["spec"]["template"]["spec"]["containers"][0];
    let log = run_pod(
        merge_job,
        &container_env(merge_container, &[]),
        &volume,
        "merge",
    );
    assert!(volume.join("report/index.html").is_file());
    let report = std::fs::read_to_string(volume.join("merged.txt")).unwrap();
    assert_eq!(log, report, "the merge Job's log is the merged report");
    let subject = container_env(container, &[])
        .into_iter()
        .find(|(n, _)| n == "SUBJECT")
        .map_or("ours".to_string(), |(_, v)| v);
    assert_eq!(
        Outcome::read(&report, &volume.join("merged.jsonl")),
        Outcome::whole(&subject, &scratch("kubernetes-whole"))
    );
}

#[test]
fn shard_env_without_the_variables_is_bad_input() {
    let out = Command::new(retry_sim())
        .args(["sweep", "success", "--seeds", "0..1", "--shard", "env"])
        .env_remove("JOB_COMPLETION_INDEX")
        .env_remove("JOB_COMPLETIONS")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--shard env: JOB_COMPLETION_INDEX is not set"),
        "{err}"
    );
    let out = Command::new(retry_sim())
        .args(["sweep", "success", "--seeds", "0..1", "--shard", "env"])
        .env("JOB_COMPLETION_INDEX", "1")
        .env("JOB_COMPLETIONS", "one")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("JOB_COMPLETIONS=\"one\" is not a whole number"),
        "{err}"
    );
}
