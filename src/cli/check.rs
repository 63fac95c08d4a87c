//! `misp-connector check`.

use std::path::Path;

use super::Exit;

/// Not available yet.
pub fn check(_config: Option<&Path>) -> Exit {
    eprintln!("misp-connector: 'check' is not available in this build yet");
    Exit::Failure
}
