//! Which part of a sweep one process runs: shard `I/N`, given on the command
//! line or, in a Kubernetes Indexed Job, by the environment.
//!
//! Kubernetes sets `JOB_COMPLETION_INDEX` in every pod of an Indexed Job; it
//! sets no variable for the number of completions, so the manifest sets
//! `JOB_COMPLETIONS` to the Job's `spec.completions` (see
//! `deploy/sweep-job.yaml`).

use std::ops::Range;

/// The variable Kubernetes sets to a pod's index in an Indexed Job.
pub const INDEX_VAR: &str = "JOB_COMPLETION_INDEX";

/// The variable that carries the number of shards (the Job's `spec.completions`).
pub const COUNT_VAR: &str = "JOB_COMPLETIONS";

/// Shard `index` of `count` (`0 <= index < count`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// Which shard, from 0.
    pub index: u64,
    /// How many shards the sweep is cut into.
    pub count: u64,
}

impl Shard {
    /// Shard `index` of `count`.
    ///
    /// # Errors
    ///
    /// `count` is 0 or `index` is not below it.
    pub fn new(index: u64, count: u64) -> Result<Shard, String> {
        if count == 0 || index >= count {
            return Err(format!("shard {index}/{count}: need 0 <= I < N"));
        }
        Ok(Shard { index, count })
    }
}

impl Default for Shard {
    fn default() -> Self {
        Shard { index: 0, count: 1 }
    }
}

impl std::str::FromStr for Shard {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let (index, count) = two_numbers(
            text,
            "/",
            "I/N, for example 0/4",
            "shard index",
            "shard count",
        )?;
        Shard::new(index, count)
    }
}

/// The seeds a sweep runs, written `A..B` (`B` excluded, as in Rust).
///
/// # Errors
///
/// `text` is not two numbers around `..`, or the range is empty.
pub fn parse_seeds(text: &str) -> Result<Range<u64>, String> {
    let (start, end) = two_numbers(text, "..", "A..B, for example 0..100", "start", "end")?;
    if start >= end {
        return Err(format!("empty range {start}..{end}"));
    }
    Ok(start..end)
}

/// Two numbers around `sep`, each named in the error that refuses it.
fn two_numbers(
    text: &str,
    sep: &str,
    expected: &str,
    first: &str,
    second: &str,
) -> Result<(u64, u64), String> {
    let (a, b) = text
        .split_once(sep)
        .ok_or_else(|| format!("expected {expected}"))?;
    let number = |part: &str, name: &str| {
        part.trim()
            .parse::<u64>()
            .map_err(|e| format!("bad {name} {part:?}: {e}"))
    };
    Ok((number(a, first)?, number(b, second)?))
}

/// A shard as the command line names it: `I/N`, or `env` for the pod's place
/// in an Indexed Job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShardSpec {
    /// `I/N`, given outright.
    Fixed(Shard),
    /// `env`: read [`INDEX_VAR`] and [`COUNT_VAR`] when the command runs.
    Env,
}

impl std::str::FromStr for ShardSpec {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        match text.trim() {
            "env" => Ok(ShardSpec::Env),
            fixed => fixed
                .parse()
                .map(ShardSpec::Fixed)
                .map_err(|e| format!("{e} (or `env` in a Kubernetes Indexed Job)")),
        }
    }
}

impl ShardSpec {
    /// The shard this process runs; `var` looks up an environment variable
    /// (`|name| std::env::var(name).ok()` in the command line).
    ///
    /// # Errors
    ///
    /// For `env`: a variable that is missing or not a number, or an index not
    /// below the count.
    pub fn resolve(self, var: impl Fn(&str) -> Option<String>) -> Result<Shard, String> {
        match self {
            ShardSpec::Fixed(shard) => Ok(shard),
            ShardSpec::Env => {
                let index = number(
                    &var,
                    INDEX_VAR,
                    "Kubernetes sets it in each pod of an Indexed Job",
                )?;
                let count = number(&var, COUNT_VAR, "set it to the Job's spec.completions")?;
                Shard::new(index, count).map_err(|e| format!("--shard env: {e}"))
            }
        }
    }
}

/// The whole number in variable `name`; `hint` says who sets it.
fn number(var: &impl Fn(&str) -> Option<String>, name: &str, hint: &str) -> Result<u64, String> {
    let text = var(name).ok_or_else(|| format!("--shard env: {name} is not set ({hint})"))?;
    text.trim()
        .parse()
        .map_err(|_| format!("--shard env: {name}={text:?} is not a whole number ({hint})"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_parse_and_reject_nonsense() {
        assert_eq!("1/4".parse(), Ok(Shard { index: 1, count: 4 }));
        assert!("4/4".parse::<Shard>().is_err());
        assert!("0/0".parse::<Shard>().is_err());
        assert!("x".parse::<Shard>().is_err());
    }

    fn env<'a>(vars: &'a [(&str, &str)]) -> impl Fn(&str) -> Option<String> + 'a {
        |name| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn env_shard_reads_the_indexed_job_variables() {
        let spec: ShardSpec = "env".parse().unwrap();
        let vars = [(INDEX_VAR, "2"), (COUNT_VAR, "3")];
        assert_eq!(spec.resolve(env(&vars)), Ok(Shard { index: 2, count: 3 }));
    }

    #[test]
    fn a_fixed_shard_ignores_the_environment() {
        let spec: ShardSpec = "1/2".parse().unwrap();
        let vars = [(INDEX_VAR, "x")];
        assert_eq!(spec.resolve(env(&vars)), Ok(Shard { index: 1, count: 2 }));
    }

    #[test]
    fn env_shard_names_the_variable_that_is_missing_or_malformed() {
        let cases: [(&[(&str, &str)], &str); 4] = [
            (&[(COUNT_VAR, "2")], "JOB_COMPLETION_INDEX is not set"),
            (&[(INDEX_VAR, "0")], "JOB_COMPLETIONS is not set"),
            (
                &[(INDEX_VAR, "one"), (COUNT_VAR, "2")],
                "JOB_COMPLETION_INDEX=\"one\" is not a whole number",
            ),
            (&[(INDEX_VAR, "2"), (COUNT_VAR, "2")], "shard 2/2"),
        ];
        for (vars, expected) in cases {
            let e = ShardSpec::Env.resolve(env(vars)).unwrap_err();
            assert!(
                e.starts_with("--shard env: ") && e.contains(expected),
                "{e}"
            );
        }
    }

    #[test]
    fn a_bad_spec_suggests_env() {
        let e = "x".parse::<ShardSpec>().unwrap_err();
        assert!(e.contains("expected I/N") && e.contains("`env`"), "{e}");
    }
}
