//! Where a key stands in a scenario file: spans from the TOML parser.

use crate::invalid::Seg;
use std::ops::Range;
use toml::de::{DeTable, DeValue};

/// The byte range of the value at `path` in `text`, or of its nearest
/// ancestor present in the file (a key left to its default has no span).
/// A path ending at a key points at the key itself.
pub fn span(text: &str, path: &[Seg]) -> Option<Range<usize>> {
    let doc = DeTable::parse(text).ok()?;
    let mut best = None;
    let mut table: Option<&DeTable<'_>> = Some(doc.get_ref());
    let mut array: Option<&toml::de::DeArray<'_>> = None;
    for seg in path {
        let value = match (seg, table, array) {
            (Seg::Key(k), Some(t), _) => {
                let Some((key, value)) = t.iter().find(|(key, _)| key.get_ref().as_ref() == k)
                else {
                    return best;
                };
                best = Some(key.span());
                value
            }
            (Seg::Index(i), _, Some(a)) => {
                let Some(value) = a.get(*i) else {
                    return best;
                };
                best = Some(value.span());
                value
            }
            _ => return best,
        };
        (table, array) = match value.get_ref() {
            DeValue::Table(t) => (Some(t), None),
            DeValue::Array(a) => (None, Some(a)),
            _ => (None, None),
        };
    }
    best
}

/// 1-based line and column of byte `offset` in `text`.
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(k: &str) -> Seg {
        Seg::Key(k.into())
    }

    #[test]
    fn keys_in_tables_and_arrays_are_found_where_they_stand() {
        let text =
            "a = 1\n[faults]\noutages = [{ start_ms = 5, end_ms = 1 }]\n[workload]\nclients = 0\n";
        let at = |path: &[Seg]| span(text, path).map(|s| line_col(text, s.start));
        assert_eq!(at(&[key("workload"), key("clients")]), Some((5, 1)));
        assert_eq!(
            at(&[key("faults"), key("outages"), Seg::Index(0), key("end_ms")]),
            Some((3, 28))
        );
        // A key left to its default falls back to its table.
        assert_eq!(at(&[key("workload"), key("calls")]), Some((4, 2)));
        assert_eq!(at(&[key("nowhere")]), None);
    }
}
