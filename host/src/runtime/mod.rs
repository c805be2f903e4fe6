//! The sandboxed plugin runtime: wasmtime components implementing the `guildhost:plugin` WIT world.
