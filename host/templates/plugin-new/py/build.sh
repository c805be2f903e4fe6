#!/bin/sh
# Builds dist/{{name}}.wasm with its manifest beside it (needs componentize-py:
# `pip install -r requirements.txt`). Also writes the bindings (`wit_world/`) the unit tests import.
set -eu
cd "$(dirname "$0")"
componentize-py -d wit -w plugin bindings .
mkdir -p dist
# --stub-wasi: the Python runtime's WASI imports (sockets among them) become trapping stubs, so
# the component imports only the guildhost interfaces.
componentize-py -d wit -w plugin componentize --stub-wasi app -o dist/{{name}}.wasm
cp plugin.toml dist/{{name}}.toml
echo "built dist/{{name}}.wasm"
