//! The `guildhost` binary operators run, and the plugin author's tools. Each subcommand lives
//! with the module it drives; this file only parses the command line and reports errors.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// The bot side of a Discord bot platform, run as sandboxed WebAssembly plugins.
#[derive(Debug, Parser)]
#[command(name = "guildhost", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Tools for plugin authors: inspect and try a plugin without Redis or Discord.
    #[command(subcommand)]
    Plugin(PluginCommand),
}

#[derive(Debug, Subcommand)]
enum PluginCommand {
    /// Check a component and its manifest: world version, imports, subscriptions and grants.
    Check {
        /// The component, `<name>.wasm`, with its manifest `<name>.toml` beside it.
        file: PathBuf,
    },
    /// Run one message through a plugin: prints outputs, dropped outputs, logs, time and fuel.
    Run {
        /// The component, `<name>.wasm`, with its manifest `<name>.toml` beside it.
        file: PathBuf,
        /// A JSON message: a queue message as the API sends it, or `{"envelope", "message"}`
        /// in the WIT shape.
        #[arg(long)]
        message: PathBuf,
        /// The guild's configuration for the plugin: a JSON object, inline or a file path.
        #[arg(long)]
        config: Option<String>,
    },
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Plugin(PluginCommand::Check { file }) => guildhost::runtime::tool::check(&file)
            .map(|report| {
                print!("{report}");
                true
            }),
        Command::Plugin(PluginCommand::Run {
            file,
            message,
            config,
        }) => {
            guildhost::runtime::tool::run(&file, &message, config.as_deref()).map(|(report, ok)| {
                print!("{report}");
                ok
            })
        }
    };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::from(2)
        }
    }
}
