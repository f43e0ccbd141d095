//! `retry-sim`: run, sweep and replay simulated fault scenarios against provider-retry.
//!
//! Exit codes: 0 every oracle and expectation held, 1 one failed, 2 bad input.

use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use provider_retry_sim::conform::{Bare, Crabllm, Options, Ours, Report, SUBJECTS, Wrapper};
use provider_retry_sim::scenario::Scenario;
use provider_retry_sim::trace::Trace;
use provider_retry_sim::{DEFAULT_SEED, Evaluation, builtin, evaluate, replay_command, report};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Parser)]
#[command(
    name = "retry-sim",
    version,
    about = "Deterministic fault simulation for provider-retry"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run scenarios (built-in names or files; all built-ins if none) under one seed.
    Run {
        scenarios: Vec<String>,
        #[arg(long, default_value_t = DEFAULT_SEED)]
        seed: u64,
        #[command(flatten)]
        out: Outputs,
    },
    /// Run scenarios across a range of seeds on every core, then list failures.
    Sweep {
        scenarios: Vec<String>,
        /// Seeds as A..B (B excluded).
        #[arg(long, value_parser = parse_range)]
        seeds: Range<u64>,
        /// For the first failing run, if any.
        #[command(flatten)]
        out: Outputs,
    },
    /// Print the full trace of one scenario under one seed.
    Replay {
        scenario: String,
        #[arg(long)]
        seed: u64,
        /// The wrapper to drive: ours (traced by its observer), or any
        /// conformance subject (traced from the provider's side).
        #[arg(long, default_value = "ours", value_parser = clap::builder::PossibleValuesParser::new(SUBJECTS))]
        subject: String,
        #[command(flatten)]
        out: Outputs,
    },
    /// Judge retry wrappers against every oracle; exit 1 if ours fails one.
    Conform {
        /// Subjects (all if none).
        #[arg(value_parser = clap::builder::PossibleValuesParser::new(SUBJECTS))]
        subjects: Vec<String>,
        /// Seeds 0..N for each built-in scenario.
        #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=100_000))]
        seeds: u64,
        /// Generated scenarios tried per oracle.
        #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u32).range(1..=100_000))]
        cases: u32,
        /// Seeds the scenario generator.
        #[arg(long, default_value_t = DEFAULT_SEED)]
        seed: u64,
        /// Where to write the smallest failing generated scenarios (default: a temp dir).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Compare policies side by side: jitter under contention, or retry storms.
    Experiment {
        #[command(subcommand)]
        which: Experiment,
    },
}

#[derive(Subcommand)]
enum Experiment {
    /// N clients racing to write one resource, for each backoff kind.
    Jitter {
        #[arg(long, default_value_t = DEFAULT_SEED)]
        seed: u64,
        /// Seeded runs averaged per point.
        #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u64).range(1..))]
        runs: u64,
        /// Client counts, comma-separated (1 to 1000 each).
        #[arg(long, value_delimiter = ',', default_values_t = [10u32, 25, 50, 75, 100, 150, 200],
              value_parser = clap::value_parser!(u32).range(1..=1000))]
        clients: Vec<u32>,
        /// Write jitter-calls.svg and jitter-time.svg into this directory.
        #[arg(long)]
        svg_dir: Option<PathBuf>,
    },
    /// Load near capacity, a slowdown, and whether the provider recovers.
    Storm {
        #[arg(long, default_value_t = DEFAULT_SEED)]
        seed: u64,
        /// Trigger lengths in ms, comma-separated (at most 10 minutes each).
        #[arg(long, value_delimiter = ',', default_values_t = [500u64, 1000, 2000, 5000, 10000],
              value_parser = clap::value_parser!(u64).range(0..=600_000))]
        triggers: Vec<u64>,
        /// Write storm-goodput.svg into this directory.
        #[arg(long)]
        svg_dir: Option<PathBuf>,
    },
}

#[derive(clap::Args)]
struct Outputs {
    /// Write the trace as JSON lines to this file.
    #[arg(long)]
    trace: Option<PathBuf>,
    /// Draw a timeline of every call to this SVG file.
    #[arg(long)]
    svg: Option<PathBuf>,
}

