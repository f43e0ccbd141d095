//! Whether a text a person reads is written for a person: no raw count of
//! nanoseconds (`88000000ns`) and no Rust `Debug` text (`Some(Failed(..))`,
//! `Status { status: 400, .. }`, `["exhausted"]`).
//!
//! Durations in words come from [`crate::duration::human`], failures from
//! [`crate::trace::Failure`]'s `Display`; this is the check that holds
//! every verdict to them (the judge's tests run it over the messages of
//! many violating traces).

/// The first piece of `text` a person could not read, if any: a duration
/// written as digits glued to `ns` (`120ns`) or as four digits or more
/// before ` ns` ([`human`](crate::duration::human) writes nanoseconds only
/// below a microsecond, and always with a space), or `Debug` output: a
/// capitalised name followed by `(` or ` { ` (`Some(`, `Status { `), the
/// word `None`, or a list of quoted strings (`["`).
pub fn unreadable(text: &str) -> Option<String> {
    let words: Vec<&str> = text.split(' ').collect();
    for (i, word) in words.iter().enumerate() {
        let digits = word.chars().take_while(char::is_ascii_digit).count();
        if digits > 0 && raw_ns_suffix(&word[digits..]) {
            return Some((*word).to_string());
        }
        let next_is_ns = words.get(i + 1).is_some_and(|w| raw_ns_suffix(w));
        if digits >= 4 && digits == word.len() && next_is_ns {
            return Some(format!("{word} ns"));
        }
        if let Some(found) = debug_text(word, words.get(i + 1).copied()) {
            return Some(found);
        }
    }
    None
}

/// `ns` ending a word (`ns`, `ns)`, `ns,`), not a word that begins with it.
fn raw_ns_suffix(rest: &str) -> bool {
    rest.strip_prefix("ns")
        .is_some_and(|after| after.chars().all(|c| !c.is_alphanumeric()))
}

/// Debug text in `word` (followed by `next`): `Name(`, `Name {`, a
/// CamelCase name, a bare variant name of the trace's enums, `["`.
fn debug_text(word: &str, next: Option<&str>) -> Option<String> {
    let trimmed = word.trim_start_matches(|c: char| !c.is_alphanumeric() && c != '[');
    if trimmed.contains("[\"") {
        return Some(word.to_string());
    }
    let name: String = trimmed
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect();
    if !name.chars().next().is_some_and(|c| c.is_ascii_uppercase()) {
        return None;
    }
    let after = &trimmed[name.len()..];
    let bare = after.chars().all(|c| !c.is_alphanumeric() && c != '-');
    let camel = name
        .as_bytes()
        .windows(2)
        .any(|p| p[0].is_ascii_lowercase() && p[1].is_ascii_uppercase());
    let variant = bare && VARIANTS.contains(&name.as_str());
    let struct_like = after.is_empty() && next == Some("{");
    (after.starts_with('(') || struct_like || camel || variant).then(|| word.to_string())
}

/// The names `Debug` writes for the trace's and the claim's enums, which
/// no sentence of a verdict begins with.
const VARIANTS: &[&str] = &[
    "None",
    "Some",
    "Ok",
    "Err",
    "Dropped",
    "Failed",
    "Panicked",
    "Status",
    "Network",
    "Decode",
    "Timeout",
    "Unsupported",
    "Other",
    "Attempt",
    "Delay",
    "Exhausted",
    "Deadline",
    "Budget",
    "Scale",
    "Add",
    "Decorrelated",
    "Ignored",
    "Exact",
    "Positive",
];

#[cfg(test)]
mod tests {
    use super::*;

    /// The messages the judge wrote before its verdicts spoke human units:
    /// each one is caught.
    #[test]
    fn raw_nanoseconds_and_debug_text_are_caught() {
        for bad in [
            "Retry-After 1000000000ns after attempt 0 was followed by a 88000000ns wait",
            "attempt 1 followed a non-transient Some(Failed(Status { status: 400, retry_after_ns: None }))",
            "backoff after attempt 1 was 250000000ns, outside [100000000, 200000000]ns",
            "the call ended after attempt 2 failed transiently (Dropped) with retries left",
            "gave up after attempt 2 for deadline, the claim allows [\"exhausted\"]",
            "reported giving up after attempt 1, but the last attempt was Some(2)",
            "a call started at 5000000000ns, after the heal bound 4000000000ns, ended None",
            "backoff delays are not drawn as Scale { lo: 0.0, hi: 1.0 } claims",
            "attempt 0 took 2000000000 ns, timeout 500000000 ns",
            "reported a delay after the final attempt: Delay { attempt: 2, delay_ns: 5, retry_after: false }",
            "gave up after attempt 1 for RetryAfterTooLong",
        ] {
            assert!(unreadable(bad).is_some(), "not caught: {bad}");
        }
    }

    /// What a person reads today passes: durations in their unit (even
    /// nanoseconds below a microsecond), failures in words, envelopes in
    /// brackets, a statistic's symbols.
    #[test]
    fn human_text_passes() {
        for good in [
            "Retry-After 1.000 s after attempt 0 was followed by a 88 ms wait (912 ms below it)",
            "attempt 1 followed attempt 0, which failed: HTTP 400 (not transient)",
            "backoff after attempt 1 was 250 ms, 50 ms above its envelope [100 ms, 200 ms]",
            "the stream was silent for 250 ns from 1.500 µs into the run",
            "gave up after attempt 2 for deadline, the claim allows exhausted or budget",
            "backoff delays are not drawn as the claim says (uniform in [0.5 b, b]): KS D = 0.2100 over n = 100",
            "Kendall's tau = 0.674 over 90 pairs (z = 9.1, critical 4.89 at alpha 1e-6)",
            "[retry_after_honoured] c0#1: HTTP 503 (Retry-After 1.000 s)",
            "the wrapper answers compatible with openai and gemini, the provider with openai",
        ] {
            assert_eq!(unreadable(good), None, "{good}");
        }
    }
}
