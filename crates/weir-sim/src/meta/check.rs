//! The metadata invariants, checked after every committed batch of records.

use weir_meta::image::MetadataImage;

/// Check one committed change from `prev` to `next`; returns the number of leader elections it
/// made. Invariants: every partition valid (distinct replicas, a non-empty ISR ⊆ replicas,
/// leader -1 or in the ISR, adding/removing disjoint replicas); leader and partition epochs never
/// decrease, a change bumps the partition epoch, a new leader bumps the leader epoch; without
/// unclean election a new leader comes from the previous ISR or from `vouched` (the ISR the
/// partition leader's AlterPartition named, which may complete a reassignment and elect one of
/// its new members in the same record); a fenced broker leads nothing and is in an ISR only as
/// its last member of a leaderless partition.
pub fn check_change(
    prev: &MetadataImage,
    next: &MetadataImage,
    unclean: bool,
    vouched: &[i32],
) -> Result<u64, String> {
    let mut elections = 0;
    let fenced = |id: &i32| next.brokers.get(id).is_none_or(|b| b.fenced);
    for (name, t) in &next.topics {
        for (i, p) in t.partitions.iter().enumerate() {
            let tp = format!("{name}-{i}");
            let mut sorted = p.replicas.clone();
            sorted.sort_unstable();
            sorted.dedup();
            if p.replicas.is_empty() || sorted.len() != p.replicas.len() {
                return Err(format!("{tp}: bad replicas {:?}", p.replicas));
            }
            if p.isr.is_empty() || p.isr.iter().any(|r| !p.replicas.contains(r)) {
                return Err(format!(
                    "{tp}: ISR {:?} empty or not within replicas {:?}",
                    p.isr, p.replicas
                ));
            }
            if p.leader != -1 && !p.isr.contains(&p.leader) {
                return Err(format!("{tp}: leader {} not in ISR {:?}", p.leader, p.isr));
            }
            if p.adding_replicas
                .iter()
                .any(|r| p.removing_replicas.contains(r) || !p.replicas.contains(r))
                || p.removing_replicas.iter().any(|r| !p.replicas.contains(r))
            {
                return Err(format!("{tp}: bad adding/removing {p:?}"));
            }
            if p.leader != -1 && fenced(&p.leader) {
                return Err(format!(
                    "{tp}: fenced broker {} is the leader ({p:?})",
                    p.leader
                ));
            }
            if let Some(f) = p.isr.iter().find(|r| fenced(r)) {
                if p.isr.len() > 1 {
                    return Err(format!(
                        "{tp}: fenced broker {f} is in the ISR {:?} with others",
                        p.isr
                    ));
                }
            }
            let Some(old) = prev.partition(name, i as i32) else {
                continue;
            };
            if p.leader_epoch < old.leader_epoch || p.partition_epoch < old.partition_epoch {
                return Err(format!("{tp}: epochs went back: {old:?} -> {p:?}"));
            }
            if p != old && p.partition_epoch == old.partition_epoch {
                return Err(format!(
                    "{tp}: changed without a partition epoch bump: {old:?} -> {p:?}"
                ));
            }
            if p.leader != old.leader {
                if p.leader_epoch <= old.leader_epoch {
                    return Err(format!(
                        "{tp}: new leader without a leader epoch bump: {old:?} -> {p:?}"
                    ));
                }
                if p.leader != -1 {
                    elections += 1;
                    if !unclean && !old.isr.contains(&p.leader) && !vouched.contains(&p.leader) {
                        return Err(format!(
                            "{tp}: leader {} elected from outside the ISR {:?} (unclean election is off)",
                            p.leader, old.isr
                        ));
                    }
                }
            }
        }
    }
    Ok(elections)
}
