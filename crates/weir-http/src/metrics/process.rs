//! CPU time and resident memory of this process, from `/proc/self` (Linux), as the standard
//! Prometheus `process_*` metrics.

/// CPU and memory use of this process.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ProcessStats {
    /// User + system CPU time, in seconds.
    pub cpu_seconds: f64,
    /// Resident set size, in bytes.
    pub resident_bytes: u64,
    /// Open file descriptors.
    pub open_fds: u64,
}

/// Read the stats; None where `/proc` is not available.
pub fn read() -> Option<ProcessStats> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let open_fds = std::fs::read_dir("/proc/self/fd")
        .map(|d| d.count() as u64)
        .unwrap_or(0);
    parse(&stat, &statm, ticks_per_second(), page_size()).map(|s| ProcessStats { open_fds, ..s })
}

fn ticks_per_second() -> f64 {
    // SAFETY: sysconf has no preconditions.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 {
        t as f64
    } else {
        100.0
    }
}

fn page_size() -> u64 {
    // SAFETY: sysconf has no preconditions.
    let p = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    u64::try_from(p).ok().filter(|p| *p > 0).unwrap_or(4096)
}

/// Parse `/proc/self/stat` (utime, stime: fields 14 and 15, counted after the parenthesised
/// command name, which may hold spaces) and `/proc/self/statm` (resident pages: field 2).
fn parse(stat: &str, statm: &str, ticks: f64, page: u64) -> Option<ProcessStats> {
    let after_comm = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = after_comm.split_whitespace().collect();
    // after_comm starts at field 3 (state); utime is field 14 → index 11.
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    let resident_pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(ProcessStats {
        cpu_seconds: (utime + stime) / ticks,
        resident_bytes: resident_pages * page,
        open_fds: 0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_proc_stat_with_spaces_in_the_name() {
        let stat = "42 (weir (x) y) S 1 42 42 0 -1 4194560 100 0 0 0 250 150 0 0 20 0 9 0 1 2 3";
        let s = parse(stat, "1000 300 20 1 0 50 0", 100.0, 4096).unwrap();
        assert_eq!(s.cpu_seconds, 4.0);
        assert_eq!(s.resident_bytes, 300 * 4096);
        assert!(parse("garbage", "", 100.0, 4096).is_none());
    }

    #[test]
    fn reads_this_process() {
        let s = read().expect("/proc is mounted");
        assert!(s.resident_bytes > 0 && s.open_fds > 0);
    }
}
