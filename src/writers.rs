//! Tools that write hosts.allow/hosts.deny and would undo a fix (issue 4: `writer`) — being
//! written.
