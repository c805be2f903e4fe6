//! Source generation for guildhost, run as a test ("sourcegen", after rust-analyzer's): the WIT
//! package in `wit/` is the one list of message types, and `tests/sourcegen.rs` writes the
//! lists the other crates need from it — the protocol's message-type table and payload list, the
//! runtime's type-name table, the host's protocol ↔ WIT conversions and the plugin SDK's cases.
//!
//! `cargo test -p guildhost-sourcegen --test sourcegen` fails when a generated file was stale,
//! after rewriting it; run it again to see it pass. The crate has no code of its own and
//! depends on none of the crates it writes into, so it runs even when a stale list breaks them.
