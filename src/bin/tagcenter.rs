//! `tagcenter`: the HTTP service. `tagcenter serve --bundle models/latest.tcb --bind 127.0.0.1:8080` serves
//! a bundle with the embedded defaults; `--config` adds a TOML file and `TAGCENTER_*` variables override
//! both. `tagcenter hash-key` reads an API key on standard input and prints the SHA-256 the config stores.

use std::io::BufRead;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use tagcenter::server::Application;
use tagcenter::server::auth::hash_key;
use tagcenter::server::config::ServerConfig;

#[derive(Debug, Parser)]
#[command(name = "tagcenter", version, about = "Serves tagcenter model bundles over HTTP")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve a model bundle.
    Serve {
        /// TOML config file (defaults are embedded; TAGCENTER_* variables override the file).
        #[arg(long)]
        config: Option<PathBuf>,
        /// Bundle to load (overrides the config; may be absent until POST /v1/admin/reload).
        #[arg(long)]
        bundle: Option<PathBuf>,
        /// Listen address (overrides the config).
        #[arg(long)]
        bind: Option<String>,
    },
    /// Read an API key on standard input and print its SHA-256 for the config.
    HashKey,
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::HashKey => {
            let mut line = String::new();
            std::io::stdin().lock().read_line(&mut line).context("reading the key from standard input")?;
            println!("{}", hash_key(line.trim_end_matches(['\n', '\r'])));
            Ok(())
        }
        Command::Serve { config, bundle, bind } => {
            tracing_subscriber::fmt()
                .with_env_filter(
                    tracing_subscriber::EnvFilter::try_from_default_env()
                        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
                )
                .init();
            let mut config = ServerConfig::load(config.as_deref(), std::env::vars())?;
            config.bundle = bundle.or(config.bundle);
            config.bind = bind.unwrap_or(config.bind);
            config.validate()?;
            serve(config)
        }
    }
}

#[actix_web::main]
async fn serve(config: ServerConfig) -> anyhow::Result<()> {
    let app = Application::build(config).await?;
    app.run_until_stopped().await.context("server stopped with an error")?;
    tracing::info!("stopped");
    Ok(())
}
