//! Finishing or undoing, at start-up, moves between log dirs that a crash interrupted (the
//! move itself is `log_move.rs`): a `<topic>-<partition>.weir-delete` source whose partition
//! exists is removed, one with a complete `.weir-future` copy has the copy renamed into place,
//! one with neither is renamed back; a `.weir-future` directory alone is removed.

use std::fs;
use std::path::{Path, PathBuf};

use crate::checkpoint::fsync_dir;

/// Suffix of the copy being made in the destination dir.
pub(crate) const FUTURE: &str = ".weir-future";
/// Suffix of the source once the copy is complete, until it is removed.
pub(crate) const DELETE: &str = ".weir-delete";

/// Finish or undo the moves a crash interrupted in `log_dirs` (see the module doc). Errors are
/// logged; the dirs are opened afterwards as they are.
pub(crate) fn recover_interrupted_moves(log_dirs: &[PathBuf]) {
    let entries = |dir: &Path| -> Vec<String> {
        fs::read_dir(dir)
            .map(|rd| {
                rd.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default()
    };
    for dir in log_dirs {
        for name in entries(dir) {
            let Some(base) = name.strip_suffix(DELETE) else {
                continue;
            };
            let old = dir.join(&name);
            let done = log_dirs.iter().any(|d| d.join(base).exists());
            let future = log_dirs
                .iter()
                .map(|d| (d, d.join(format!("{base}{FUTURE}"))))
                .find(|(_, f)| f.exists());
            let r = if done {
                fs::remove_dir_all(&old)
            } else if let Some((d, f)) = future {
                tracing::info!(
                    partition = base,
                    "finishing a log dir move interrupted by a crash"
                );
                fs::rename(&f, d.join(base)).and_then(|()| fs::remove_dir_all(&old))
            } else {
                tracing::info!(
                    partition = base,
                    "undoing a log dir move interrupted by a crash"
                );
                fs::rename(&old, dir.join(base))
            };
            if let Err(e) = r {
                tracing::error!(dir = %old.display(), error = %e, "cannot recover an interrupted log dir move");
            }
        }
    }
    for dir in log_dirs {
        for name in entries(dir) {
            if name.ends_with(FUTURE) {
                let _ = fs::remove_dir_all(dir.join(&name));
            }
        }
        let _ = fsync_dir(dir);
    }
}
