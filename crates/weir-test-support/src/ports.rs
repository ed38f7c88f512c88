//! Free TCP ports for brokers started by tests.

use std::net::TcpListener;

/// Next candidate port: below the kernel's ephemeral range (32768 and up), so no outgoing
/// client socket can take it between this check and the broker's bind, nor can a probe
/// connect to itself on it; spread by process id so concurrent test processes rarely collide.
fn next_candidate() -> u16 {
    use std::sync::atomic::{AtomicU32, Ordering};
    const LOW: u32 = 12_000;
    const SPAN: u32 = 20_000;
    static NEXT: AtomicU32 = AtomicU32::new(u32::MAX);
    let seed = (std::process::id().wrapping_mul(7_919)) % SPAN;
    let _ = NEXT.compare_exchange(u32::MAX, seed, Ordering::SeqCst, Ordering::SeqCst);
    let n = NEXT.fetch_add(1, Ordering::SeqCst);
    (LOW + n % SPAN) as u16
}

/// A TCP port on 127.0.0.1 that could be bound just now, below the ephemeral range and never
/// handed out twice by this process.
pub fn free_port() -> u16 {
    for _ in 0..20_000 {
        let p = next_candidate();
        if TcpListener::bind(("127.0.0.1", p)).is_ok() {
            return p;
        }
    }
    panic!("no free port below the ephemeral range");
}

/// `n` distinct free ports (see [`free_port`]).
pub fn free_ports(n: usize) -> Vec<u16> {
    (0..n).map(|_| free_port()).collect()
}
