//! What is wrong and why: one [`analysis`] of a system (verdicts per client, from [`eval`]
//! (crate::eval)), the lines that matter ([`detect`], [`scan`]), and the system around the
//! tables: whether sshd is linked with libwrap ([`wrapped`]), who else writes the tables
//! ([`writers`]), and who was refused ([`logs`], [`journal`]). [`explain`] words the verdicts.

pub mod analysis;
pub mod detect;
pub mod explain;
pub mod journal;
pub mod logs;
pub mod scan;
pub mod wrapped;
pub mod writers;
