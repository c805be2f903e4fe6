//! Checks what a plugin returned against its limits and its manifest: too many or too large
//! outputs end the call; outputs of a type not granted, or for a guild the plugin may not act in,
//! are dropped and reported.

use super::bindings::{Message, Output, message_type_name};
use super::error::PluginError;
use super::manifest::{Manifest, Scope, is_snowflake};

/// The message an output carries and the guild it names (if any).
pub(crate) fn output_parts(output: &Output) -> (&Message, Option<&str>) {
    match output {
        Output::Execute(emission) | Output::Publish(emission) => {
            (&emission.message, emission.guild_id.as_deref())
        }
        Output::ExecuteAfter(delayed) => (&delayed.message, delayed.guild_id.as_deref()),
    }
}

/// Why an output was dropped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DropReason {
    /// The manifest does not grant this output type.
    #[error("output type {type_name} is not granted by the manifest's `emits`")]
    NotGranted {
        /// The output's message type.
        type_name: String,
    },
    /// A guild-scoped plugin targeted another guild.
    #[error("targets guild {target}, but the plugin is scoped to guild {scope}")]
    OtherGuild {
        /// The guild the output named.
        target: String,
        /// The plugin's guild.
        scope: String,
    },
    /// The output names a guild id that is not a snowflake.
    #[error("names guild {target:?}, which is not a guild id")]
    InvalidGuild {
        /// What the output named.
        target: String,
    },
}

/// An output the host refused, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct DroppedOutput {
    /// The output as the plugin returned it.
    pub output: Output,
    /// Why it was dropped.
    pub reason: DropReason,
}

/// Counts bytes without storing them.
struct ByteCounter(u64);

impl std::io::Write for ByteCounter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0 += buf.len() as u64;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The size of an output as JSON, the form it travels in.
pub(crate) fn encoded_size(output: &Output) -> u64 {
    let mut counter = ByteCounter(0);
    match serde_json::to_writer(&mut counter, output) {
        Ok(()) => counter.0,
        // Serializing generated plain-data types cannot fail; if it ever did, the output
        // counts as too large rather than slipping through unmeasured.
        Err(_) => u64::MAX,
    }
}

/// Applies the limits and the manifest to a call's outputs. `incoming_guild` is the guild of
/// the message being handled (the target of outputs that name none).
pub(crate) fn enforce(
    manifest: &Manifest,
    incoming_guild: Option<&str>,
    outputs: Vec<Output>,
) -> Result<(Vec<Output>, Vec<DroppedOutput>), PluginError> {
    let limits = &manifest.limits;
    if outputs.len() > limits.max_outputs as usize {
        return Err(PluginError::Limit {
            plugin: manifest.name.clone(),
            limit: format!(
                "outputs {} (returned {})",
                limits.max_outputs,
                outputs.len()
            ),
        });
    }
    for output in &outputs {
        let size = encoded_size(output);
        if size > limits.max_output_bytes {
            return Err(PluginError::Limit {
                plugin: manifest.name.clone(),
                limit: format!(
                    "output-bytes {} (an output of {size} bytes)",
                    limits.max_output_bytes
                ),
            });
        }
    }
    let mut accepted = Vec::with_capacity(outputs.len());
    let mut dropped = Vec::new();
    for output in outputs {
        match check(manifest, incoming_guild, &output) {
            Ok(()) => accepted.push(output),
            Err(reason) => dropped.push(DroppedOutput { output, reason }),
        }
    }
    Ok((accepted, dropped))
}

fn check(
    manifest: &Manifest,
    incoming_guild: Option<&str>,
    output: &Output,
) -> Result<(), DropReason> {
    let (message, named_guild) = output_parts(output);
    let type_name = message_type_name(message);
    if !manifest.may_emit(&type_name) {
        return Err(DropReason::NotGranted {
            type_name: type_name.into_owned(),
        });
    }
    if let Some(target) = named_guild
        && !is_snowflake(target)
    {
        return Err(DropReason::InvalidGuild {
            target: target.to_owned(),
        });
    }
    if let Scope::Guild(scope) = &manifest.scope {
        let target = named_guild.or(incoming_guild).unwrap_or("none");
        if target != scope {
            return Err(DropReason::OtherGuild {
                target: target.to_owned(),
                scope: scope.clone(),
            });
        }
    }
    Ok(())
}
