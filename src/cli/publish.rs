//! `misp-connector publish FILE…`: send bundle files to the configured queue, for backfills and load tests.
//!
//! Every file is read (bounded by `limits.max_bytes`) before anything is sent, so a missing file publishes
//! nothing. Messages are persistent, `application/json`, and count as published only once the broker confirmed
//! them. With `amqp.declare` on, the queue topology is declared first. Prints how many were published.
//! Exit 0 when all were published, 1 on a broker failure, 2 on invalid files or configuration.

use std::path::{Path, PathBuf};

use misp_connector::worker::publisher::{Publisher, json_properties};
use misp_connector::worker::{connect, topology};

use super::Exit;
use super::push::{init_logging, load_config};
use super::run::worker_settings;

/// `misp-connector publish`.
pub fn publish(config_path: Option<&Path>, files: &[PathBuf]) -> Exit {
    let config = match load_config(config_path) {
        Ok(c) => c,
        Err(exit) => return exit,
    };
    init_logging(&config);
    let settings = match worker_settings(&config) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("misp-connector: invalid configuration: {e}");
            return Exit::Invalid;
        }
    };
    let mut bodies = Vec::with_capacity(files.len());
    for f in files {
        match super::convert::read_input(&f.to_string_lossy(), settings.convert.limits.max_bytes) {
            Ok(b) => bodies.push(b),
            Err(e) => {
                eprintln!("misp-connector: {e}");
                return Exit::Invalid;
            }
        }
    }
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
    runtime.block_on(async move {
        let conn = match connect(&settings).await {
            Ok(c) => c,
            Err(e) => {
                eprintln!("misp-connector: {e}");
                return Exit::Failure;
            }
        };
        if settings.declare {
            let declared = match conn.create_channel().await {
                Ok(ch) => topology::declare(&ch, &settings)
                    .await
                    .map_err(|e| e.to_string()),
                Err(e) => Err(e.to_string()),
            };
            if let Err(e) = declared {
                eprintln!("misp-connector: {e}");
                return Exit::Failure;
            }
        }
        let publisher = match Publisher::open(&conn).await {
            Ok(p) => p,
            Err(e) => {
                eprintln!("misp-connector: opening a channel: {e}");
                return Exit::Failure;
            }
        };
        let mut published = 0usize;
        let mut exit = Exit::Ok;
        for (file, body) in files.iter().zip(&bodies) {
            match publisher
                .publish(&settings.queue, body, json_properties())
                .await
            {
                Ok(()) => published += 1,
                Err(e) => {
                    eprintln!("misp-connector: {}: {e}", file.display());
                    exit = Exit::Failure;
                    break;
                }
            }
        }
        println!(
            "published {published} of {} message(s) to queue {}",
            files.len(),
            settings.queue
        );
        publisher.close().await;
        let _ = conn.close(200, "done".into()).await;
        exit
    })
}
