//! Reading the retailer's islands: the declarative source config, format readers with line numbers,
//! normalizers, timestamp parsing, per-kind row parsing with validation, the quarantine, and per-source
//! quality reports.

pub mod batch;
pub mod catalog;
pub mod chunked;
pub mod config;
pub mod normalize;
pub mod parse;
pub mod quality;
pub mod quarantine;
pub mod reader;
pub mod timestamp;
