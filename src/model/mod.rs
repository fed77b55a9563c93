//! What the tables say: the lossless reader ([`syntax`]), the patterns and options it finds,
//! the two tables of one system ([`tables`]), the client asked about, the libwrap flavour and
//! the accounts options may name. Nothing here evaluates or writes.

pub mod accounts;
pub mod bytes;
pub mod client;
pub mod edit;
pub mod flavor;
pub mod options;
pub mod pattern;
pub mod syntax;
pub mod tables;
