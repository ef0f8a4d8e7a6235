//! Web placeholder.
