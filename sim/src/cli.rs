//! The command line of `retry-sim`, and what each command does.

use crate::report;
use crate::report::overview;
use crate::report::site::Site;
use crate::run::conform::{self, Options, Report};
use crate::run::shard::{Shard, ShardSpec, parse_seeds};
use crate::run::sweep::{self, RunLine};
use crate::run::{Evaluation, evaluate, replay_command};
use crate::scenario::Scenario;
use crate::subject::{Subject, SubjectName, Visit, visit};
use crate::trace::Trace;
use crate::{DEFAULT_SEED, builtin, experiment};
use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use std::collections::BTreeMap;
use std::ops::Range;
use std::path::{Path, PathBuf};

/// The arguments.
#[derive(Parser)]
#[command(
    name = "retry-sim",
    version,
    about = "Deterministic fault simulation for retry wrappers"
)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run scenarios (built-in names or files; all built-ins if none) under
    /// one seed: one table of them all, or one scenario in detail.
    Run {
        scenarios: Vec<String>,
        #[arg(long, default_value_t = DEFAULT_SEED)]
        seed: u64,
        #[arg(long, value_enum, default_value = "ours")]
        subject: SubjectName,
        /// Print every scenario in detail (every oracle, latency percentiles),
        /// not one table of them all.
        #[arg(long, short)]
        verbose: bool,
        #[command(flatten)]
        out: Outputs,
        /// Write an HTML report (index.html and its pictures) into this directory.
        #[arg(long)]
        report: Option<PathBuf>,
    },
    /// Run scenarios across a range of seeds on every core, then list failures.
    Sweep {
        scenarios: Vec<String>,
        /// Seeds as A..B (B excluded).
        #[arg(long, value_parser = parse_seeds)]
        seeds: Range<u64>,
        #[arg(long, value_enum, default_value = "ours")]
        subject: SubjectName,
        /// Run only shard I of N (jobs whose position is I modulo N); `env`
        /// reads I and N from JOB_COMPLETION_INDEX and JOB_COMPLETIONS, as in
        /// a Kubernetes Indexed Job.
        #[arg(long, default_value = "0/1")]
        shard: ShardSpec,
        /// Write one JSON line per run here, for `retry-sim merge`.
        #[arg(long)]
        json: Option<PathBuf>,
        /// For the first failing run, if any.
        #[command(flatten)]
        out: Outputs,
        /// Write an HTML report into this directory: per scenario, its first
        /// failing run (else its first seed).
        #[arg(long)]
        report: Option<PathBuf>,
    },
    /// Merge the JSON lines of sharded sweeps into one report.
    Merge {
        /// The JSON lines of each shard (`sweep --json`).
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Write the merged runs as JSON lines here.
        #[arg(long)]
        json: Option<PathBuf>,
        /// Write an HTML report into this directory, as `sweep --report`
        /// would have (the runs shown are run again: they are deterministic).
        #[arg(long)]
        report: Option<PathBuf>,
    },
    /// Print the full trace of one scenario under one seed.
    Replay {
        scenario: String,
        #[arg(long)]
        seed: u64,
        #[arg(long, value_enum, default_value = "ours")]
        subject: SubjectName,
        #[command(flatten)]
        out: Outputs,
    },
    /// Judge retry wrappers against every oracle in both worlds; exit 1 if a
    /// correct wrapper (ours in each jitter kind, tower, the reference loops) fails one.
    Conform {
        /// Subjects (all if none).
        #[arg(value_enum)]
        subjects: Vec<SubjectName>,
        /// Seeds 0..N for each built-in in-process scenario.
        #[arg(long, default_value_t = Options::default().seeds, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
        seeds: u64,
        /// Seeds 0..N for each built-in network scenario.
        #[arg(long, default_value_t = Options::default().net_seeds, value_parser = clap::value_parser!(u64).range(0..=100_000))]
        net_seeds: u64,
        /// Generated scenarios tried per oracle.
        #[arg(long, default_value_t = Options::default().cases, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
        cases: u32,
        /// Seeds the scenario generator.
        #[arg(long, default_value_t = DEFAULT_SEED)]
        seed: u64,
        /// Runs of each case for subjects that cannot be seeded.
        #[arg(long, default_value_t = Options::default().repeats, value_parser = clap::value_parser!(u32).range(1..=1000))]
        repeats: u32,
        /// Where to write the smallest failing generated scenarios (default: a temp dir).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Write an HTML report into this directory: the verdicts, and a page per finding.
        #[arg(long)]
        report: Option<PathBuf>,
    },
    /// Compare policies side by side: jitter under contention, or retry storms.
    Experiment {
        #[command(subcommand)]
        which: experiment::Which,
    },
    /// Serve a scenario's fault plan over real HTTP in real time, recording
    /// every attempt, for any client (see `sim/clients/drive.py`). A gateway's
    /// deployments each point at a path under `/upstream/<i>/`: upstream 0 is
    /// `[faults]`, upstream 1 the first `[[fallback]]` plan, and so on.
    Serve {
        /// A built-in scenario's name or a scenario file (its workload is the client's).
        scenario: String,
        /// Where to listen: loopback only (port 0 picks a free one).
        #[arg(long, default_value = "127.0.0.1:8787", value_parser = crate::flags::loopback)]
        addr: std::net::SocketAddr,
        /// Write the record (JSON lines of trace records) here; default stdout.
        #[arg(long)]
        record: Option<PathBuf>,
        /// Stop after this long if no client POSTs /sim/done first: seconds
        /// (`1.5`) or a number with a unit (`90s`, `2m`), at most a day
        /// [default: 60 s].
        #[arg(long, value_parser = crate::flags::horizon)]
        horizon: Option<std::time::Duration>,
        /// Seeds the fault plan's dice.
        #[arg(long, default_value_t = DEFAULT_SEED)]
        seed: u64,
    },
    /// Judge records taken by `serve` against a claim; print the verdict table.
    Judge {
        /// Record files (one column each).
        #[arg(required_unless_present = "print_claim")]
        records: Vec<PathBuf>,
        /// A built-in claim (openai-python, anthropic-python, ours) or a JSON claim file.
        #[arg(long)]
        claim: String,
        /// Adjust one knob of the claim, `KNOB=VALUE` (repeatable): max_retries,
        /// timeout, initial, factor, cap, deadline, retry_after_max, statuses,
        /// first_chunk, stream_idle, retry_after_jitter, retry_after_above, floor,
        /// upstreams, upstream_order, cooldown, server_waits. For example
        /// `--set max_retries=5 --set timeout=2s`.
        #[arg(long = "set", value_name = "KNOB=VALUE")]
        sets: Vec<String>,
        /// How late a measured wait may end (real-time scheduling noise):
        /// milliseconds (`50`, `2.5`) or a number with a unit (`0.1s`)
        /// [default: 100 ms].
        #[arg(long = "tolerance", alias = "tolerance-ms", value_parser = crate::flags::millis)]
        tolerance: Option<std::time::Duration>,
        /// Print the claim as JSON (a start for a claim file) and judge nothing.
        #[arg(long)]
        print_claim: bool,
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

/// Run a parsed command line: `Ok(true)` if everything held, `Ok(false)` if
/// something failed, `Err` (exit 2) for bad input, before anything ran.
///
/// # Errors
///
/// Bad input, an unwritable output, or a world that cannot start.
pub fn execute(cli: Cli) -> Result<bool, String> {
    crate::world::clients::quiet_caught_panics();
    match cli.command {
        Command::Run {
            scenarios,
            seed,
            subject,
            verbose,
            out,
            report,
        } => {
            let scenarios = load(&scenarios)?;
            let site = report.as_deref().map(Site::prepare).transpose()?;
            visit(
                subject,
                RunAll {
                    detail: verbose || scenarios.len() == 1,
                    scenarios: &scenarios,
                    seed,
                    out: &out,
                    key: subject.as_str(),
                    site: site.as_ref(),
                },
            )
        }
        Command::Sweep {
            scenarios,
            seeds,
            subject,
            shard,
            json,
            out,
            report,
        } => {
            let shard = shard.resolve(|name| std::env::var(name).ok())?;
            let scenarios = load(&scenarios)?;
            let site = report.as_deref().map(Site::prepare).transpose()?;
            visit(
                subject,
                Sweep {
                    scenarios: &scenarios,
                    seeds,
                    shard,
                    json: json.as_deref(),
                    out: &out,
                    key: subject.as_str(),
                    site: site.as_ref(),
                },
            )
        }
        Command::Merge {
            files,
            json,
            report,
        } => merge(&files, json.as_deref(), report.as_deref()),
        Command::Replay {
            scenario,
            seed,
            subject,
            out,
        } => {
            let scenarios = load(&[scenario])?;
            visit(
                subject,
                Replay {
                    named: &scenarios[0],
                    seed,
                    out: &out,
                    key: subject.as_str(),
                },
            )
        }
        Command::Conform {
            subjects,
            seeds,
            net_seeds,
            cases,
            seed,
            repeats,
            out,
            report,
        } => {
            let options = Options {
                seeds,
                net_seeds,
                cases,
                seed,
                repeats,
            };
            let site = report.as_deref().map(Site::prepare).transpose()?;
            conform_all(&subjects, &options, out, site.as_ref())
        }
        Command::Experiment { which } => experiment::execute(which),
        Command::Serve {
            scenario,
            addr,
            record,
            horizon,
            seed,
        } => {
            // Served callers come from outside: `[workload]` may be left out.
            let scenario = match builtin::get(&scenario) {
                Some(parsed) => parsed.map_err(|e| e.to_string())?,
                None => Scenario::load_served(Path::new(&scenario)).map_err(|e| e.to_string())?,
            };
            let options = crate::serve::Options {
                addr,
                horizon: horizon.unwrap_or(crate::serve::DEFAULT_HORIZON),
                seed,
            };
            crate::serve::command(&scenario, options, record.as_deref())
        }
        Command::Judge {
            records,
            claim,
            sets,
            tolerance,
            print_claim,
        } => crate::judge::command(
            &records,
            &claim,
            &sets,
            tolerance.unwrap_or(crate::judge::DEFAULT_TOLERANCE),
            print_claim,
        ),
    }
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
                builtin::BUILTIN
                    .iter()
                    .map(|(n, _)| *n)
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
        })
        .collect()
}

