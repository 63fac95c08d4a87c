//! `misp-connector push`.

use std::path::Path;

use super::Exit;

/// Not available yet.
pub fn push(_config: Option<&Path>, _file: &str) -> Exit {
    eprintln!("misp-connector: 'push' is not available in this build yet");
    Exit::Failure
}
