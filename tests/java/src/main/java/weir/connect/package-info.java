/**
 * Minimal file connectors for Kafka Connect, used by tests/python/test_kafka_connect.py to run
 * Kafka Connect standalone (connect-runtime 4.4.0) against Weir (issue #25: "Kafka Connect
 * standalone with the FileStream source and sink").
 *
 * <p>They stand in for Kafka's own FileStreamSourceConnector / FileStreamSinkConnector because
 * their artifact, org.apache.kafka:connect-file, is not served by the Maven registry this machine
 * reaches (connect-runtime and connect-api are). They behave like those connectors for what the
 * test needs: the same configs ({@code file}, {@code topic} / {@code topics}, {@code batch.size}),
 * one task each, every line of the input file a String record without a key, source offsets
 * {@code {position: <byte position after the line>}} under the partition
 * {@code {filename: <file>}} so that a restarted source continues after the last committed line,
 * and a sink that appends each record's value as one line.
 */
package weir.connect;