fn parse_range(text: &str) -> Result<Range<u64>, String> {
    let (a, b) = text
        .split_once("..")
        .ok_or("expected A..B, for example 0..100")?;
    let a: u64 = a
        .trim()
        .parse()
        .map_err(|e| format!("bad start {a:?}: {e}"))?;
    let b: u64 = b
        .trim()
        .parse()
        .map_err(|e| format!("bad end {b:?}: {e}"))?;
    if a >= b {
        return Err(format!("empty range {a}..{b}"));
    }
    Ok(a..b)
}

/// A scenario and the name a replay command gives it.
type Named = (String, Scenario);

/// Load every requested scenario before anything runs, so bad input runs nothing.
fn load(names: &[String]) -> Result<Vec<Named>, String> {
    if names.is_empty() {
        let all = builtin::all().map_err(|e| e.to_string())?;
        return Ok(all.into_iter().map(|(n, s)| (n.to_string(), s)).collect());
    }
    names
        .iter()
        .map(|name| match builtin::get(name) {
            Some(parsed) => parsed.map(|s| (name.clone(), s)).map_err(|e| e.to_string()),
            None if Path::new(name).exists() => Scenario::load(Path::new(name))
                .map(|s| (name.clone(), s))
                .map_err(|e| e.to_string()),
            None => Err(format!(
                "{name}: neither a built-in scenario nor a file (built-ins: {})",
                builtin_names()
            )),
        })
        .collect()
}

fn builtin_names() -> String {
    builtin::BUILTIN
        .iter()
        .map(|(n, _)| *n)
        .collect::<Vec<_>>()
        .join(", ")
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run {
            scenarios,
            seed,
            out,
        } => load(&scenarios).and_then(|s| run(&s, seed, &out)),
        Command::Sweep {
            scenarios,
            seeds,
            out,
        } => load(&scenarios).and_then(|s| sweep(&s, seeds, &out)),
        Command::Replay {
            scenario,
            seed,
            subject,
            out,
        } => load(&[scenario]).and_then(|s| match subject.as_str() {
            "ours" => replay(&s[0], seed, &out),
            other => replay_subject(other, &s[0], seed, &out),
        }),
        Command::Conform {
            subjects,
            seeds,
            cases,
            seed,
            out,
        } => conform(&subjects, Options { seeds, cases, seed }, out),
        Command::Experiment { which } => experiment(which),
    };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(message) => {
            eprintln!("retry-sim: {message}");
            ExitCode::from(2)
        }
    }
}

fn judge(name: &str, scenario: &Scenario, seed: u64) -> Result<Evaluation, String> {
    evaluate(scenario, seed, true).map_err(|e| format!("{name}: cannot start the runtime: {e}"))
}

fn failures(name: &str, e: &Evaluation) -> Vec<String> {
    let mut out: Vec<String> = e
        .violations
        .iter()
        .map(|v| format!("{name} seed {}: {v}", e.seed))
        .collect();
    out.extend(
        e.unmet
            .iter()
            .map(|u| format!("{name} seed {}: expectation {u}", e.seed)),
    );
    if let Some(d) = &e.divergence {
        out.push(format!("{name} seed {}: not deterministic: {d}", e.seed));
    }
    out
}

fn write_outputs(out: &Outputs, trace: &Trace) -> Result<(), String> {
    let write = |path: &PathBuf, text: String| {
        std::fs::write(path, text).map_err(|err| format!("{}: {err}", path.display()))
    };
    if let Some(path) = &out.trace {
        write(path, trace.to_json_lines())?;
    }
    if let Some(path) = &out.svg {
        write(path, report::svg(trace, 400))?;
    }
    Ok(())
}

fn run(scenarios: &[Named], seed: u64, out: &Outputs) -> Result<bool, String> {
    let mut passed = true;
    let mut combined = Trace::default();
    for (name, scenario) in scenarios {
        let e = judge(name, scenario, seed)?;
        print!(
            "{}",
            report::table(name, seed, &e.summary, &e.violations, &e.unmet)
        );
        if let Some(d) = &e.divergence {
            println!("  NOT DETERMINISTIC: {d}");
        }
        if !e.passed() {
            println!("  replay: {}", replay_command(name, seed));
            passed = false;
        }
        println!();
        combined.records.extend(e.trace.records);
    }
    write_outputs(out, &combined)?;
    Ok(passed)
}

