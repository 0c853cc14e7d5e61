//! Real hub, real agents, loopback only.

#![allow(unreachable_pub)]

mod harness;

mod handshake;
mod hostile;
mod link;
mod link_secret;
mod offline;
mod outside;
mod tls;