fn progress(len: u64) -> Result<ProgressBar, String> {
    let bar = ProgressBar::new(len);
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} runs, {elapsed} ({eta} left)")
            .map_err(|e| e.to_string())?,
    );
    Ok(bar)
}

fn world_error(e: std::io::Error) -> String {
    format!("cannot start a world: {e}")
}

fn write_outputs(out: &Outputs, trace: &Trace) -> Result<(), String> {
    if let Some(path) = &out.trace {
        write_file(path, &trace.to_json_lines())?;
    }
    if let Some(path) = &out.svg {
        write_file(path, &report::svg(trace, report::timeline::SVG_ROWS))?;
    }
    Ok(())
}

struct RunAll<'a> {
    scenarios: &'a [Named],
    seed: u64,
    /// Every scenario in detail, rather than one table of them all.
    detail: bool,
    out: &'a Outputs,
    key: &'a str,
    site: Option<&'a Site>,
}

impl Visit for RunAll<'_> {
    type Output = Result<bool, String>;

    fn visit<S: Subject>(self, subject: &S) -> Self::Output {
        let mut combined = Trace::default();
        let mut sections = Vec::new();
        let mut evaluations = Vec::new();
        for (name, scenario) in self.scenarios {
            let e = evaluate(subject, scenario, self.seed, true).map_err(world_error)?;
            if self.site.is_some() {
                sections.push(report::page::of_run(subject, name, scenario, &e, self.key));
            }
            if self.detail {
                print!("{}", detail(name, scenario, &e, self.key));
            }
            combined.records.extend(e.trace.records.iter().cloned());
            evaluations.push(e);
        }
        if !self.detail {
            let rows: Vec<overview::Row<'_>> = self
                .scenarios
                .iter()
                .zip(&evaluations)
                .map(|((name, _), evaluation)| overview::Row { name, evaluation })
                .collect();
            let whole = overview::Whole {
                seed: self.seed,
                subject: &subject.name(),
                key: self.key,
            };
            print!("{}", overview::overview(&rows, &whole));
        }
        write_outputs(self.out, &combined)?;
        if let Some(site) = self.site {
            let intro = format!("seed {}", self.seed);
            site.write_runs(&subject.name(), self.key, &intro, None, &sections)?;
        }
        Ok(evaluations.iter().all(Evaluation::passed))
    }
}

