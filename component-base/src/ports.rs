//! Ports for processes a test or a benchmark starts on loopback.

use std::net::TcpListener;
use std::sync::atomic::{AtomicU32, Ordering};

/// A loopback port nothing listens on, for a process about to be started. It comes from
/// below the kernel's ephemeral range (32768 and up), so a client connection cannot take
/// it between now and the process binding it, and ports are handed out in turn from a
/// per-process starting point, so two callers in one process never get the same one.
pub fn free_port() -> u16 {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let start = std::process::id().wrapping_mul(40);
    loop {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let port = (20_000 + start.wrapping_add(n) % 12_000) as u16;
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn ports_are_distinct_and_below_the_ephemeral_range() {
        let a: Vec<u16> = (0..50).map(|_| super::free_port()).collect();
        let mut b = a.clone();
        b.sort_unstable();
        b.dedup();
        assert_eq!(a.len(), b.len());
        assert!(a.iter().all(|p| (20_000..32_000).contains(p)));
    }
}
