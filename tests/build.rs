//! Hands the test suites the guests the host's build script built: `GUILDHOST_TEST_GUESTS`
//! (the test guests) and `GUILDHOST_PLUGINS` (the first-party plugins), directories of
//! `<name>.wasm` beside `<name>.toml`.

fn main() {
    for (from, to) in [
        ("DEP_GUILDHOST_GUESTS_TEST_GUESTS", "GUILDHOST_TEST_GUESTS"),
        ("DEP_GUILDHOST_GUESTS_PLUGINS", "GUILDHOST_PLUGINS"),
    ] {
        match std::env::var(from) {
            Ok(dir) => println!("cargo:rustc-env={to}={dir}"),
            Err(_) => {
                eprintln!("{from} is not set: the guildhost crate's build script did not run");
                std::process::exit(1);
            }
        }
    }
}
