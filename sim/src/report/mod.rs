//! What runs amount to, for people: summaries, text tables, charts,
//! timelines, and an HTML report.
//!
//! | module | role |
//! |---|---|
//! | [`summary`] | counts and latency percentiles of a run; expectations it missed |
//! | [`table`] | the text table `run` and `replay` print |
//! | [`timeline`] | the call timeline `--svg` draws |

pub mod summary;
pub mod table;
pub mod timeline;

pub use summary::{POOLED_ALPHA, Summary, pooled_margin, unmet_pooled};
pub use table::table;
pub use timeline::svg;
