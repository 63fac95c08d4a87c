//! The `misp-connector` command line (BRIEF §8): one file per subcommand.
//!
//! Exit codes: 0 ok, 1 runtime or connectivity failure, 2 invalid input or configuration.
//! This is the binary's edge: errors are reported here, once, on stderr.

mod check;
mod convert;
mod publish;
mod push;
mod run;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Process exit status of a subcommand.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// 0: everything succeeded.
    Ok,
    /// 1: runtime or connectivity failure.
    Failure,
    /// 2: invalid input or configuration.
    Invalid,
}

impl From<Exit> for ExitCode {
    fn from(e: Exit) -> ExitCode {
        match e {
            Exit::Ok => ExitCode::SUCCESS,
            Exit::Failure => ExitCode::from(1),
            Exit::Invalid => ExitCode::from(2),
        }
    }
}

/// STIX 2.1 stories → MISP events, from RabbitMQ or the command line.
#[derive(Debug, Parser)]
#[command(name = "misp-connector", version, about)]
pub struct Cli {
    /// Path of config.yml (environment variables SECTION_KEY override it).
    #[arg(long, global = true, env = "CONFIG_FILE")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the queue worker: consume bundles from RabbitMQ and sync them to MISP.
    Run,
    /// Convert a bundle to MISP events offline: one {"Event": …} JSON per story and line.
    Convert {
        /// Bundle file, or - for standard input.
        #[arg(default_value = "-")]
        file: String,
        /// Indent the JSON.
        #[arg(long)]
        pretty: bool,
    },
    /// Check a bundle offline: stories, news items, indicators and warnings found.
    Validate {
        /// Bundle file, or - for standard input.
        #[arg(default_value = "-")]
        file: String,
    },
    /// Convert a bundle and sync it straight to MISP (no queue): one result line per story.
    Push {
        /// Bundle file, or - for standard input.
        #[arg(default_value = "-")]
        file: String,
    },
    /// Check the configuration, MISP authentication and (when configured) AMQP reachability.
    Check,
    /// Publish bundle files to the configured queue (persistent, with publisher confirms).
    Publish {
        /// Bundle files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
}

/// Run the parsed command line.
pub fn main(cli: Cli) -> Exit {
    match cli.command {
        Command::Convert { file, pretty } => convert::convert(&file, pretty),
        Command::Validate { file } => convert::validate(&file),
        Command::Push { file } => push::push(cli.config.as_deref(), &file),
        Command::Check => check::check(cli.config.as_deref()),
        Command::Run => run::run(cli.config.as_deref()),
        Command::Publish { files } => publish::publish(cli.config.as_deref(), &files),
    }
}
