//! Dispatch joins the queue, the protocol and the plugin runtime: it decodes each job's message,
//! hands it to the plugins subscribed to its type and turns their replies into jobs.
//!
//! Only this module knows both sides; the queue and the runtime know nothing of each other.

pub mod convert;
