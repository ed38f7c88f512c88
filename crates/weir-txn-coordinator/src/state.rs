//! [`TxnState`]: the states of a transactional id and Kafka's legal transitions between them.

/// The state of a transactional id (Kafka's `TransactionState`; the id is the
/// `TransactionStatus` byte of the `__transaction_state` value, the name what
/// DescribeTransactions / ListTransactions show).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TxnState {
    /// No transaction yet (after InitProducerId).
    Empty,
    /// A transaction has partitions and is running.
    Ongoing,
    /// EndTxn(commit) was persisted; markers are being written.
    PrepareCommit,
    /// EndTxn(abort) (or a fence / timeout) was persisted; markers are being written.
    PrepareAbort,
    /// Every partition has its commit marker.
    CompleteCommit,
    /// Every partition has its abort marker.
    CompleteAbort,
    /// The transactional id expired and is being removed (never persisted: a tombstone is).
    Dead,
    /// The epoch is being bumped to fence the current producer before aborting its
    /// transaction (transient, never persisted: the abort is).
    PrepareEpochFence,
}

impl TxnState {
    /// Every state, in id order.
    pub const ALL: [TxnState; 8] = [
        TxnState::Empty,
        TxnState::Ongoing,
        TxnState::PrepareCommit,
        TxnState::PrepareAbort,
        TxnState::CompleteCommit,
        TxnState::CompleteAbort,
        TxnState::Dead,
        TxnState::PrepareEpochFence,
    ];

    /// The `TransactionStatus` byte stored in `__transaction_state`.
    pub fn id(self) -> i8 {
        match self {
            TxnState::Empty => 0,
            TxnState::Ongoing => 1,
            TxnState::PrepareCommit => 2,
            TxnState::PrepareAbort => 3,
            TxnState::CompleteCommit => 4,
            TxnState::CompleteAbort => 5,
            TxnState::Dead => 6,
            TxnState::PrepareEpochFence => 7,
        }
    }

    /// The state with status byte `id`, if any.
    pub fn from_id(id: i8) -> Option<TxnState> {
        TxnState::ALL.into_iter().find(|s| s.id() == id)
    }

    /// Kafka's name of the state (DescribeTransactions, ListTransactions' state filters).
    pub fn name(self) -> &'static str {
        match self {
            TxnState::Empty => "Empty",
            TxnState::Ongoing => "Ongoing",
            TxnState::PrepareCommit => "PrepareCommit",
            TxnState::PrepareAbort => "PrepareAbort",
            TxnState::CompleteCommit => "CompleteCommit",
            TxnState::CompleteAbort => "CompleteAbort",
            TxnState::Dead => "Dead",
            TxnState::PrepareEpochFence => "PrepareEpochFence",
        }
    }

    /// The state named `name` (exact, case-sensitive, as Kafka).
    pub fn from_name(name: &str) -> Option<TxnState> {
        TxnState::ALL.into_iter().find(|s| s.name() == name)
    }

    /// The states from which this state may be entered (Kafka's `validPreviousStates`; in
    /// transaction version 2 Empty / CompleteCommit / CompleteAbort may go to PrepareAbort, an
    /// abort the client sends when unsure of the server's state).
    pub fn valid_previous(self) -> &'static [TxnState] {
        use TxnState::*;
        match self {
            Empty => &[Empty, CompleteCommit, CompleteAbort],
            Ongoing => &[Ongoing, Empty, CompleteCommit, CompleteAbort],
            PrepareCommit => &[Ongoing],
            PrepareAbort => &[
                Ongoing,
                PrepareEpochFence,
                Empty,
                CompleteCommit,
                CompleteAbort,
            ],
            CompleteCommit => &[PrepareCommit],
            CompleteAbort => &[PrepareAbort],
            Dead => &[Empty, CompleteAbort, CompleteCommit],
            PrepareEpochFence => &[Ongoing],
        }
    }

    /// True when `self -> to` is a legal transition.
    pub fn can_transition_to(self, to: TxnState) -> bool {
        to.valid_previous().contains(&self)
    }

    /// True when a transactional id in this state may expire (no transaction in flight).
    pub fn expiration_allowed(self) -> bool {
        matches!(
            self,
            TxnState::Empty | TxnState::CompleteCommit | TxnState::CompleteAbort
        )
    }

    /// PrepareCommit or PrepareAbort: markers are being written.
    pub fn is_prepare(self) -> bool {
        matches!(self, TxnState::PrepareCommit | TxnState::PrepareAbort)
    }
}

impl std::fmt::Display for TxnState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_names_round_trip() {
        for s in TxnState::ALL {
            assert_eq!(TxnState::from_id(s.id()), Some(s));
            assert_eq!(TxnState::from_name(s.name()), Some(s));
        }
        assert_eq!(TxnState::from_id(8), None);
        assert_eq!(TxnState::from_name("ongoing"), None);
        assert_eq!(TxnState::PrepareEpochFence.id(), 7);
    }

    #[test]
    fn transitions_follow_kafka() {
        use TxnState::*;
        assert!(Ongoing.can_transition_to(PrepareCommit));
        assert!(!Empty.can_transition_to(PrepareCommit));
        assert!(Empty.can_transition_to(PrepareAbort));
        assert!(PrepareEpochFence.can_transition_to(PrepareAbort));
        assert!(!PrepareCommit.can_transition_to(CompleteAbort));
        assert!(!Ongoing.can_transition_to(Dead));
        assert!(CompleteCommit.can_transition_to(Ongoing));
        assert!(!Empty.can_transition_to(PrepareEpochFence));
        assert!(Empty.expiration_allowed() && !Ongoing.expiration_allowed());
    }
}
