//! The raw wit-bindgen bindings of the `guildhost:plugin` world; the rest of the SDK wraps them.

wit_bindgen::generate!({
    path: "wit",
    world: "plugin",
    pub_export_macro: true,
    export_macro_name: "__export_plugin_bindings",
    default_bindings_module: "guildhost_plugin::bindings",
    additional_derives: [PartialEq],
});
