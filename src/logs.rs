//! libwrap's `refused connect from` lines in the system's logs (issue 4: `refused-client`) —
//! being written.
