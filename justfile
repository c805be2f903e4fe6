# The everyday recipes. `just --list` shows them.

# Run the whole test suite (the same command CI runs after preparing the machine).
test:
    cargo test --workspace

# Format and lint exactly as CI does.
lint:
    cargo fmt --all --check
    cargo clippy --workspace --all-targets -- -D warnings

# Prepare a fresh machine and run everything CI runs.
ci:
    bash .ci/run

# Benchmark guildhost's queue worker against the real npm bull (needs redis-server, Node 20+ and
# `npm ci` in tests/node). Extra flags pass through: `just bench-queue --rounds 5`.
bench-queue *ARGS:
    cargo run --release -p guildhost-tests --bin queue_bench -- {{ARGS}}

# The end-to-end benchmark: the command and gateway paths through a `guildhost run` process,
# side by side with Node's Bull (needs redis-server, Node 20+ and `npm ci` in tests/node).
bench-e2e *ARGS:
    cargo run --release -p guildhost-tests --bin e2e_bench -- {{ARGS}}

# Regenerate the README's bull-board screenshot (needs Debian's chromium and `npm ci` in tests/node).
board-screenshot:
    GUILDHOST_BOARD_SCREENSHOT=docs/bull-board.png cargo test -p guildhost-tests --test bull_board

# The plugin store: install → serving on two hosts, memory per installed plugin, throughput with
# 100 guild plugins against none (needs redis-server).
bench-store *ARGS:
    cargo run --release -p guildhost-tests --bin store_bench -- {{ARGS}}

# JavaScript plugins against Rust ones: the automod example in both languages, in the runtime
# (compile, warm and fresh calls, memory per instance) and through the pipeline against Bull's
# no-op worker (needs redis-server, Node 20+, and `npm ci` in plugins/sdk-js,
# examples/guild-automod-ts and tests/node).
bench-js *ARGS:
    cargo run --release -p guildhost-tests --bin js_bench -- {{ARGS}}

# The differential tester's long campaign against the real npm bull (needs redis-server, Node 20+
# and `npm ci` in tests/node): `just difftest --sequences 1000 --minutes 60 --seed 1000000`.
difftest *ARGS:
    cargo run --release -p guildhost-tests --bin difftest -- {{ARGS}}

# The fault campaign: three hosts on one Redis under a Node producer's load while hosts are
# SIGKILLed, Redis restarts, clients pause and the fake Discord fails in bursts; prints the
# README's table (`just chaos --seconds 120 --rate 200`; `--redis-sigkill`, `--no-aof`).
chaos *ARGS:
    cargo run --release -p guildhost-tests --bin chaos -- {{ARGS}}

# Fuzzing what comes from outside (job data, protocol messages, configuration files, manifests):
# a million cases per property (`just fuzz 100000` for fewer).
fuzz CASES="1000000":
    GUILDHOST_FUZZ_CASES={{CASES}} cargo test --release -p guildhost --test protocol_properties --test input_properties

# The soak run: hosts under a steady load for 30 minutes; memory and p99 per minute
# (`just soak --minutes 30 --rate 100`).
soak *ARGS:
    cargo run --release -p guildhost-tests --bin soak -- {{ARGS}}
