//! `misp-connector publish`.

use std::path::{Path, PathBuf};

use super::Exit;

/// Not available yet.
pub fn publish(_config: Option<&Path>, _files: &[PathBuf]) -> Exit {
    eprintln!("misp-connector: 'publish' is not available in this build yet");
    Exit::Failure
}
