//! The `guildhost` binary operators run, and the plugin author's tools. Each subcommand lives
//! with the module it drives; this file only parses the command line and reports errors.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use guildhost::config::Config;

// Many small allocations per message, freed on other threads: see the workspace Cargo.toml.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The bot side of a Discord bot platform, run as sandboxed WebAssembly plugins.
#[derive(Debug, Parser)]
#[command(name = "guildhost", version, about)]
struct Cli {
    /// The configuration file (default: `guildhost.toml` when it exists, else built-in defaults).
    #[arg(long, global = true, env = "GUILDHOST_CONFIG")]
    config: Option<PathBuf>,
    /// Log as JSON lines instead of human-readable text.
    #[arg(long, global = true)]
    json_logs: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the host: consume every queue, dispatch to plugins, execute, publish events.
    Run,
    /// Jobs per queue and state.
    Queues,
    /// Inspect and repair the dead-letter queue.
    #[command(subcommand)]
    Dlq(DlqCommand),
    /// Validate a message and add it to a queue as the API would.
    Enqueue {
        /// The queue, e.g. `bot:moderation`.
        queue: String,
        /// The message as JSON, or `@path/to/message.json`.
        message: String,
    },
    /// Check the configuration file and print the effective settings.
    #[command(name = "config-check", alias = "check-config")]
    ConfigCheck,
    /// Tools for plugin authors: inspect and try a plugin without Redis or Discord.
    #[command(subcommand)]
    Plugin(PluginCommand),
}

#[derive(Debug, Subcommand)]
enum DlqCommand {
    /// One line per dead letter.
    List,
    /// One dead letter in full.
    Show {
        /// The dead letter's id.
        id: String,
    },
    /// Send dead letters back to their queues.
    Replay {
        /// The dead letter's id; omit with `--all`.
        id: Option<String>,
        /// Replay every dead letter.
        #[arg(long, conflicts_with = "id")]
        all: bool,
    },
    /// Delete every dead letter.
    Purge,
}

#[derive(Debug, Subcommand)]
enum PluginCommand {
    /// The embedded first-party plugins, the configured directory's and the guilds' plugins in
    /// the store.
    List,
    /// The plugin store: guild admins' plugins, installed through the API.
    #[command(subcommand)]
    Store(StoreCommand),
    /// Write a new plugin project: manifest, source, tests, a sample message and the SDK.
    New {
        /// The plugin's name: 1 to 32 of [a-z0-9_-], starting with a letter.
        name: String,
        /// The language to write it in.
        #[arg(long, value_enum, default_value = "rust")]
        lang: guildhost::scaffold::Lang,
        /// Where to write it (default: ./<name>); must not exist or be empty.
        #[arg(long)]
        dir: Option<PathBuf>,
    },
    /// Check a component and its manifest: world version, imports, subscriptions and grants.
    Check {
        /// The component, `<name>.wasm`, with its manifest `<name>.toml` beside it.
        file: PathBuf,
        /// The manifest, when it is not `<name>.toml` beside the component (e.g. `plugin.toml`
        /// of a cargo project, whose build writes `target/…/<crate>.wasm`).
        #[arg(long)]
        manifest: Option<PathBuf>,
    },
    /// Run one message through a plugin: prints outputs, dropped outputs, logs, time and fuel.
    Run {
        /// The component, `<name>.wasm`, with its manifest `<name>.toml` beside it.
        file: PathBuf,
        /// The manifest, when it is not `<name>.toml` beside the component.
        #[arg(long)]
        manifest: Option<PathBuf>,
        /// A JSON message: a queue message as the API sends it, or `{"envelope", "message"}`
        /// in the WIT shape.
        #[arg(long)]
        message: PathBuf,
        /// The guild's configuration for the plugin: a JSON object, inline or a file path.
        /// (Not `--config`, which names the host's configuration file everywhere.)
        #[arg(long = "guild-config", value_name = "JSON")]
        guild_config: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
enum StoreCommand {
    /// Every guild's plugins (or one guild's) and the components stopped everywhere.
    List {
        /// Only this guild's.
        #[arg(long)]
        guild: Option<String>,
    },
    /// One guild's plugin: its record (versions, manifest, who installed it and when).
    Show {
        /// The guild's id.
        guild: String,
        /// The plugin's name in that guild.
        name: String,
    },
    /// Serve a disabled plugin again.
    Enable {
        /// The guild's id.
        guild: String,
        /// The plugin's name in that guild.
        name: String,
    },
    /// Stop serving a plugin, keeping it installed.
    Disable {
        /// The guild's id.
        guild: String,
        /// The plugin's name in that guild.
        name: String,
    },
    /// Uninstall a plugin and its kept versions.
    Remove {
        /// The guild's id.
        guild: String,
        /// The plugin's name in that guild.
        name: String,
    },
    /// The kill switch: stop one component in every guild on every host, and refuse it to
    /// installs.
    Kill {
        /// The component's SHA-256 (`plugin store list` shows its first digits, `show` all).
        sha256: String,
        /// Why, kept with it.
        #[arg(long, default_value = "stopped by the operator")]
        reason: String,
    },
    /// Lift a kill: the component serves again wherever it is installed and enabled.
    Revive {
        /// The component's SHA-256.
        sha256: String,
    },
}

fn init_logging(json: bool, default_level: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_level));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}

