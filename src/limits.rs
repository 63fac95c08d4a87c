//! Bounds on everything taken from input (BRIEF §3.1).
//!
//! Story text comes from the web and bundles from other organisations: every size and count is capped so that
//! a hostile message is rejected with a reason instead of exhausting memory or stack.

use serde::Deserialize;

/// Input limits, configurable under `limits:` in `config.yml`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// Largest message / file accepted, in bytes (default 16 MiB).
    pub max_bytes: usize,
    /// Deepest JSON nesting accepted (default 64).
    pub max_depth: usize,
    /// Most objects in one bundle (default 100,000).
    pub max_objects: usize,
    /// Longest single JSON string, in bytes (default 1 MiB).
    pub max_string_len: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_bytes: 16 * 1024 * 1024,
            max_depth: 64,
            max_objects: 100_000,
            max_string_len: 1024 * 1024,
        }
    }
}
