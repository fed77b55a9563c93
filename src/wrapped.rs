//! Is the daemon linked with libwrap at all? (issue 4: `not-wrapped`) — being written.
