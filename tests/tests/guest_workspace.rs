//! The guest workspace (`plugins/`: the SDK, the first-party plugins, the test guests) is a
//! workspace of its own, because it targets Wasm. Its plugin logic is unit-tested natively with
//! the SDK's `TestHost`; this test runs those tests, so `cargo test --workspace` at the root
//! covers them too.

use std::path::{Path, PathBuf};
use std::process::Command;

#[test]
fn plugin_logic_unit_tests_pass_natively() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ sits in the repository root")
        .to_path_buf();
    // A target directory of its own: the outer build's directory is not locked now, but sharing
    // it would rebuild host artifacts with the guest workspace's lockfile.
    let target = root.join("target").join("guests-native");
    let output = Command::new(env!("CARGO"))
        .args(["test", "--workspace", "--quiet", "--manifest-path"])
        .arg(root.join("plugins").join("Cargo.toml"))
        .env("CARGO_TARGET_DIR", &target)
        .env_remove("RUSTC_WORKSPACE_WRAPPER")
        .env_remove("RUSTC_WRAPPER")
        .output()
        .expect("cargo runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "`cargo test --manifest-path plugins/Cargo.toml --workspace` failed:\n{stdout}\n{stderr}"
    );
    assert!(
        stdout.contains("test result: ok"),
        "the guest workspace ran no tests:\n{stdout}\n{stderr}"
    );
}

/// The SDK is a crate of its own: `cargo package` (offline, with its verifying build) succeeds,
/// and the package carries the WIT its bindings are generated from.
#[test]
fn the_sdk_packages_with_the_wit_it_needs() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ sits in the repository root")
        .to_path_buf();
    let package = |extra: &[&str]| {
        Command::new(env!("CARGO"))
            .args([
                "package",
                "-p",
                "guildhost-plugin",
                "--allow-dirty",
                "--offline",
            ])
            .args(extra)
            .arg("--manifest-path")
            .arg(root.join("plugins").join("Cargo.toml"))
            .env(
                "CARGO_TARGET_DIR",
                root.join("target").join("guests-native"),
            )
            .env_remove("RUSTC_WORKSPACE_WRAPPER")
            .env_remove("RUSTC_WRAPPER")
            .output()
            .expect("cargo runs")
    };
    let listed = package(&["--list"]);
    let files = String::from_utf8_lossy(&listed.stdout);
    assert!(
        listed.status.success(),
        "{}",
        String::from_utf8_lossy(&listed.stderr)
    );
    for wit in ["wit/types.wit", "wit/host.wit", "wit/world.wit"] {
        assert!(
            files.lines().any(|file| file == wit),
            "{wit} is not packaged:\n{files}"
        );
    }
    let built = package(&[]);
    assert!(
        built.status.success(),
        "cargo package of the SDK failed:\n{}",
        String::from_utf8_lossy(&built.stderr)
    );
}

/// The guild admin's example plugin (`examples/guild-automod`), its own cargo project, builds
/// from a copy outside this repository (the SDK a path dependency, as from a git checkout) with
/// plain cargo for `wasm32-wasip2`, passes `plugin check`, and acts on its example message.
#[test]
fn the_guild_admin_example_builds_checks_and_runs() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ sits in the repository root")
        .to_path_buf();
    let example = copy_outside(&root.join("examples").join("guild-automod"), &root);
    // Shares the guests' target directory, where the SDK's dependencies are already built.
    let target = root.join("target").join("wasm-guests");
    let output = Command::new(env!("CARGO"))
        .args(["build", "--release", "--quiet", "--target", "wasm32-wasip2"])
        .arg("--manifest-path")
        .arg(example.join("Cargo.toml"))
        .env("CARGO_TARGET_DIR", &target)
        .env_remove("RUSTC_WORKSPACE_WRAPPER")
        .env_remove("RUSTC_WRAPPER")
        .output()
        .expect("cargo runs");
    assert!(
        output.status.success(),
        "building examples/guild-automod failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let install = std::env::temp_dir().join(format!("guild-automod-{}", std::process::id()));
    std::fs::create_dir_all(&install).expect("temp dir");
    let wasm = install.join("guild-automod.wasm");
    std::fs::copy(
        target.join("wasm32-wasip2/release/guild_automod.wasm"),
        &wasm,
    )
    .expect("the component was built");
    std::fs::copy(
        example.join("plugin.toml"),
        install.join("guild-automod.toml"),
    )
    .expect("the manifest");

    let report = guildhost::runtime::tool::check(&wasm, None).expect("plugin check");
    assert!(report.contains("guild 123456789012345678"), "{report}");
    let (report, ok) = guildhost::ops::plugin_run(&wasm, None, &example.join("message.json"), None)
        .expect("plugin run");
    assert!(ok, "{report}");
    assert!(report.contains("outputs (2)"), "{report}");
    assert!(report.contains(r#"execute {"#), "{report}");
    assert!(report.contains(r#""type":"DELETE_MESSAGE""#), "{report}");
    let _ = std::fs::remove_dir_all(&install);
    let _ = std::fs::remove_dir_all(&example);
}

/// Copies the example project to a directory outside the repository, its SDK dependency (and
/// cargo-component's WIT path) pointed at this checkout's SDK by absolute path.
fn copy_outside(example: &Path, root: &Path) -> PathBuf {
    let copy = std::env::temp_dir().join(format!("guild-automod-src-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&copy);
    std::fs::create_dir_all(copy.join("src")).expect("a scratch directory");
    for file in ["Cargo.lock", "plugin.toml", "message.json", "README.md"] {
        std::fs::copy(example.join(file), copy.join(file)).expect("an example file");
    }
    for entry in std::fs::read_dir(example.join("src")).expect("the example's sources") {
        let path = entry.expect("a source file").path();
        std::fs::copy(
            &path,
            copy.join("src").join(path.file_name().expect("a name")),
        )
        .expect("a source file");
    }
    let sdk = root.join("plugins").join("sdk");
    let manifest = std::fs::read_to_string(example.join("Cargo.toml")).expect("Cargo.toml");
    let relative = "../../plugins/sdk";
    assert!(
        manifest.contains(relative),
        "the example names the SDK as {relative}"
    );
    let manifest = manifest.replace(relative, &sdk.display().to_string());
    std::fs::write(copy.join("Cargo.toml"), manifest).expect("Cargo.toml written");
    copy
}