/// The configuration for commands that talk to Redis: the file, or defaults plus environment.
fn load_config(path: Option<&Path>) -> anyhow::Result<Config> {
    Ok(Config::find(path)?)
}

/// Runs an async operator command to completion and prints its report.
fn block_on_report(
    work: impl std::future::Future<Output = anyhow::Result<String>>,
) -> anyhow::Result<bool> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let report = runtime.block_on(work)?;
    print!("{report}");
    Ok(true)
}

fn dispatch(cli: Cli) -> anyhow::Result<bool> {
    let config_path = cli.config.as_deref();
    match cli.command {
        Command::Run => guildhost::app::run_command(config_path).map(|()| true),
        Command::Queues => {
            let config = load_config(config_path)?;
            block_on_report(async { guildhost::ops::queue_counts(&config).await })
        }
        Command::Dlq(command) => {
            let config = load_config(config_path)?;
            block_on_report(async {
                match command {
                    DlqCommand::List => guildhost::ops::dlq_list(&config).await,
                    DlqCommand::Show { id } => guildhost::ops::dlq_show(&config, &id).await,
                    DlqCommand::Replay { id, all } => {
                        if id.is_none() && !all {
                            anyhow::bail!("name a dead letter id, or pass --all");
                        }
                        guildhost::ops::dlq_replay(&config, id.as_deref()).await
                    }
                    DlqCommand::Purge => guildhost::ops::dlq_purge(&config).await,
                }
            })
        }
        Command::Enqueue { queue, message } => {
            let config = load_config(config_path)?;
            block_on_report(async { guildhost::ops::enqueue(&config, &queue, &message).await })
        }
        Command::ConfigCheck => {
            let config = load_config(config_path)?;
            let effective = config.to_toml()?;
            println!("# configuration OK; the effective settings, secrets redacted:\n");
            print!("{effective}");
            Ok(true)
        }
        Command::Plugin(PluginCommand::List) => {
            let config = load_config(config_path)?;
            block_on_report(async { guildhost::ops::plugin_list(&config).await })
        }
        Command::Plugin(PluginCommand::Store(command)) => {
            use guildhost::ops::{StoreAction, store_change, store_kill, store_list, store_show};
            let config = load_config(config_path)?;
            block_on_report(async {
                match command {
                    StoreCommand::List { guild } => store_list(&config, guild.as_deref()).await,
                    StoreCommand::Show { guild, name } => store_show(&config, &guild, &name).await,
                    StoreCommand::Enable { guild, name } => {
                        store_change(&config, &guild, &name, StoreAction::Enable).await
                    }
                    StoreCommand::Disable { guild, name } => {
                        store_change(&config, &guild, &name, StoreAction::Disable).await
                    }
                    StoreCommand::Remove { guild, name } => {
                        store_change(&config, &guild, &name, StoreAction::Remove).await
                    }
                    StoreCommand::Kill { sha256, reason } => {
                        store_kill(&config, &sha256, Some(&reason)).await
                    }
                    StoreCommand::Revive { sha256 } => store_kill(&config, &sha256, None).await,
                }
            })
        }
        Command::Plugin(PluginCommand::New { name, lang, dir }) => {
            let dir = dir.unwrap_or_else(|| PathBuf::from(&name));
            guildhost::scaffold::new_plugin(&dir, &name, lang).map(|next| {
                print!("{next}");
                true
            })
        }
        Command::Plugin(PluginCommand::Check { file, manifest }) => {
            guildhost::runtime::tool::check(&file, manifest.as_deref()).map(|report| {
                print!("{report}");
                true
            })
        }
        Command::Plugin(PluginCommand::Run {
            file,
            manifest,
            message,
            guild_config,
        }) => guildhost::ops::plugin_run(
            &file,
            manifest.as_deref(),
            &message,
            guild_config.as_deref(),
        )
        .map(|(report, ok)| {
            print!("{report}");
            ok
        }),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let level = if matches!(cli.command, Command::Run) {
        "info"
    } else {
        "warn"
    };
    init_logging(cli.json_logs, level);
    match dispatch(cli) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::from(2)
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::Cli;

    /// clap's own consistency checks over the whole command tree (unique flags and ids, valid
    /// defaults): a collision would otherwise panic only when a user reaches it.
    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }
}
