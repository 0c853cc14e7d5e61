//! Tests of ecosystem files: formats and their errors ([`files`]), and
//! every pm2 option with the values it accepts and refuses ([`options`]).

mod files;
mod options;
