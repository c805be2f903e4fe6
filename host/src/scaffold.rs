//! `guildhost plugin new`: writes a plugin project that builds with one command, passes
//! `plugin check` and `plugin run` unmodified, and needs nothing from this repository: the SDK
//! of its language (with the WIT it is built from) is vendored into it. Templates live in
//! `host/templates/plugin-new/`; the SDKs are embedded from `plugins/sdk` and `plugins/sdk-js`,
//! and a test keeps those lists complete.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::Context as _;

/// The language a plugin project is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Lang {
    /// Rust, on the `guildhost-plugin` crate (plain cargo or `cargo component`).
    Rust,
    /// JavaScript, on the `guildhost-plugin` npm package (componentize-js).
    Js,
    /// TypeScript, on the same package, type-checked with `tsc`.
    Ts,
    /// Python, with componentize-py's bindings of the WIT (no SDK package).
    Py,
}

macro_rules! embed {
    ($root:literal: $($file:literal),* $(,)?) => {
        &[$(($file, include_str!(concat!("../../", $root, "/", $file)))),*]
    };
}

/// The Rust SDK's files, but its manifest (which inherits from the guest workspace).
const RUST_SDK: &[(&str, &str)] = embed!("plugins/sdk":
    "src/bindings.rs", "src/context.rs", "src/embed.rs", "src/error.rs", "src/host.rs",
    "src/incoming.rs", "src/interaction.rs", "src/lib.rs", "src/message.rs",
    "src/message_cases.rs", "src/output.rs", "src/plugin.rs", "src/testing.rs",
    "wit/types.wit", "wit/host.wit", "wit/world.wit",
);

/// The Rust SDK's manifest outside the guest workspace: the workspace's versions, written out.
const RUST_SDK_MANIFEST: &str = r#"[package]
name = "guildhost-plugin"
description = "Write guildhost plugins in Rust: typed messages, outputs, host access and one export macro."
version = "0.1.0"
edition = "2024"
rust-version = "1.95"
license = "MIT OR Apache-2.0"
publish = false

[dependencies]
wit-bindgen = { version = "0.63", default-features = false, features = ["macros", "realloc"] }
serde = { version = "1", features = ["derive"] }
serde_json = "1"
"#;

/// The JavaScript SDK's files.
const JS_SDK: &[(&str, &str)] = embed!("plugins/sdk-js":
    "package.json", "README.md", "index.js", "index.d.ts", "runtime.js", "testing.js",
    "testing.d.ts", "types.d.ts", "wire-names.js", "bin/guildhost-plugin.js",
    "wit/types.wit", "wit/host.wit", "wit/world.wit",
);

/// The WIT itself, for componentize-py.
const WIT: &[(&str, &str)] = embed!("wit": "types.wit", "host.wit", "world.wit");

const TEMPLATE_README: &str = include_str!("../templates/plugin-new/common/README.md");
const TEMPLATE_MANIFEST: &str = include_str!("../templates/plugin-new/common/plugin.toml");
const TEMPLATE_MESSAGE: &str = include_str!("../templates/plugin-new/common/message.json");

/// A language's project files (path, template) and how its README tells to build it.
struct Project {
    files: &'static [(&'static str, &'static str)],
    sdk: &'static [(&'static str, &'static str)],
    /// Where the vendored SDK (or WIT) goes inside the project.
    sdk_dir: &'static str,
    build: &'static str,
    build_note: &'static str,
    test: &'static str,
    component: &'static str,
    manifest_arg: &'static str,
    listing: &'static str,
    wall_time_ms: u32,
    memory_bytes: u32,
}

