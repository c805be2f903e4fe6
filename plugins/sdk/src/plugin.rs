//! The `Plugin` trait a plugin implements and the `export!` macro that turns it into the
//! component's `handle` export.

use crate::host::WasmHost;
use crate::types::{Envelope, Message, Output, PluginError};
use crate::{Context, Error, Incoming};

/// A message handler. Implement it on a unit struct and export it with [`crate::export!`].
///
/// The handler gets everything through its arguments, so it can be tested natively with
/// [`crate::testing::TestHost`]; a panic inside it ends the call (the host logs the message).
pub trait Plugin {
    /// Handles one message and returns the outputs to apply, in order.
    fn handle(ctx: &Context<'_>, msg: &Incoming) -> Result<Vec<Output>, Error>;
}

/// Exports a [`Plugin`] as the component's `handle` function.
///
/// Use it once per plugin crate, at the crate root. Outside `wasm32` it exports nothing (it only
/// checks the type), so the same crate builds and unit-tests natively.
///
/// ```
/// use guildhost_plugin::{Context, Error, Incoming, Output, Plugin};
///
/// struct Quiet;
///
/// impl Plugin for Quiet {
///     fn handle(_ctx: &Context<'_>, _msg: &Incoming) -> Result<Vec<Output>, Error> {
///         Ok(Vec::new())
///     }
/// }
///
/// guildhost_plugin::export!(Quiet);
/// # fn main() {}
/// ```
#[macro_export]
macro_rules! export {
    ($plugin:ty) => {
        #[cfg(target_arch = "wasm32")]
        const _: () = {
            struct GuildhostGuest;

            impl $crate::bindings::Guest for GuildhostGuest {
                fn handle(
                    envelope: $crate::types::Envelope,
                    message: $crate::types::Message,
                ) -> ::core::result::Result<
                    ::std::vec::Vec<$crate::types::Output>,
                    $crate::types::PluginError,
                > {
                    $crate::__private::handle::<$plugin>(envelope, message)
                }
            }

            $crate::bindings::__export_plugin_bindings!(GuildhostGuest with_types_in $crate::bindings);
        };

        // Natively there is nothing to export; naming the handler still checks that the type
        // implements `Plugin` and marks it as used.
        #[cfg(not(target_arch = "wasm32"))]
        const _: fn(
            &$crate::Context<'_>,
            &$crate::Incoming,
        ) -> ::core::result::Result<::std::vec::Vec<$crate::types::Output>, $crate::Error> =
            <$plugin as $crate::Plugin>::handle;
    };
}

/// Runs `P` inside a component: the glue [`crate::export!`] expands to.
#[doc(hidden)]
pub fn handle<P: Plugin>(envelope: Envelope, message: Message) -> Result<Vec<Output>, PluginError> {
    let host = WasmHost;
    let ctx = Context::new(&host);
    let incoming = Incoming { envelope, message };
    P::handle(&ctx, &incoming).map_err(Error::into_plugin_error)
}
