//! End-to-end tests of the real `pmr` binary supervising real node, python3
//! and bash apps. One test binary, one private `$PMR_HOME` per test.

#![allow(unreachable_pub)]

mod helper;
mod keeper;

mod appio;
mod cli_checks;
mod cluster;
mod daemon;
mod ecosystem;
mod faults;
mod hostile;
mod lifecycle;
mod logs;
mod monit;
mod node;
mod parallel;
mod pm2_commands;
mod ports;
mod restart;
mod rotate;
mod runtime;
mod serve;
mod stop;
mod versioning;
