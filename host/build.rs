//! Builds the Wasm guest workspace (`plugins/`) for `wasm32-wasip2` and gathers each guest's
//! component and manifest into one directory per kind, so building the host builds its plugins.
//! The first-party plugins (`plugins/<name>/` with a `plugin.toml`) are embedded in the binary
//! (`$OUT_DIR/bundled_plugins.rs`), so operators run one file; both directories are also
//! handed to dependents through `links` metadata (`DEP_GUILDHOST_GUESTS_TEST_GUESTS` for
//! `plugins/test-guests/*`, `DEP_GUILDHOST_GUESTS_PLUGINS`), each holding `<name>.wasm` beside
//! `<name>.toml`.
//!
//! The guests get their own target directory (`<target>/wasm-guests`): sharing the outer one
//! would deadlock on its lock, and the outer build's flags (clippy's wrapper, coverage or
//! sanitizer RUSTFLAGS, a `--target`) must not leak into a Wasm build.

use std::env;
use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};

/// Where the guests land inside the target directory of the inner build.
const GUEST_TARGET: &str = "wasm32-wasip2";

/// Environment variables the outer cargo (or clippy, or a coverage tool) sets that must not
/// reach the inner build. `CARGO_MAKEFLAGS` stays, so the inner build shares the jobserver.
const SCRUBBED: &[&str] = &[
    "RUSTFLAGS",
    "RUSTDOCFLAGS",
    "RUSTC_WRAPPER",
    "RUSTC_WORKSPACE_WRAPPER",
    "CLIPPY_ARGS",
    "CLIPPY_CONF_DIR",
    "CARGO_TARGET_DIR",
    "CARGO_PRIMARY_PACKAGE",
    "CARGO_MANIFEST_DIR",
    "CARGO_MANIFEST_PATH",
    "CARGO_MANIFEST_LINKS",
    "CARGO_CRATE_NAME",
    "CARGO_RUSTC_CURRENT_DIR",
    "OUT_DIR",
    "TARGET",
    "HOST",
    "PROFILE",
    "OPT_LEVEL",
    "DEBUG",
    "NUM_JOBS",
    "RUSTC_LINKER",
];

/// Prefixes of further variables to scrub: the outer build's target, profile, feature, cfg and
/// package settings, and encoded flags.
const SCRUBBED_PREFIXES: &[&str] = &[
    "CARGO_ENCODED_",
    "CARGO_BUILD_",
    "CARGO_TARGET_",
    "CARGO_PROFILE_",
    "CARGO_CFG_",
    "CARGO_FEATURE_",
    "CARGO_PKG_",
];

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("\n==== building the Wasm guests failed ====\n{message}\n");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), String> {
    let manifest_dir = env_path("CARGO_MANIFEST_DIR")?;
    let out_dir = env_path("OUT_DIR")?;
    let repo = manifest_dir.parent().ok_or_else(|| {
        format!(
            "{}: the host crate has no parent directory",
            manifest_dir.display()
        )
    })?;
    let plugins = repo.join("plugins");

    emit_rerun_triggers(repo, &plugins)?;

    let target_dir = outer_target_dir(&out_dir).join("wasm-guests");
    build_guests(&plugins, &target_dir)?;

    let artifacts = target_dir.join(GUEST_TARGET).join("release");
    let test_guests = gather(
        &guest_dirs(&plugins.join("test-guests"))?,
        &artifacts,
        &out_dir.join("test-guests"),
    )?;
    let first_party = first_party_dirs(&plugins)?;
    let plugins_out = gather(&first_party, &artifacts, &out_dir.join("plugins"))?;

    write_bundle(
        &first_party,
        &plugins_out,
        &out_dir.join("bundled_plugins.rs"),
    )?;

    // For dependents (the test suites) through `links = "guildhost_guests"`.
    println!("cargo:test_guests={}", test_guests.display());
    println!("cargo:plugins={}", plugins_out.display());
    Ok(())
}

/// Writes the Rust source embedding every first-party plugin: `(name, component, manifest)`.
fn write_bundle(first_party: &[PathBuf], gathered: &Path, dest: &Path) -> Result<(), String> {
    let mut source = String::from("&[\n");
    for guest in first_party {
        let name = guest
            .file_name()
            .and_then(|n| n.to_str())
            .ok_or_else(|| format!("{}: directory name is not UTF-8", guest.display()))?;
        let wasm = gathered.join(format!("{name}.wasm"));
        let manifest = gathered.join(format!("{name}.toml"));
        source.push_str(&format!(
            "    ({name:?}, include_bytes!({:?}).as_slice(), include_str!({:?})),\n",
            wasm.display().to_string(),
            manifest.display().to_string()
        ));
    }
    source.push_str("]\n");
    fs::write(dest, source).map_err(|error| format!("{}: cannot write: {error}", dest.display()))
}

/// The absolute path in environment variable `name`, which cargo always sets for build scripts.
fn env_path(name: &str) -> Result<PathBuf, String> {
    env::var_os(name)
        .map(PathBuf::from)
        .ok_or_else(|| format!("environment variable {name} is not set; run this through cargo"))
}

/// Re-runs the build script when the contract or any guest source changes. Each entry of
/// `plugins/` is listed on its own so that a `plugins/target/` left by a manual build does not
/// trigger a rebuild on every run.
fn emit_rerun_triggers(repo: &Path, plugins: &Path) -> Result<(), String> {
    println!("cargo:rerun-if-changed={}", repo.join("wit").display());
    for entry in read_dir_sorted(plugins)? {
        let name = entry
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        if name == "target" || name.starts_with('.') {
            continue;
        }
        println!("cargo:rerun-if-changed={}", entry.display());
    }
    Ok(())
}

