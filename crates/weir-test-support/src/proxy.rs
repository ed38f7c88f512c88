//! A TCP proxy on 127.0.0.1 that understands just enough of Kafka framing to lose Produce
//! responses on purpose: every `drop_every`-th Produce response is swallowed and the client's
//! connection is cut, so the client must retry a request the broker already executed. It can
//! also hold new connections back (`pause`) so a test can restart the broker before the retry.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Shared counters and switches.
#[derive(Debug, Default)]
pub struct ProxyState {
    /// Produce responses seen (forwarded or dropped).
    pub produce_responses: AtomicU64,
    /// Produce responses dropped.
    pub dropped: AtomicU64,
    /// While true, new client connections wait before reaching the broker.
    pub paused: AtomicBool,
    /// Set `paused` right after the next dropped response.
    pub pause_after_next_drop: AtomicBool,
    /// Drop every n-th Produce response (0 = never).
    pub drop_every: AtomicU64,
}

/// The running proxy (threads end with the test process).
pub struct DropProxy {
    /// The port clients should use.
    pub port: u16,
    /// Counters and switches.
    pub state: Arc<ProxyState>,
    upstream: Arc<Mutex<SocketAddr>>,
}

fn read_frame(s: &mut TcpStream) -> Option<Vec<u8>> {
    let mut len = [0u8; 4];
    s.read_exact(&mut len).ok()?;
    let n = i32::from_be_bytes(len);
    if !(0..=200 << 20).contains(&n) {
        return None;
    }
    let mut buf = vec![0u8; 4 + n as usize];
    buf[..4].copy_from_slice(&len);
    s.read_exact(&mut buf[4..]).ok()?;
    Some(buf)
}

impl DropProxy {
    /// Listen on a free 127.0.0.1 port and forward to `upstream`.
    pub fn start(upstream: SocketAddr, drop_every: u64) -> DropProxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind proxy");
        let port = listener.local_addr().expect("proxy addr").port();
        let state = Arc::new(ProxyState::default());
        state.drop_every.store(drop_every, Ordering::SeqCst);
        let upstream = Arc::new(Mutex::new(upstream));
        let (st, up) = (state.clone(), upstream.clone());
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let (st, up) = (st.clone(), up.clone());
                std::thread::spawn(move || serve(client, st, up));
            }
        });
        DropProxy {
            port,
            state,
            upstream,
        }
    }

    /// Forward new connections to `addr` from now on.
    pub fn set_upstream(&self, addr: SocketAddr) {
        *self.upstream.lock().unwrap_or_else(|e| e.into_inner()) = addr;
    }

    /// Let waiting and new connections through again.
    pub fn resume(&self) {
        self.state.paused.store(false, Ordering::SeqCst);
    }
}

fn serve(mut client: TcpStream, st: Arc<ProxyState>, up: Arc<Mutex<SocketAddr>>) {
    while st.paused.load(Ordering::SeqCst) {
        std::thread::sleep(Duration::from_millis(5));
    }
    let addr = *up.lock().unwrap_or_else(|e| e.into_inner());
    let Ok(mut broker) = TcpStream::connect(addr) else {
        let _ = client.shutdown(Shutdown::Both);
        return;
    };
    let _ = client.set_nodelay(true);
    let _ = broker.set_nodelay(true);
    let api_keys: Arc<Mutex<HashMap<i32, i16>>> = Arc::default();
    let (mut c_in, mut b_out) = (
        client.try_clone().expect("clone"),
        broker.try_clone().expect("clone"),
    );
    let keys = api_keys.clone();
    std::thread::spawn(move || {
        while let Some(f) = read_frame(&mut c_in) {
            if f.len() >= 12 {
                let key = i16::from_be_bytes([f[4], f[5]]);
                let corr = i32::from_be_bytes([f[8], f[9], f[10], f[11]]);
                keys.lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .insert(corr, key);
            }
            if b_out.write_all(&f).is_err() {
                break;
            }
        }
        let _ = b_out.shutdown(Shutdown::Both);
    });
    while let Some(f) = read_frame(&mut broker) {
        let corr = if f.len() >= 8 {
            i32::from_be_bytes([f[4], f[5], f[6], f[7]])
        } else {
            -1
        };
        let key = api_keys
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&corr);
        if key == Some(0) {
            let n = st.produce_responses.fetch_add(1, Ordering::SeqCst) + 1;
            let every = st.drop_every.load(Ordering::SeqCst);
            if every > 0 && n.is_multiple_of(every) {
                if st.pause_after_next_drop.swap(false, Ordering::SeqCst) {
                    st.paused.store(true, Ordering::SeqCst);
                }
                st.dropped.fetch_add(1, Ordering::SeqCst);
                break;
            }
        }
        if client.write_all(&f).is_err() {
            break;
        }
    }
    let _ = client.shutdown(Shutdown::Both);
    let _ = broker.shutdown(Shutdown::Both);
}
