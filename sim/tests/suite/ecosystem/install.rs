//! The clients' installs, once, under cargo's target dir: one Python venv
//! with every Python client pinned, one `node_modules` from
//! `sim/clients/package-lock.json`. A later run finds them by a marker
//! holding what was installed, so it costs nothing; a missing tool or an
//! unreachable registry is the reason a column is SKIPPED.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The Python clients, pinned: the official SDKs at the versions their
/// claims were read from, LangChain's OpenAI chat model, LiteLLM.
pub const PYTHON_PINS: [&str; 4] = [
    "openai==3.57.0",
    "anthropic==2.14.0",
    "langchain-openai==1.8.1",
    "litellm==1.110.2",
];

fn tmp() -> &'static Path {
    Path::new(env!("CARGO_TARGET_TMPDIR"))
}

fn clients() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("clients")
}

/// The last line of a failed command's output, for a SKIPPED reason.
fn last_words(output: &std::process::Output) -> String {
    let err = String::from_utf8_lossy(&output.stderr);
    let out = String::from_utf8_lossy(&output.stdout);
    let text = if err.trim().is_empty() { out } else { err };
    text.lines()
        .last()
        .unwrap_or("no output")
        .trim()
        .to_string()
}

/// A venv's python with every Python client pinned, or why there is none.
pub fn python() -> Result<PathBuf, String> {
    venv("eco-venv", &PYTHON_PINS)
}

/// The python of the venv `name` under cargo's target dir with `pins`
/// installed, or why there is none. A marker holding the pins spares a
/// later run the install.
pub fn venv(name: &str, pins: &[&str]) -> Result<PathBuf, String> {
    let venv = tmp().join(name);
    let py = venv.join("bin").join("python");
    let marker = venv.join("pins.txt");
    let wanted = pins.join("\n");
    if py.exists() && std::fs::read_to_string(&marker).is_ok_and(|m| m == wanted) {
        return Ok(py);
    }
    let made = Command::new("python3")
        .args(["-m", "venv"])
        .arg(&venv)
        .output()
        .map_err(|e| format!("python3 not found ({e})"))?;
    if !made.status.success() {
        return Err(format!("python3 -m venv failed: {}", last_words(&made)));
    }
    let pip = Command::new(&py)
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--timeout",
            "20",
            "--retries",
            "1",
        ])
        .args(pins)
        .output()
        .map_err(|e| format!("pip did not run ({e})"))?;
    if !pip.status.success() {
        return Err(format!(
            "pip install {} failed: {}",
            pins.join(" "),
            last_words(&pip)
        ));
    }
    std::fs::write(&marker, wanted).map_err(|e| format!("{}: {e}", marker.display()))?;
    Ok(py)
}

/// A `node_modules` installed from `sim/clients/package-lock.json`, or why
/// there is none.
pub fn node_modules() -> Result<PathBuf, String> {
    let dir = tmp().join("eco-node");
    let modules = dir.join("node_modules");
    let lock = std::fs::read_to_string(clients().join("package-lock.json"))
        .map_err(|e| format!("sim/clients/package-lock.json: {e}"))?;
    let marker = dir.join("installed-lock.json");
    let has_node = Command::new("node")
        .arg("--version")
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !has_node {
        return Err("node not found".into());
    }
    if modules.exists() && std::fs::read_to_string(&marker).is_ok_and(|m| m == lock) {
        return Ok(modules);
    }
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    for file in ["package.json", "package-lock.json"] {
        std::fs::copy(clients().join(file), dir.join(file)).map_err(|e| format!("{file}: {e}"))?;
    }
    // No install scripts: the clients need none (Portkey's only patches
    // its own dependencies' sources for other runtimes).
    let npm = Command::new("npm")
        .args([
            "ci",
            "--no-audit",
            "--no-fund",
            "--ignore-scripts",
            "--fetch-retries",
            "1",
        ])
        .current_dir(&dir)
        .output()
        .map_err(|e| format!("npm not found ({e})"))?;
    if !npm.status.success() {
        return Err(format!("npm ci failed: {}", last_words(&npm)));
    }
    std::fs::write(&marker, lock).map_err(|e| format!("{}: {e}", marker.display()))?;
    Ok(modules)
}
