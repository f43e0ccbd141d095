//! What runs amount to, for people: text tables, charts, timelines, and
//! an HTML report.
//!
//! | module | role |
//! |---|---|
//! | [`overview`] | the one table `run` prints for many scenarios, and its verdict |
//! | [`table`](mod@table) | the text table of one scenario that `run NAME` and `replay` print |
//! | [`timeline`] | the call timeline `--svg` draws |
//! | [`charts`] | line charts: axes, ticks, legends, log scales, bands |
//! | [`bars`] | bar charts: configurations side by side at a few sizes |
//! | [`style`] | colours, fonts, markers and number labels every picture shares |
//! | [`histogram`] | histograms: counts per bin against an envelope or a law |
//! | [`delays`] | backoff delays per retry against the claim's envelopes (the judge's model) |
//! | [`html`] | escaping, the page skeleton, tables |
//! | [`page`] | one judged run as a section of the report |
//! | [`site`] | the report's directory and its `index.html` |
//! | [`verdicts`] | the conformance verdict table and a page per finding |
//!
//! `retry-sim run|sweep|conform --report DIR` writes `DIR/index.html`,
//! self-contained: the style sheet inline, every picture an SVG file beside
//! it referred to by a relative name, nothing fetched from elsewhere.

pub mod bars;
pub mod charts;
pub mod delays;
pub mod histogram;
pub mod html;
pub mod overview;
pub mod page;
pub mod site;
pub mod style;
pub mod table;
pub mod timeline;
pub mod verdicts;

/// A run's counts live with the runs ([`crate::run::summary`]); shown here too.
pub use crate::run::summary::{POOLED_ALPHA, Summary, pooled_margin, unmet_pooled};
pub use table::table;
pub use timeline::svg;