/// One scenario's run in detail: its table, the expectations only a sweep
/// judges, any divergence, and the replay command if it failed.
fn detail(name: &str, scenario: &Scenario, e: &Evaluation, key: &str) -> String {
    let mut out = report::table(name, e);
    for (bound, rate) in [
        ("at least", scenario.expect.min_success_rate),
        ("at most", scenario.expect.max_success_rate),
    ] {
        if let Some(rate) = rate {
            out.push_str(&format!(
                "  (mean success rate expected {bound} {rate}: judged across seeds by `sweep`)\n"
            ));
        }
    }
    if let Some(d) = &e.divergence {
        out.push_str(&format!("  NOT DETERMINISTIC: {d}\n"));
    }
    if !e.passed() {
        out.push_str(&format!(
            "  replay: {}\n",
            replay_command(name, e.seed, key)
        ));
    }
    out.push('\n');
    out
}

struct Replay<'a> {
    named: &'a Named,
    seed: u64,
    out: &'a Outputs,
    key: &'a str,
}

impl Visit for Replay<'_> {
    type Output = Result<bool, String>;

    fn visit<S: Subject>(self, subject: &S) -> Self::Output {
        let (name, scenario) = self.named;
        let e = evaluate(subject, scenario, self.seed, true).map_err(world_error)?;
        print!("{}", e.trace.to_text());
        println!();
        println!("against {} ({})", subject.name(), self.key);
        print!("{}", report::table(name, &e));
        write_outputs(self.out, &e.trace)?;
        Ok(e.passed())
    }
}

