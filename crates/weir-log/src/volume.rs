//! The size of the volume a log directory is on (DescribeLogDirs v4+ `TotalBytes`/`UsableBytes`).

use std::ffi::CString;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// Total and usable bytes of a file system, as Java's `FileStore.getTotalSpace` /
/// `getUsableSpace` (which Kafka reports): blocks × fragment size, and the blocks available to
/// an unprivileged user × fragment size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VolumeSpace {
    /// Size of the file system in bytes.
    pub total_bytes: u64,
    /// Bytes an unprivileged writer can still use.
    pub usable_bytes: u64,
}

/// The space of the file system holding `path` (`statvfs`).
pub fn volume_space(path: &Path) -> io::Result<VolumeSpace> {
    let c = CString::new(path.as_os_str().as_bytes())
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    // SAFETY: `statvfs` only writes into the zeroed struct we pass and reads the NUL-terminated
    // path, which outlives the call.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    if unsafe { libc::statvfs(c.as_ptr(), &mut st) } != 0 {
        return Err(io::Error::last_os_error());
    }
    let frag = st.f_frsize;
    Ok(VolumeSpace {
        total_bytes: st.f_blocks.saturating_mul(frag),
        usable_bytes: st.f_bavail.saturating_mul(frag),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_directory_has_a_volume_and_a_missing_one_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let v = volume_space(dir.path()).unwrap();
        assert!(v.total_bytes > 0);
        assert!(v.usable_bytes <= v.total_bytes);
        assert!(volume_space(&dir.path().join("missing")).is_err());
    }
}
