//! A minimal HTTP/1.0 GET for tests of the broker's admin listener (no client library needed).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::time::Duration;

use crate::{free_port, BrokerOptions, BrokerProcess};

/// Start the broker `bin` with `opts` and its HTTP listener (`http.listener`) on a free port of
/// 127.0.0.1; returns the broker and that listener's address.
pub fn start_with_http(bin: &Path, opts: BrokerOptions) -> (BrokerProcess, SocketAddr) {
    let port = free_port();
    let b = BrokerProcess::start(
        bin,
        opts.config("http.listener", &format!("127.0.0.1:{port}")),
    );
    (b, ([127, 0, 0, 1], port).into())
}

/// `GET path` on `addr`: the status code and body, or None when the connection or the answer
/// failed (not listening yet, malformed status line).
pub fn get(addr: SocketAddr, path: &str) -> Option<(u16, String)> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(30))).ok()?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").ok()?;
    let mut raw = String::new();
    s.read_to_string(&mut raw).ok()?;
    let (head, body) = raw.split_once("\r\n\r\n")?;
    let status = head.split_whitespace().nth(1)?.parse().ok()?;
    Some((status, body.to_string()))
}

/// The value of the sample `series` (exact series, labels included) in a Prometheus text body.
pub fn prometheus_sample(body: &str, series: &str) -> Option<f64> {
    body.lines().filter(|l| !l.starts_with('#')).find_map(|l| {
        l.strip_prefix(series)?
            .strip_prefix(' ')?
            .trim()
            .parse()
            .ok()
    })
}
