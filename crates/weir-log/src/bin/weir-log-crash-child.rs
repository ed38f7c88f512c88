//! Test helper for the crash test (`tests/crash_kill9.rs`): appends durable batches to two
//! partitions of the log dir given as the first argument, forever, printing
//! `ACK <partition> <base_offset> <seq>` after each append is durable. The parent SIGKILLs it.

use std::io::Write;
use std::sync::Arc;

use weir_log::{LogConfig, LogManager, SystemClock, TopicPartition};

fn main() {
    let Some(dir) = std::env::args().nth(1) else {
        eprintln!("usage: weir-log-crash-child <log-dir>");
        std::process::exit(2);
    };
    let mgr = match LogManager::open(std::path::Path::new(&dir), Arc::new(SystemClock)) {
        Ok(m) => m,
        Err(e) => {
            eprintln!("open failed: {e}");
            std::process::exit(3);
        }
    };
    let cfg = LogConfig {
        segment_bytes: 16 * 1024, // many rolls
        ..LogConfig::default()
    };
    let out = Arc::new(std::sync::Mutex::new(std::io::stdout()));
    let mut threads = Vec::new();
    for p in 0..2 {
        let (mgr, cfg, out) = (mgr.clone(), cfg.clone(), out.clone());
        threads.push(std::thread::spawn(move || {
            let log = match mgr.get_or_create(&TopicPartition::new("crash", p), cfg) {
                Ok(l) => l,
                Err(e) => {
                    eprintln!("partition open failed: {e}");
                    std::process::exit(4);
                }
            };
            let mut seq = 0u64;
            loop {
                let r = match log.append(&weir_log::batch::crash_test_batch(seq)) {
                    Ok(r) => r,
                    Err(e) => {
                        eprintln!("append failed: {e}");
                        std::process::exit(5);
                    }
                };
                if let Some(t) = r.durable {
                    if let Err(e) = mgr.wait_durable(t) {
                        eprintln!("fsync failed: {e}");
                        std::process::exit(6);
                    }
                }
                let mut o = out.lock().unwrap_or_else(|e| e.into_inner());
                let _ = writeln!(o, "ACK {p} {} {seq}", r.base_offset);
                let _ = o.flush();
                seq += 1;
            }
        }));
    }
    for t in threads {
        let _ = t.join();
    }
}