fn replay(named: &Named, seed: u64, out: &Outputs) -> Result<bool, String> {
    let (name, scenario) = named;
    let e = judge(name, scenario, seed)?;
    print!("{}", e.trace.to_text());
    println!();
    print!(
        "{}",
        report::table(name, seed, &e.summary, &e.violations, &e.unmet)
    );
    write_outputs(out, &e.trace)?;
    Ok(e.passed())
}

fn sweep(scenarios: &[Named], seeds: Range<u64>, out: &Outputs) -> Result<bool, String> {
    let jobs: Vec<(usize, u64)> = (0..scenarios.len())
        .flat_map(|s| seeds.clone().map(move |seed| (s, seed)))
        .collect();
    let bar = ProgressBar::new(jobs.len() as u64);
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} runs, {elapsed} ({eta} left)")
            .map_err(|e| e.to_string())?,
    );
    let next = AtomicU64::new(0);
    let found: Mutex<Vec<(usize, u64, Vec<String>)>> = Mutex::new(Vec::new());
    let errors: Mutex<Vec<String>> = Mutex::new(Vec::new());
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let started = std::time::Instant::now();
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                while let Some(&(s, seed)) = jobs.get(next.fetch_add(1, Ordering::Relaxed) as usize)
                {
                    let (name, scenario) = &scenarios[s];
                    match judge(name, scenario, seed) {
                        Ok(e) if !e.passed() => found
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .push((s, seed, failures(name, &e))),
                        Ok(_) => {}
                        Err(err) => errors.lock().unwrap_or_else(|p| p.into_inner()).push(err),
                    }
                    bar.inc(1);
                }
            });
        }
    });
    bar.finish_and_clear();
    if let Some(err) = errors.into_inner().unwrap_or_default().first() {
        return Err(err.clone());
    }
    let mut found = found.into_inner().unwrap_or_default();
    found.sort();
    // Wall-clock figures go to stderr, so stdout stays the same from run to run.
    eprintln!(
        "{} runs in {:.1} s on {threads} threads",
        jobs.len(),
        started.elapsed().as_secs_f64()
    );
    println!(
        "swept {} scenario(s) x seeds {}..{}: {} failing run(s)",
        scenarios.len(),
        seeds.start,
        seeds.end,
        found.len()
    );
    for (s, seed, lines) in &found {
        for line in lines.iter().take(3) {
            println!("  {line}");
        }
        println!("  replay: {}", replay_command(&scenarios[*s].0, *seed));
    }
    if let Some((s, seed, _)) = found.first() {
        let (name, scenario) = &scenarios[*s];
        write_outputs(out, &judge(name, scenario, *seed)?.trace)?;
    }
    Ok(found.is_empty())
}

fn bar(len: u64) -> Result<ProgressBar, String> {
    let bar = ProgressBar::new(len);
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} runs, {elapsed} ({eta} left)")
            .map_err(|e| e.to_string())?,
    );
    Ok(bar)
}

