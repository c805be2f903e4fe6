//! Whether a component and its manifest may become a guild's plugin, decided before anything
//! of it runs, and the plugin made from them: scoped to the guild whatever the manifest claims,
//! named `<name>@<guild>`, clamped to `[plugins.guild_policy]`.
//!
//! Every refusal is a [`Rejection`] naming the command's field and the rule. The same
//! [`prepare`] runs for an install and for every load a host makes from the store, so a record
//! written by something other than guildhost is held to the same rules.

use std::sync::Arc;
use std::time::Duration;

use sha2::{Digest, Sha256};

use crate::config::GuildPolicy;
use crate::runtime::{LoadedPlugin, MAX_MANIFEST_BYTES, Manifest, Origin, Runtime, Scope};

/// Longest plugin name in the store.
pub const MAX_NAME_CHARS: usize = 32;

/// Why the store refused a change: the field of the command and the rule it broke.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct Rejection {
    /// The command's field, e.g. `data.sha256`.
    pub field: String,
    /// The rule, in words.
    pub reason: String,
}

impl Rejection {
    /// A rejection of `field` for `reason`.
    pub fn new(field: &str, reason: impl Into<String>) -> Self {
        Self {
            field: field.to_owned(),
            reason: reason.into(),
        }
    }
}

/// A plugin ready to serve, with what the host changed in what its manifest asked.
#[derive(Debug)]
pub struct Prepared {
    /// The loaded plugin (`<name>@<guild>`, `Origin::Store`).
    pub plugin: Arc<LoadedPlugin>,
    /// One line per change: a limit lowered to the policy, the scope set to the guild.
    pub notices: Vec<String>,
}

/// Checks a store plugin's name: 1 to 32 of `[a-z0-9_-]`, and not a name a plugin of the
/// operator serves (its commands and `custom_id`s would be confused with theirs).
pub fn check_name(name: &str, runtime: &Runtime) -> Result<(), Rejection> {
    let valid = !name.is_empty()
        && name.len() <= MAX_NAME_CHARS
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
    if !valid {
        return Err(Rejection::new(
            "data.name",
            format!("must be 1 to {MAX_NAME_CHARS} characters from [a-z0-9_-], got {name:?}"),
        ));
    }
    let bundled = crate::bundled::PLUGINS
        .iter()
        .any(|&(own, _, _)| own == name);
    if bundled || runtime.registry().get(name).is_some() {
        return Err(Rejection::new(
            "data.name",
            format!("{name:?} is the name of one of the bot's own plugins; choose another"),
        ));
    }
    Ok(())
}

/// Checks that `sha256` is 64 lowercase hex digits.
pub fn check_sha256(sha256: &str) -> Result<(), Rejection> {
    if sha256.len() == 64
        && sha256
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        Ok(())
    } else {
        Err(Rejection::new(
            "data.sha256",
            "must be the component's SHA-256 as 64 lowercase hex digits",
        ))
    }
}

/// Checks a component's size against the policy (before it is read, when the store can say).
pub fn check_size(size: u64, policy: &GuildPolicy) -> Result<(), Rejection> {
    if size > policy.max_component_bytes {
        return Err(Rejection::new(
            "data.sha256",
            format!(
                "the component is {size} bytes, over this bot's limit of {} bytes",
                policy.max_component_bytes
            ),
        ));
    }
    Ok(())
}

/// Checks that `wasm` is what `sha256` names and fits the policy.
pub fn check_component(sha256: &str, wasm: &[u8], policy: &GuildPolicy) -> Result<(), Rejection> {
    check_size(u64::try_from(wasm.len()).unwrap_or(u64::MAX), policy)?;
    if hex::encode(Sha256::digest(wasm)) != sha256 {
        return Err(Rejection::new(
            "data.sha256",
            "the stored component does not hash to this name",
        ));
    }
    Ok(())
}