struct Sweep<'a> {
    scenarios: &'a [Named],
    seeds: Range<u64>,
    shard: Shard,
    json: Option<&'a Path>,
    out: &'a Outputs,
    key: &'a str,
    site: Option<&'a Site>,
}

impl Visit for Sweep<'_> {
    type Output = Result<bool, String>;

    fn visit<S: Subject>(self, subject: &S) -> Self::Output {
        let jobs = self.scenarios.len() as u64 * (self.seeds.end - self.seeds.start);
        let bar = progress(jobs.div_ceil(self.shard.count))?;
        let started = std::time::Instant::now();
        let lines = sweep::sweep(
            subject,
            self.key,
            self.scenarios,
            self.seeds.clone(),
            self.shard,
            &|| bar.inc(1),
        )
        .map_err(world_error)?;
        bar.finish_and_clear();
        // Wall-clock figures go to stderr, so stdout stays the same from run to run.
        eprintln!(
            "{} runs in {:.1} s",
            lines.len(),
            started.elapsed().as_secs_f64()
        );
        if let Some(path) = self.json {
            write_file(path, &sweep::to_json_lines(&lines))?;
        }
        let by_name: BTreeMap<String, Scenario> = self.scenarios.iter().cloned().collect();
        println!(
            "swept {} scenario(s) x seeds {}..{} (shard {}/{}) against {}",
            self.scenarios.len(),
            self.seeds.start,
            self.seeds.end,
            self.shard.index,
            self.shard.count,
            subject.name()
        );
        let (text, passed) = sweep::report(&lines, &by_name);
        print!("{text}");
        if let Some(site) = self.site {
            let intro = format!(
                "seeds {}..{}; each scenario below shows its first failing run, else its first seed",
                self.seeds.start, self.seeds.end
            );
            SweepPages {
                scenarios: self.scenarios,
                lines: &lines,
                key: self.key,
                intro: &intro,
                text: &text,
                site,
            }
            .visit(subject)?;
        }
        if let Some(first) = lines.iter().find(|l| !l.failures.is_empty())
            && let Some((_, scenario)) = self.scenarios.iter().find(|(n, _)| *n == first.scenario)
        {
            let e = evaluate(subject, scenario, first.seed, false).map_err(world_error)?;
            write_outputs(self.out, &e.trace)?;
        }
        Ok(passed)
    }
}

/// The HTML report of a sweep or of merged shards: per scenario its first
/// failing run, else its first seed, run again.
struct SweepPages<'a> {
    scenarios: &'a [Named],
    lines: &'a [RunLine],
    key: &'a str,
    intro: &'a str,
    text: &'a str,
    site: &'a Site,
}

impl Visit for SweepPages<'_> {
    type Output = Result<(), String>;

    fn visit<S: Subject>(self, subject: &S) -> Self::Output {
        let sections = report::page::of_sweep(subject, self.scenarios, self.lines, self.key)
            .map_err(world_error)?;
        self.site.write_runs(
            &subject.name(),
            self.key,
            self.intro,
            Some(self.text),
            &sections,
        )
    }
}

