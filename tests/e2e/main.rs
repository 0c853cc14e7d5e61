//! Real hub, real agents, loopback only.

#![allow(unreachable_pub)]

mod harness;

mod access;
mod alerts;
mod browser;
mod database;
mod feed;
mod handshake;
mod history;
mod hostile_http;
mod hostile_ws;
mod link;
mod link_secret;
mod offline;
mod outside;
mod replicas;
mod tls;
