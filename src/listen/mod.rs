//! Sockets only. Placeholder.
