//! Real hub, real agents, loopback only.

#![allow(unreachable_pub)]

mod harness;

mod handshake;
mod link;
mod offline;
mod tls;
