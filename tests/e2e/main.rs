//! Real hub, real agents, loopback only.

#![allow(unreachable_pub)]

mod harness;

mod handshake;
mod link;
mod link_secret;
mod offline;
mod tls;
