//! The hub's HTTP side below the routes: one error shape, the connection
//! loop with its timeouts and per-address caps, and request limits.

pub mod addr;
pub mod conns;
pub mod error;
pub mod limits;
pub mod serve;

pub use error::error_response;
