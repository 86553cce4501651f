//! Upstream's supported string formats.