fn write_svg(dir: &Option<PathBuf>, name: &str, svg: String) -> Result<(), String> {
    if let Some(dir) = dir {
        let path = dir.join(name);
        std::fs::write(&path, svg).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    Ok(())
}

fn experiment(which: Experiment) -> Result<bool, String> {
    use provider_retry_sim::experiment::{jitter, storm};
    let runtime = |e: std::io::Error| format!("cannot start the runtime: {e}");
    match which {
        Experiment::Jitter {
            seed,
            runs,
            clients,
            svg_dir,
        } => {
            let config = jitter::Config {
                clients,
                runs,
                seed,
            };
            let progress = bar(config.clients.len() as u64 * 5 * runs)?;
            let points = jitter::run(&config, || progress.inc(1)).map_err(runtime)?;
            progress.finish_and_clear();
            println!("jitter under contention, seed {seed}, {runs} runs per point (means)");
            print!("{}", jitter::table(&points));
            let (calls, time) = jitter::svg(&points);
            write_svg(&svg_dir, "jitter-calls.svg", calls)?;
            write_svg(&svg_dir, "jitter-time.svg", time)?;
        }
        Experiment::Storm {
            seed,
            triggers,
            svg_dir,
        } => {
            let config = storm::Config {
                triggers_ms: triggers,
                seed,
                ..storm::Config::default()
            };
            let progress = bar(config.triggers_ms.len() as u64 * 3)?;
            let outcomes = storm::run(&config, || progress.inc(1)).map_err(runtime)?;
            progress.finish_and_clear();
            println!("retry storm, seed {seed}");
            print!("{}", storm::table(&config, &outcomes));
            write_svg(&svg_dir, "storm-goodput.svg", storm::svg(&outcomes))?;
        }
    }
    Ok(true)
}

fn runtime_error(e: std::io::Error) -> String {
    format!("cannot start the runtime: {e}")
}

fn replay_subject(subject: &str, named: &Named, seed: u64, out: &Outputs) -> Result<bool, String> {
    fn go<W: Wrapper>(w: &W, named: &Named, seed: u64, out: &Outputs) -> Result<bool, String> {
        let (name, scenario) = named;
        let judged =
            provider_retry_sim::conform::judge(w, scenario, seed).map_err(runtime_error)?;
        print!("{}", judged.trace.to_text());
        println!();
        println!("scenario {name} (seed {seed}) against {}", w.name());
        for v in &judged.violations {
            println!("  VIOLATED {v}");
        }
        if judged.violations.is_empty() {
            println!("  every oracle held");
        }
        write_outputs(out, &judged.trace)?;
        Ok(judged.violations.is_empty())
    }
    match subject {
        "crabllm" => go(&Crabllm, named, seed, out),
        "bare" => go(&Bare, named, seed, out),
        _ => go(&Ours, named, seed, out),
    }
}

fn conform(subjects: &[String], options: Options, out: Option<PathBuf>) -> Result<bool, String> {
    let names: Vec<&str> = match subjects.is_empty() {
        true => SUBJECTS.to_vec(),
        false => subjects.iter().map(String::as_str).collect(),
    };
    let progress = bar(names.len() as u64)?;
    let mut reports = Vec::new();
    for name in &names {
        let report = match *name {
            "crabllm" => provider_retry_sim::conform::suite(&Crabllm, &options),
            "bare" => provider_retry_sim::conform::suite(&Bare, &options),
            _ => provider_retry_sim::conform::suite(&Ours, &options),
        }
        .map_err(runtime_error)?;
        reports.push((*name, report));
        progress.inc(1);
    }
    progress.finish_and_clear();
    let dir = out.unwrap_or_else(|| std::env::temp_dir().join("retry-sim-conform"));
    println!(
        "conformance: built-in scenarios x seeds 0..{}, {} generated scenarios per oracle (generator seed {})",
        options.seeds, options.cases, options.seed
    );
    let tables: Vec<Report> = reports.iter().map(|(_, r)| r.clone()).collect();
    print!("{}", provider_retry_sim::conform::table(&tables));
    let mut ours_held = true;
    for (name, report) in &reports {
        if report.findings.is_empty() {
            continue;
        }
        println!();
        println!("{}:", report.subject);
        for ((oracle, _), f) in &report.findings {
            let target = match f.name.as_str() {
                "generated" => {
                    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
                    let path = dir.join(format!("{name}-{oracle}.toml"));
                    let text = toml::to_string(&f.scenario).map_err(|e| e.to_string())?;
                    std::fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))?;
                    path.display().to_string()
                }
                builtin => builtin.to_string(),
            };
            println!("  {}", f.violation);
            println!(
                "    replay: cargo run --release -p provider-retry-sim -- replay {target} --seed {} --subject {name}",
                f.seed
            );
        }
        if *name == "ours" {
            ours_held = false;
        }
    }
    if let Some((_, r)) = reports.iter().find(|(n, _)| *n == "ours") {
        ours_held &= r.held();
    }
    Ok(ours_held)
}