/// The runtime's limits lowered to the policy's ceilings.
fn ceilings(runtime: &Runtime, policy: &GuildPolicy) -> crate::runtime::RuntimeLimits {
    let mut limits = runtime.config().limits.clone();
    let wall = Duration::from_millis(policy.wall_time_ms);
    limits.max_wall_time = limits.max_wall_time.min(wall);
    limits.default_wall_time = limits.default_wall_time.min(wall);
    limits.max_memory_bytes = limits.max_memory_bytes.min(policy.memory_bytes);
    limits.default_memory_bytes = limits.default_memory_bytes.min(policy.memory_bytes);
    limits.max_outputs_per_call = limits.max_outputs_per_call.min(policy.max_outputs);
    limits.default_outputs_per_call = limits.default_outputs_per_call.min(policy.max_outputs);
    limits.max_kv_keys = limits.max_kv_keys.min(policy.kv_keys);
    limits.default_kv_keys = limits.default_kv_keys.min(policy.kv_keys);
    limits.max_kv_bytes = limits.max_kv_bytes.min(policy.kv_bytes);
    limits.default_kv_bytes = limits.default_kv_bytes.min(policy.kv_bytes);
    limits.max_fuel = limits.max_fuel.min(policy.fuel);
    limits.max_component_bytes = limits.max_component_bytes.min(policy.max_component_bytes);
    limits
}

/// The manifest of `guild`'s plugin `name` (`None`: the manifest's own name), checked and
/// clamped to the policy, renamed `<name>@<guild>` and scoped to the guild.
pub fn manifest(
    text: &str,
    name: Option<&str>,
    guild: &str,
    runtime: &Runtime,
    policy: &GuildPolicy,
) -> Result<(Manifest, Vec<String>), Rejection> {
    if text.len() as u64 > MAX_MANIFEST_BYTES {
        return Err(Rejection::new(
            "data.manifest",
            format!("is over {MAX_MANIFEST_BYTES} bytes"),
        ));
    }
    let mut manifest = Manifest::parse(text, &ceilings(runtime, policy))
        .map_err(|error| Rejection::new("data.manifest", error.to_string()))?;
    let name = name.unwrap_or(&manifest.name).to_owned();
    check_name(&name, runtime)?;
    if let Some(refused) = manifest
        .emits
        .iter()
        .find(|emitted| !policy.allowed_outputs.contains(emitted))
    {
        return Err(Rejection::new(
            "data.manifest",
            format!(
                "emits = [.., {refused:?}, ..]: a guild's plugin may emit only {:?}",
                policy.allowed_outputs
            ),
        ));
    }
    let mut notices = std::mem::take(&mut manifest.notices);
    if manifest.scope != Scope::Guild(guild.to_owned()) {
        notices.push(format!(
            "scope: served in guild {guild} only (the manifest asked for {})",
            match &manifest.scope {
                Scope::Global => "global".to_owned(),
                Scope::Guild(other) => format!("guild {other}"),
            }
        ));
        manifest.scope = Scope::Guild(guild.to_owned());
    }
    if manifest.limits.fuel.is_none() {
        manifest.limits.fuel = Some(policy.fuel);
    }
    manifest.name = format!("{name}@{guild}");
    Ok((manifest, notices))
}

/// Makes the plugin: [`manifest`], then the component compiled (or shared with a plugin of the
/// same bytes), its imports and WIT version checked. Blocks for the compilation: call it on a
/// blocking thread.
pub fn prepare(
    runtime: &Runtime,
    policy: &GuildPolicy,
    guild: &str,
    name: Option<&str>,
    manifest_text: &str,
    wasm: &[u8],
) -> Result<Prepared, Rejection> {
    let (manifest, notices) = self::manifest(manifest_text, name, guild, runtime, policy)?;
    let plugin = runtime
        .load(Origin::Store, manifest, wasm)
        .map_err(|error| Rejection::new("data.sha256", error.to_string()))?;
    Ok(Prepared { plugin, notices })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sha256_is_64_lowercase_hex_digits() {
        assert!(check_sha256(&"a1".repeat(32)).is_ok());
        for bad in [
            "",
            "A1",
            &"A1".repeat(32),
            &"g1".repeat(32),
            &"a1".repeat(33),
        ] {
            let rejection = check_sha256(bad).expect_err(bad);
            assert_eq!(rejection.field, "data.sha256");
        }
    }

    #[test]
    fn a_component_must_hash_to_its_name_and_fit_the_policy() {
        let policy = GuildPolicy {
            max_component_bytes: 8,
            ..GuildPolicy::default()
        };
        let wasm = b"\0asm";
        let sha = hex::encode(Sha256::digest(wasm));
        assert!(check_component(&sha, wasm, &policy).is_ok());
        let other = hex::encode(Sha256::digest(b"other"));
        let rejection = check_component(&other, wasm, &policy).expect_err("wrong hash");
        assert!(rejection.reason.contains("does not hash"), "{rejection}");
        let rejection = check_component(&sha, &[0; 9], &policy).expect_err("too big");
        assert!(
            rejection.reason.contains("over this bot's limit"),
            "{rejection}"
        );
    }
}
