//! Syslog decoding (RFC 5424, RFC 3164 and the loose forms devices send). Placeholder.