fn project(lang: Lang) -> Project {
    match lang {
        Lang::Rust => Project {
            files: &[
                (
                    "Cargo.toml",
                    include_str!("../templates/plugin-new/rust/Cargo.toml"),
                ),
                (
                    "src/lib.rs",
                    include_str!("../templates/plugin-new/rust/src/lib.rs"),
                ),
                (
                    ".gitignore",
                    include_str!("../templates/plugin-new/rust/.gitignore"),
                ),
            ],
            sdk: RUST_SDK,
            sdk_dir: "guildhost-plugin",
            build: "rustup target add wasm32-wasip2   # once\n\
                    cargo build --release --target wasm32-wasip2",
            build_note: ". Or, with `cargo component` installed, `cargo component build \
                         --release` (its output is under `target/wasm32-wasip1/release/`).",
            test: "cargo test",
            component: "target/wasm32-wasip2/release/{{crate}}.wasm",
            manifest_arg: " --manifest plugin.toml",
            listing: "- `src/lib.rs`: the handler, and its unit tests on the SDK's `TestHost`.\n\
                      - `Cargo.toml`: a cargo project of its own (its own workspace).\n\
                      - `guildhost-plugin/`: the guildhost SDK for Rust, with the WIT it is \
                      built from.",
            wall_time_ms: 20,
            memory_bytes: 8 << 20,
        },
        Lang::Js | Lang::Ts => {
            let ts = lang == Lang::Ts;
            Project {
                files: if ts {
                    &[
                        (
                            "package.json",
                            include_str!("../templates/plugin-new/ts/package.json"),
                        ),
                        (
                            "tsconfig.json",
                            include_str!("../templates/plugin-new/ts/tsconfig.json"),
                        ),
                        (
                            "src/index.ts",
                            include_str!("../templates/plugin-new/ts/src/index.ts"),
                        ),
                        (
                            "test/plugin.test.ts",
                            include_str!("../templates/plugin-new/ts/test/plugin.test.ts"),
                        ),
                        (
                            ".gitignore",
                            include_str!("../templates/plugin-new/ts/.gitignore"),
                        ),
                    ]
                } else {
                    &[
                        (
                            "package.json",
                            include_str!("../templates/plugin-new/js/package.json"),
                        ),
                        (
                            "src/index.js",
                            include_str!("../templates/plugin-new/js/src/index.js"),
                        ),
                        (
                            "test/plugin.test.js",
                            include_str!("../templates/plugin-new/js/test/plugin.test.js"),
                        ),
                        (
                            ".gitignore",
                            include_str!("../templates/plugin-new/js/.gitignore"),
                        ),
                    ]
                },
                sdk: JS_SDK,
                sdk_dir: "guildhost-plugin",
                build: "npm install   # once\nnpm run build",
                build_note: " and its manifest beside it.",
                test: "npm test",
                component: "dist/{{name}}.wasm",
                manifest_arg: "",
                listing: if ts {
                    "- `src/index.ts`: the handler; `test/plugin.test.ts`: its unit tests on \
                     the SDK's `TestHost`.\n\
                     - `guildhost-plugin/`: the guildhost SDK for JavaScript and TypeScript \
                     (types generated from the WIT, helpers, the test host, the build).\n\
                     - `package.json`, `tsconfig.json`: `npm run build` type-checks, then \
                     builds the component with componentize-js."
                } else {
                    "- `src/index.js`: the handler; `test/plugin.test.js`: its unit tests on \
                     the SDK's `TestHost`.\n\
                     - `guildhost-plugin/`: the guildhost SDK for JavaScript and TypeScript \
                     (helpers, the test host, the build).\n\
                     - `package.json`: `npm run build` builds the component with \
                     componentize-js."
                },
                // The JavaScript engine's heap is in the component's memory: ~11 MiB at rest.
                wall_time_ms: 100,
                memory_bytes: 32 << 20,
            }
        }
        Lang::Py => Project {
            files: &[
                ("app.py", include_str!("../templates/plugin-new/py/app.py")),
                (
                    "test_app.py",
                    include_str!("../templates/plugin-new/py/test_app.py"),
                ),
                (
                    "guildhost_testing.py",
                    include_str!("../templates/plugin-new/py/guildhost_testing.py"),
                ),
                (
                    "build.sh",
                    include_str!("../templates/plugin-new/py/build.sh"),
                ),
                (
                    "requirements.txt",
                    include_str!("../templates/plugin-new/py/requirements.txt"),
                ),
                (
                    ".gitignore",
                    include_str!("../templates/plugin-new/py/.gitignore"),
                ),
            ],
            sdk: WIT,
            sdk_dir: "wit",
            build: "python3 -m venv .venv && . .venv/bin/activate && pip install -r requirements.txt   # once\n\
                    sh build.sh",
            build_note: " and its manifest beside it (`--stub-wasi`: the Python runtime's WASI \
                         imports become stubs that trap, so the component imports only the \
                         guildhost interfaces).",
            test: "python3 -m unittest test_app   # after a build, which writes the bindings it imports",
            component: "dist/{{name}}.wasm",
            manifest_arg: "",
            listing: "- `app.py`: the handler, on componentize-py's bindings of the WIT \
                      (`wit_world`, written by the build); `test_app.py`: its unit tests.\n\
                      - `guildhost_testing.py`: a test host (in-memory key-value store, clock, \
                      configuration, log) in place of the WIT imports.\n\
                      - `wit/`: the WIT the plugin is built against.\n\
                      - `build.sh`, `requirements.txt`: componentize-py 0.25 builds the component.",
            // CPython and its heap are in the component's memory: ~12 MiB at rest.
            wall_time_ms: 100,
            memory_bytes: 32 << 20,
        },
    }
}

/// Checks a new plugin's name: 1 to 32 of `[a-z0-9_-]`, starting with a letter (so it is also
/// a crate's and a package's name).
pub fn check_name(name: &str) -> anyhow::Result<()> {
    let valid = name.len() <= 32
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
    anyhow::ensure!(
        valid,
        "plugin name {name:?}: must be 1 to 32 characters from [a-z0-9_-], starting with a letter"
    );
    anyhow::ensure!(
        name != "guildhost-plugin",
        "plugin name {name:?}: is the SDK's own name (the project would depend on itself)"
    );
    Ok(())
}

