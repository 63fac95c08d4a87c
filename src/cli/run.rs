//! `misp-connector run`.

use std::path::Path;

use super::Exit;

/// Not available yet.
pub fn run(_config: Option<&Path>) -> Exit {
    eprintln!("misp-connector: 'run' is not available in this build yet");
    Exit::Failure
}
