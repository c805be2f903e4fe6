//! Shared support for the end-to-end suites: connecting to the test Redis, unique prefixes.
