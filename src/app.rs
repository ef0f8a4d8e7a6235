//! App placeholder.
