//! The only module that knows sled. Placeholder.
