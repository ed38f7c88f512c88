//! Durable append throughput of weir-log against the raw disk, in the same run.
//!
//! For each workload (record size × partitions) it runs, for a fixed time:
//! 1. weir-log: one thread per partition appends 100-record batches and waits for durability
//!    after each append (what an acks=all produce does); group commit shares fdatasyncs.
//! 2. raw: one thread `write`s the same bytes, batch by batch round-robin, to as many plain files
//!    as there are partitions and, every (weir bytes ÷ weir group-commit passes) bytes — the same
//!    commit interval — calls `fdatasync` on each file written since the last sync.
//!
//! It prints MB/s and msgs/s of both, the ratio weir ÷ raw, and weir's CPU-seconds per million
//! messages (getrusage of this process during the weir phase). Bounded: ~2 s per phase.
//! Run: `cargo bench -p weir-log --bench durable_append` (WEIR_BENCH_SECS to change the phase length).

use std::io::Write;
use std::os::unix::fs::FileExt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use weir_log::batch::build_batch;
use weir_log::{LogManager, SystemClock, TopicPartition};

const RECORDS_PER_BATCH: usize = 100;

fn cpu_seconds() -> f64 {
    // SAFETY: getrusage writes into the zeroed struct we own.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

struct Outcome {
    bytes: u64,
    msgs: u64,
    secs: f64,
    passes: u64,
    cpu: f64,
}

fn run_weir(dir: &std::path::Path, record: usize, partitions: i32, secs: f64) -> Outcome {
    let mgr = LogManager::open(dir, Arc::new(SystemClock)).expect("open log dir");
    let value = vec![b'x'; record];
    let recs: Vec<(Option<&[u8]>, &[u8])> = (0..RECORDS_PER_BATCH)
        .map(|_| (None, value.as_slice()))
        .collect();
    let batch = Arc::new(build_batch(0, 0, &recs));
    let stop = Arc::new(AtomicBool::new(false));
    let (bytes, msgs) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let passes0 = mgr.group_commit_passes();
    let cpu0 = cpu_seconds();
    let t0 = Instant::now();
    let threads: Vec<_> = (0..partitions)
        .map(|p| {
            let (mgr, batch, stop, bytes, msgs) = (
                mgr.clone(),
                batch.clone(),
                stop.clone(),
                bytes.clone(),
                msgs.clone(),
            );
            std::thread::spawn(move || {
                let log = mgr
                    .get_or_create(
                        &TopicPartition::new("bench", p),
                        weir_log::LogConfig::default(),
                    )
                    .expect("partition");
                while !stop.load(Ordering::Relaxed) {
                    let r = log.append(&batch).expect("append");
                    mgr.wait_durable(r.durable.expect("durable by default"))
                        .expect("fsync");
                    bytes.fetch_add(batch.len() as u64, Ordering::Relaxed);
                    msgs.fetch_add(RECORDS_PER_BATCH as u64, Ordering::Relaxed);
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_secs_f64(secs));
    stop.store(true, Ordering::Relaxed);
    for t in threads {
        t.join().expect("appender thread");
    }
    let out = Outcome {
        bytes: bytes.load(Ordering::Relaxed),
        msgs: msgs.load(Ordering::Relaxed),
        secs: t0.elapsed().as_secs_f64(),
        passes: mgr.group_commit_passes() - passes0,
        cpu: cpu_seconds() - cpu0,
    };
    let _ = mgr.shutdown();
    out
}

fn run_raw(
    dir: &std::path::Path,
    files: usize,
    bytes_per_sync: usize,
    chunk: usize,
    secs: f64,
) -> Outcome {
    let mut fs: Vec<std::fs::File> = (0..files)
        .map(|i| {
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(dir.join(format!("raw-{i}.bin")))
                .expect("raw file")
        })
        .collect();
    let buf = vec![b'x'; chunk];
    let mut dirty = vec![false; files];
    let (mut bytes, mut since_sync, mut passes, mut next) = (0u64, 0usize, 0u64, 0usize);
    let t0 = Instant::now();
    while t0.elapsed().as_secs_f64() < secs {
        fs[next].write_all(&buf).expect("write");
        dirty[next] = true;
        next = (next + 1) % files;
        bytes += chunk as u64;
        since_sync += chunk;
        if since_sync >= bytes_per_sync {
            for (f, d) in fs.iter().zip(dirty.iter_mut()) {
                if *d {
                    f.sync_data().expect("fdatasync");
                    *d = false;
                }
            }
            passes += 1;
            since_sync = 0;
        }
    }
    for f in &fs {
        f.sync_data().expect("fdatasync");
        let _ = f.read_at(&mut [0u8; 1], 0);
    }
    Outcome {
        bytes,
        msgs: 0,
        secs: t0.elapsed().as_secs_f64(),
        passes,
        cpu: 0.0,
    }
}

fn main() {
    let secs: f64 = std::env::var("WEIR_BENCH_SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2.0);
    // Keep the files on the same disk as the project (target/), not a tmpfs.
    let base = env!("CARGO_TARGET_TMPDIR");
    println!("weir-log durable append vs raw write+fdatasync at the same commit interval ({secs} s per phase, {RECORDS_PER_BATCH} records per batch)");
    println!(
        "{:<8} {:>5} | {:>9} {:>11} {:>9} | {:>9} | {:>6} | {:>12} | {:>10}",
        "record",
        "parts",
        "weir MB/s",
        "weir msg/s",
        "KB/fsync",
        "raw MB/s",
        "ratio",
        "CPU s/M msg",
        "fsyncs/s"
    );
    for &record in &[100usize, 1024] {
        for &partitions in &[1i32, 16] {
            let dir = tempfile::tempdir_in(base).expect("bench dir");
            let w = run_weir(dir.path(), record, partitions, secs);
            let per_sync = (w.bytes / w.passes.max(1)).max(1) as usize;
            let chunk = (w.bytes / (w.msgs / RECORDS_PER_BATCH as u64).max(1)) as usize;
            let raw_dir = tempfile::tempdir_in(base).expect("bench dir");
            let r = run_raw(raw_dir.path(), partitions as usize, per_sync, chunk, secs);
            let wmb = w.bytes as f64 / w.secs / 1e6;
            let rmb = r.bytes as f64 / r.secs / 1e6;
            println!(
                "{:<8} {:>5} | {:>9.1} {:>11.0} {:>9.1} | {:>9.1} | {:>6.2} | {:>12.2} | {:>10.0}",
                record,
                partitions,
                wmb,
                w.msgs as f64 / w.secs,
                per_sync as f64 / 1024.0,
                rmb,
                wmb / rmb,
                w.cpu / (w.msgs as f64 / 1e6),
                w.passes as f64 / w.secs,
            );
        }
    }
}
