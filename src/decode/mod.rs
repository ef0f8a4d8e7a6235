//! Pure decoders: bytes in, parsed fields out. No sockets, no store, no clocks except the
//! receive time passed in.

pub mod syslog;
