//! Per-partition work at start-up and shutdown on a few threads: partitions are independent,
//! and checking or closing 10,000 of them one by one took minutes (a few reads or fsyncs each).

/// Threads used for per-partition work at open and at shutdown.
pub(crate) const THREADS: usize = 8;

/// `f` applied to every item, in order, on up to [`THREADS`] scoped threads; an item whose
/// thread panicked yields `panicked()` instead.
pub(crate) fn map<T: Sync, R: Send>(
    items: &[T],
    f: impl Fn(&T) -> R + Sync,
    panicked: impl Fn() -> R,
) -> Vec<R> {
    let per = items.len().div_ceil(THREADS).max(1);
    std::thread::scope(|scope| {
        let f = &f;
        let handles: Vec<_> = items
            .chunks(per)
            .map(|chunk| {
                (
                    chunk.len(),
                    scope.spawn(move || chunk.iter().map(f).collect::<Vec<R>>()),
                )
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|(n, h)| {
                h.join()
                    .unwrap_or_else(|_| (0..n).map(|_| panicked()).collect())
            })
            .collect()
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn results_keep_the_items_order() {
        let items: Vec<u32> = (0..100).collect();
        let out = super::map(&items, |i| i * 2, || u32::MAX);
        assert_eq!(out, (0..100).map(|i| i * 2).collect::<Vec<_>>());
        assert!(super::map(&[] as &[u32], |i| *i, || 0).is_empty());
    }
}