/// The outer build's target directory, found from `OUT_DIR`
/// (`<target>[/<triple>]/<profile>/build/<pkg>-<hash>/out`): the nearest ancestor holding the
/// `CACHEDIR.TAG` cargo writes at the root of every target directory.
fn outer_target_dir(out_dir: &Path) -> PathBuf {
    if let Some(root) = out_dir
        .ancestors()
        .find(|dir| dir.join("CACHEDIR.TAG").is_file())
    {
        return root.to_path_buf();
    }
    // No tag (an unusual layout): step over `out`, `<pkg>-<hash>`, `build` and `<profile>`.
    out_dir.ancestors().nth(4).unwrap_or(out_dir).to_path_buf()
}

/// Builds the whole guest workspace in release mode for `wasm32-wasip2`.
fn build_guests(plugins: &Path, target_dir: &Path) -> Result<(), String> {
    let cargo = env::var_os("CARGO").unwrap_or_else(|| OsString::from("cargo"));
    let mut command = Command::new(&cargo);
    command
        .current_dir(plugins)
        .args([
            "build",
            "--release",
            "--workspace",
            "--target",
            GUEST_TARGET,
        ])
        .arg("--manifest-path")
        .arg(plugins.join("Cargo.toml"))
        .arg("--target-dir")
        .arg(target_dir)
        // Cargo's own output goes to stderr; stdout must stay free of anything that is not a
        // `cargo:` directive of this script.
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        // An empty pipe, not the build's own stdin: nothing the nested cargo or its rustc
        // probes read may depend on what the outer build was started with.
        .stdin(Stdio::piped());
    for (name, _) in env::vars_os() {
        let Some(name) = name.to_str() else { continue };
        if SCRUBBED.contains(&name)
            || SCRUBBED_PREFIXES
                .iter()
                .any(|prefix| name.starts_with(prefix))
        {
            command.env_remove(name);
        }
    }
    let output = command
        .output()
        .map_err(|error| format!("could not start `{}`: {error}", Path::new(&cargo).display()))?;
    if output.status.success() {
        return Ok(());
    }
    Err(format!(
        "`cargo build --release --workspace --target {GUEST_TARGET}` in {} exited with {}.\n\
         Its output:\n\n{}\n\
         (To reproduce: cd {} && cargo build --release --target {GUEST_TARGET})",
        plugins.display(),
        output.status,
        String::from_utf8_lossy(&output.stderr).trim_end(),
        plugins.display(),
    ))
}

/// The guest crates directly under `dir`: subdirectories with a `Cargo.toml` and a `plugin.toml`.
fn guest_dirs(dir: &Path) -> Result<Vec<PathBuf>, String> {
    Ok(read_dir_sorted(dir)?
        .into_iter()
        .filter(|path| path.join("Cargo.toml").is_file() && path.join("plugin.toml").is_file())
        .collect())
}

/// The first-party plugins: guest crates directly under `plugins/` (the SDK has no manifest).
fn first_party_dirs(plugins: &Path) -> Result<Vec<PathBuf>, String> {
    guest_dirs(plugins)
}

/// Copies each guest's component and manifest into `dest` as `<dir name>.wasm` and
/// `<dir name>.toml`, replacing what an earlier run left; returns `dest`.
fn gather(guests: &[PathBuf], artifacts: &Path, dest: &Path) -> Result<PathBuf, String> {
    if dest.exists() {
        fs::remove_dir_all(dest)
            .map_err(|error| format!("{}: cannot clear: {error}", dest.display()))?;
    }
    fs::create_dir_all(dest)
        .map_err(|error| format!("{}: cannot create: {error}", dest.display()))?;
    for guest in guests {
        let name = guest
            .file_name()
            .and_then(|n| n.to_str())
            .ok_or_else(|| format!("{}: directory name is not UTF-8", guest.display()))?;
        let wasm = artifacts.join(format!("{}.wasm", package_name(guest)?.replace('-', "_")));
        copy(&wasm, &dest.join(format!("{name}.wasm")))?;
        copy(
            &guest.join("plugin.toml"),
            &dest.join(format!("{name}.toml")),
        )?;
    }
    Ok(dest.to_path_buf())
}

/// The `package.name` of the crate in `dir`.
fn package_name(dir: &Path) -> Result<String, String> {
    let path = dir.join("Cargo.toml");
    let text = fs::read_to_string(&path).map_err(|error| format!("{}: {error}", path.display()))?;
    let manifest: toml::Table = text
        .parse()
        .map_err(|error| format!("{}: invalid TOML: {error}", path.display()))?;
    manifest
        .get("package")
        .and_then(|package| package.get("name"))
        .and_then(toml::Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| format!("{}: package.name: must be a string", path.display()))
}

fn copy(from: &Path, to: &Path) -> Result<(), String> {
    fs::copy(from, to).map(drop).map_err(|error| {
        format!(
            "cannot copy {} to {}: {error}",
            from.display(),
            to.display()
        )
    })
}

/// The entries of `dir`, sorted for a stable order.
fn read_dir_sorted(dir: &Path) -> Result<Vec<PathBuf>, String> {
    let entries =
        fs::read_dir(dir).map_err(|error| format!("{}: cannot list: {error}", dir.display()))?;
    let mut paths = entries
        .map(|entry| entry.map(|entry| entry.path()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| format!("{}: cannot list: {error}", dir.display()))?;
    paths.sort();
    Ok(paths)
}
