//! `misp-connector check`: validate the configuration and run the MISP start-up checks.
//!
//! Exit 0 when MISP is reachable, the key works and the sharing group (distribution 4) resolves;
//! 1 when MISP cannot be reached; 2 when the configuration or the key is wrong.
//! When `amqp:` is configured, the broker must accept the login and (unless `amqp.declare`) the queue must exist.

use std::path::Path;

use misp_connector::sync::startup;

use super::Exit;
use super::push::{build_client, init_logging, load_config, startup_exit, startup_settings};

/// `misp-connector check`.
pub fn check(config: Option<&Path>) -> Exit {
    let config = match load_config(config) {
        Ok(c) => c,
        Err(exit) => return exit,
    };
    init_logging(&config);
    let client = match build_client(&config.misp) {
        Ok(c) => c,
        Err(exit) => return exit,
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("misp-connector: cannot start the async runtime: {e}");
            return Exit::Failure;
        }
    };
    match runtime.block_on(startup::check(&client, &startup_settings(&config.misp))) {
        Ok(meta) => {
            println!(
                "MISP {} OK: version {}, API key of user {} in organisation {} ({}){}",
                client.base_url(),
                meta.version,
                meta.me.email,
                meta.me.org_id,
                meta.me.org_name,
                meta.sharing_group
                    .map(|sg| format!(", sharing group {} ({})", sg.id, sg.name))
                    .unwrap_or_default()
            );
            for w in &meta.warnings {
                println!("warning: {w}");
            }
            if config.amqp().is_ok() {
                runtime.block_on(super::run::check_amqp(&config))
            } else {
                Exit::Ok
            }
        }
        Err(e) => {
            eprintln!("misp-connector: MISP check failed: {e}");
            startup_exit(&e)
        }
    }
}
