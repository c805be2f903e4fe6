//! The message protocol shared with the Node API: the envelope, every message type, validation.