fn merge(files: &[PathBuf], json: Option<&Path>, report: Option<&Path>) -> Result<bool, String> {
    let mut shards = Vec::new();
    for path in files {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        shards.push(sweep::parse_json_lines(&path.display().to_string(), &text)?);
    }
    let lines = sweep::merge(shards)?;
    let names: Vec<String> = lines
        .iter()
        .map(|l| l.scenario.clone())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    let named = load(&names)?;
    let site = report.map(Site::prepare).transpose()?;
    let scenarios: BTreeMap<String, Scenario> = named.iter().cloned().collect();
    println!("merged {} file(s)", files.len());
    let (text, passed) = sweep::report(&lines, &scenarios);
    print!("{text}");
    if let Some(path) = json {
        write_file(path, &sweep::to_json_lines(&lines))?;
    }
    if let Some(site) = site {
        let subject = only_subject(&lines)?;
        let intro = format!(
            "{} run(s) merged from {} file(s); each scenario below shows its first failing run, else its first seed",
            lines.len(),
            files.len()
        );
        visit(
            subject,
            SweepPages {
                scenarios: &named,
                lines: &lines,
                key: subject.as_str(),
                intro: &intro,
                text: &text,
                site: &site,
            },
        )?;
    }
    Ok(passed)
}

/// The one subject merged runs are of: an HTML report shows one subject.
fn only_subject(lines: &[RunLine]) -> Result<SubjectName, String> {
    let keys: std::collections::BTreeSet<&str> = lines.iter().map(|l| l.subject.as_str()).collect();
    let [key] = keys.iter().collect::<Vec<_>>()[..] else {
        let all: Vec<&str> = keys.into_iter().collect();
        return Err(format!(
            "merge --report: the runs are of {} subjects ({}); merge one subject's shards at a time",
            all.len(),
            all.join(", ")
        ));
    };
    <SubjectName as clap::ValueEnum>::from_str(key, false)
        .map_err(|_| format!("merge --report: {key:?} is not a built-in subject"))
}

fn write_file(path: &Path, text: &str) -> Result<(), String> {
    std::fs::write(path, text).map_err(|e| format!("{}: {e}", path.display()))
}

fn conform_all(
    subjects: &[SubjectName],
    options: &Options,
    out: Option<PathBuf>,
    site: Option<&Site>,
) -> Result<bool, String> {
    let names: Vec<SubjectName> = match subjects.is_empty() {
        true => SubjectName::ALL.to_vec(),
        false => subjects.to_vec(),
    };
    let bar = progress(names.len() as u64)?;
    let reports = conform::suites(&names, options, &|| bar.inc(1)).map_err(world_error)?;
    bar.finish_and_clear();
    let dir = out.unwrap_or_else(|| std::env::temp_dir().join("retry-sim-conform"));
    println!(
        "conformance: built-in scenarios x seeds 0..{} (network: 0..{}), {} generated scenarios per oracle (generator seed {})",
        options.seeds, options.net_seeds, options.cases, options.seed
    );
    println!("{}", conform::SHARING);
    print!("{}", conform::table(&reports));
    print!("{}", conform::unexercised(&reports));
    for report in &reports {
        print_findings(report, &dir)?;
    }
    if let Some(site) = site {
        report::verdicts::write(site, &names, &reports, options)?;
    }
    let correct: Vec<&str> = SubjectName::CORRECT.iter().map(|n| n.as_str()).collect();
    Ok(reports
        .iter()
        .filter(|r| correct.contains(&r.key.as_str()))
        .all(Report::held))
}

fn print_findings(report: &Report, dir: &Path) -> Result<(), String> {
    if report.findings.is_empty() {
        return Ok(());
    }
    println!();
    println!("{}:", report.subject);
    for ((oracle, _), f) in &report.findings {
        let target = match f.name.as_str() {
            "generated" => {
                std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
                let path = dir.join(format!("{}-{oracle}.toml", report.key));
                let text = toml::to_string(&f.scenario).map_err(|e| e.to_string())?;
                std::fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))?;
                path.display().to_string()
            }
            builtin => builtin.to_string(),
        };
        println!("  {}", f.violation);
        println!(
            "    replay: {}",
            replay_command(&target, f.seed, &report.key)
        );
    }
    Ok(())
}
