"""Exactly-once consume-transform-produce with confluent-kafka: copy every record of an input
topic to an output topic, each batch in one transaction together with the consumer's offsets.

    python eos_pipeline.py BOOTSTRAP INPUT OUTPUT GROUP TRANSACTIONAL_ID [--timeout S] [--seed N]

Killed at any point (SIGKILL) and started again, it resumes from the group's committed offsets;
its unfinished transaction is aborted when the next run's init_transactions() fences it. Exits 0
once every input partition has been read and committed up to the end offset seen at start, 2
when --timeout passes first, 3 on a transaction error (the caller starts it again).
"""
import argparse
import random
import sys
import time

from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition


def main():
    ap = argparse.ArgumentParser()
    for name in ("bootstrap", "input", "output", "group", "transactional_id"):
        ap.add_argument(name)
    ap.add_argument("--timeout", type=float, default=180)
    ap.add_argument("--seed", type=int, default=None)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    deadline = time.time() + args.timeout

    consumer = Consumer({
        "bootstrap.servers": args.bootstrap,
        "group.id": args.group,
        "enable.auto.commit": False,
        "isolation.level": "read_committed",
        "auto.offset.reset": "earliest",
        # A killed run's member must leave the group quickly for the next run to get partitions.
        "session.timeout.ms": 6000,
        "heartbeat.interval.ms": 500,
    })
    producer = Producer({
        "bootstrap.servers": args.bootstrap,
        "transactional.id": args.transactional_id,
        "linger.ms": 5,
    })
    # Fences an earlier run with the same transactional id and aborts its open transaction.
    producer.init_transactions(30)

    md = consumer.list_topics(args.input, timeout=10)
    partitions = sorted(md.topics[args.input].partitions)
    ends = {p: consumer.get_watermark_offsets(TopicPartition(args.input, p), timeout=10)[1]
            for p in partitions}
    consumer.subscribe([args.input])

    copied = 0
    while time.time() < deadline:
        msgs = consumer.consume(num_messages=rng.randint(1, 50), timeout=0.5)
        records = []
        for m in msgs:
            if m.error():
                if m.error().code() == KafkaError._PARTITION_EOF:
                    continue
                raise KafkaException(m.error())
            records.append(m)
        if records:
            try:
                producer.begin_transaction()
                for m in records:
                    producer.produce(args.output, key=m.key(), value=m.value(),
                                     partition=m.partition())
                    producer.poll(0)
                positions = [tp for tp in consumer.position(consumer.assignment())
                             if tp.offset >= 0]
                producer.send_offsets_to_transaction(
                    positions, consumer.consumer_group_metadata(), 30)
                producer.commit_transaction(30)
            except KafkaException as e:
                print(f"transaction failed: {e}", file=sys.stderr)
                sys.exit(3)
            copied += len(records)
            continue
        # Idle: finished once the group's committed offsets reach the end of every partition
        # (each transaction above committed its offsets with it).
        committed = consumer.committed([TopicPartition(args.input, p) for p in partitions],
                                       timeout=10)
        if all(tp.offset >= ends[tp.partition] or ends[tp.partition] == 0 for tp in committed):
            print(f"done: copied {copied} records in this run", file=sys.stderr)
            consumer.close()
            return 0
    print("timed out", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
