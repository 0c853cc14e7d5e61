//! The hub's HTTP side below the routes: one error shape, the connection
//! loop with its timeouts and per-address caps, and request limits.

pub mod error;

pub use error::error_response;
