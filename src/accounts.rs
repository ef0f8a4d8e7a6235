//! Accounts placeholder.
