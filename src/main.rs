//! `misp-connector` binary entry point: parse the command line and hand over to [`cli`].

mod cli;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    cli::main(cli::Cli::parse()).into()
}
