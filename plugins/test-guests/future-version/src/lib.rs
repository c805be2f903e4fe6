//! Hostile test guest: a component built against `guildhost:plugin@2.0.0` (see `wit/`), which
//! the host must refuse at load with a message listing the versions it supports.

wit_bindgen::generate!({
    path: "wit",
    world: "plugin",
});

struct FutureVersion;

impl Guest for FutureVersion {
    fn handle(envelope: Envelope) -> Vec<String> {
        vec![envelope.id]
    }
}

export!(FutureVersion);
