//! `misp-connector` binary entry point: parse the command line and hand over to [`cli`].

mod cli;

/// mimalloc instead of glibc's malloc: the worker allocates many small, short-lived JSON values per story and
/// spent about half its CPU in malloc/free (bench/e2e profile, docs/benchmarks.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    cli::main(cli::Cli::parse()).into()
}
