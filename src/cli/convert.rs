//! `misp-connector convert` and `validate`: offline, no configuration.

use super::Exit;

/// Not available yet.
pub fn convert(_file: &str, _pretty: bool) -> Exit {
    eprintln!("misp-connector: 'convert' is not available in this build yet");
    Exit::Failure
}

/// Not available yet.
pub fn validate(_file: &str) -> Exit {
    eprintln!("misp-connector: 'validate' is not available in this build yet");
    Exit::Failure
}
