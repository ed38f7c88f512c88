//! Every internal error maps to the Kafka error code a Kafka broker returns in that situation.

use kafka_protocol::error::ResponseError;
use weir_broker::error::log_error_code;
use weir_broker::BrokerError;
use weir_log::LogError;

#[test]
fn log_errors_map_to_kafka_codes() {
    let cases: Vec<(LogError, i16)> = vec![
        (LogError::CorruptMessage("crc".into()), 2),
        (LogError::InvalidRecord("magic".into()), 87),
        (
            LogError::InvalidRecords {
                message: "1 record error".into(),
                record_errors: vec![weir_log::RecordError {
                    batch_index: 0,
                    message: "no key".into(),
                }],
            },
            87,
        ),
        (LogError::MessageTooLarge { size: 10, max: 1 }, 10),
        (
            LogError::OffsetOutOfRange {
                offset: 9,
                log_start: 0,
                log_end: 1,
            },
            1,
        ),
        (
            LogError::InvalidConfig {
                key: "retention.ms".into(),
                value: "x".into(),
                reason: "not a number".into(),
            },
            40,
        ),
        (LogError::Deleted("t-0".into()), 3),
        (
            LogError::CorruptFile {
                path: "x".into(),
                reason: "y".into(),
            },
            56,
        ),
        (LogError::Io(std::io::Error::other("disk")), 56),
        (LogError::OutOfOrderSequence("gap".into()), 45),
        (LogError::InvalidProducerEpoch("old".into()), 47),
        (LogError::InvalidTxnState("x".into()), 48),
        (LogError::TransactionCoordinatorFenced("x".into()), 52),
    ];
    for (err, code) in cases {
        let shown = err.to_string();
        assert_eq!(log_error_code(&err), code, "{shown}");
        assert_eq!(BrokerError::from(err).code(), code, "{shown}");
    }
}

#[test]
fn broker_errors_map_to_kafka_codes() {
    assert_eq!(
        BrokerError::kafka(ResponseError::UnknownTopicOrPartition, "x").code(),
        3
    );
    assert_eq!(
        BrokerError::kafka(ResponseError::InvalidRequiredAcks, "x").code(),
        21
    );
    assert_eq!(BrokerError::Io(std::io::Error::other("x")).code(), 56);
    assert_eq!(BrokerError::Config("x".into()).code(), 40);
}

#[test]
fn metadata_errors_map_to_the_codes_a_kafka_controller_returns() {
    use weir_meta::MetaError as M;
    let cases = [
        (M::UnknownTopicOrPartition("t".into()), 3),
        (M::TopicAlreadyExists("t".into()), 36),
        (M::InvalidPartitions("0".into()), 37),
        (M::InvalidReplicationFactor("4 > 3".into()), 38),
        (M::FencedLeaderEpoch("old".into()), 74),
        (M::InvalidUpdateVersion("old".into()), 95),
        (M::InvalidRequest("x".into()), 42),
        (M::InvalidReplicaAssignment("[]".into()), 39),
        (M::NoReassignmentInProgress("t-0".into()), 85),
        (M::BrokerNotAvailable("9".into()), 8),
        (M::BrokerIdNotRegistered("9".into()), 102),
        (M::NotController(None), 41),
        (M::DuplicateVoter("4".into()), 126),
        (M::VoterNotFound("9".into()), 127),
        (M::Raft("no quorum".into()), 7),
    ];
    for (e, code) in cases {
        let shown = e.to_string();
        assert_eq!(BrokerError::from(e).code(), code, "{shown}");
    }
}
