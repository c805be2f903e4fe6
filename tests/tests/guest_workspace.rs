//! The guest workspace (`plugins/`: the SDK, the first-party plugins, the test guests) is a
//! workspace of its own, because it targets Wasm. Its plugin logic is unit-tested natively with
//! the SDK's `TestHost`; this test runs those tests, so `cargo test --workspace` at the root
//! covers them too.

use std::path::PathBuf;
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