/// Writes a new plugin project named `name` in `dir` (which must not exist or be empty) and
/// returns what to do next.
pub fn new_plugin(dir: &Path, name: &str, lang: Lang) -> anyhow::Result<String> {
    check_name(name)?;
    if dir.exists() {
        let empty = std::fs::read_dir(dir)
            .with_context(|| format!("cannot read {}", dir.display()))?
            .next()
            .is_none();
        anyhow::ensure!(empty, "{} exists and is not empty", dir.display());
    }
    let project = project(lang);
    let fill = |text: &str| {
        text.replace("{{crate}}", &name.replace('-', "_"))
            .replace("{{name}}", name)
            .replace("{{wall_time_ms}}", &project.wall_time_ms.to_string())
            .replace("{{memory_bytes}}", &project.memory_bytes.to_string())
    };
    let readme = TEMPLATE_README
        .replace("{{build}}", project.build)
        .replace("{{build_note}}", project.build_note)
        .replace("{{test}}", project.test)
        .replace("{{component}}", project.component)
        .replace("{{manifest_arg}}", project.manifest_arg)
        .replace("{{files}}", project.listing);
    let mut files: Vec<(String, String)> = project
        .files
        .iter()
        .map(|(path, text)| ((*path).to_owned(), fill(text)))
        .collect();
    files.push(("README.md".into(), fill(&readme)));
    files.push(("plugin.toml".into(), fill(TEMPLATE_MANIFEST)));
    files.push(("message.json".into(), TEMPLATE_MESSAGE.to_owned()));
    for (path, text) in project.sdk {
        files.push((format!("{}/{path}", project.sdk_dir), (*text).to_owned()));
    }
    if lang == Lang::Rust {
        files.push((
            format!("{}/Cargo.toml", project.sdk_dir),
            RUST_SDK_MANIFEST.to_owned(),
        ));
    }
    for (path, text) in &files {
        let target = dir.join(path);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("cannot create {}", parent.display()))?;
        }
        std::fs::write(&target, text)
            .with_context(|| format!("cannot write {}", target.display()))?;
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let executable = match lang {
            Lang::Rust => None,
            Lang::Js | Lang::Ts => Some(dir.join(project.sdk_dir).join("bin/guildhost-plugin.js")),
            Lang::Py => Some(dir.join("build.sh")),
        };
        if let Some(file) = executable {
            std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o755))
                .with_context(|| format!("cannot make {} executable", file.display()))?;
        }
    }
    let mut next = String::new();
    let _ = writeln!(next, "created {} ({} files)", dir.display(), files.len());
    let _ = writeln!(next, "\nnext:\n  cd {}", dir.display());
    for line in fill(project.build).lines().chain(project.test.lines()) {
        let _ = writeln!(next, "  {line}");
    }
    let component = fill(project.component);
    let _ = writeln!(
        next,
        "  guildhost plugin run {component}{} --message message.json",
        project.manifest_arg
    );
    Ok(next)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files_under(root: &Path, dir: &str, out: &mut Vec<String>) {
        for entry in std::fs::read_dir(root.join(dir)).expect("an SDK directory") {
            let path = entry.expect("an entry").path();
            let relative = path
                .strip_prefix(root)
                .expect("under the root")
                .to_string_lossy()
                .into_owned();
            if path.is_dir() {
                if !relative.ends_with("node_modules") {
                    files_under(root, &relative, out);
                }
            } else {
                out.push(relative);
            }
        }
    }

    /// Every SDK file is vendored into a new project (but the ones replaced or not needed).
    #[test]
    fn the_embedded_sdks_are_complete() {
        let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        for (sdk, embedded, skipped) in [
            ("plugins/sdk", RUST_SDK, &["Cargo.toml"][..]),
            (
                "plugins/sdk-js",
                JS_SDK,
                &["package-lock.json", ".gitignore"][..],
            ),
        ] {
            let root = repo.join(sdk);
            let mut on_disk = Vec::new();
            files_under(&root, "", &mut on_disk);
            on_disk.retain(|file| !skipped.contains(&file.as_str()));
            on_disk.sort();
            let mut listed: Vec<String> = embedded
                .iter()
                .map(|(path, _)| (*path).to_owned())
                .collect();
            listed.sort();
            assert_eq!(listed, on_disk, "{sdk}: the files `plugin new` vendors");
        }
    }

    /// The vendored Rust SDK asks for the versions the guest workspace builds it with.
    #[test]
    fn the_rust_sdk_manifest_matches_the_workspace() {
        let workspace = include_str!("../../plugins/Cargo.toml");
        for line in RUST_SDK_MANIFEST
            .lines()
            .skip_while(|line| *line != "[dependencies]")
            .skip(1)
            .filter(|line| !line.is_empty())
        {
            assert!(
                workspace.contains(line),
                "plugins/Cargo.toml lacks {line:?}"
            );
        }
    }

    #[test]
    fn names_are_checked() {
        for good in ["a", "my-plugin", "x_9"] {
            assert!(check_name(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "9lives",
            "My",
            "a b",
            "../x",
            "guildhost-plugin",
            &"a".repeat(33),
        ] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
    }
}
