// Command franzgo checks franz-go (kgo + kadm) against a Weir broker:
//
//	go run ./franzgo 127.0.0.1:9092 [SCENARIO...]
//
// Every scenario checks Kafka's semantics itself and prints PASS or FAIL.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"weir/tests/go/internal/harness"
)

func main() {
	harness.Main("franz-go", []harness.Scenario{
		{Name: "admin", Fn: admin},
		{Name: "produce-consume", Fn: produceConsume},
		{Name: "delete-records", Fn: deleteRecords},
		{Name: "group-classic", Fn: func(ctx context.Context, b string) error { return group(ctx, b, false) }},
		{Name: "group-kip848", Fn: func(ctx context.Context, b string) error { return group(ctx, b, true) }},
		{Name: "transactions", Fn: transactions},
		{Name: "eos-group-transact-session", Fn: eosSession},
	})
}

func newClient(bootstrap string, opts ...kgo.Opt) (*kgo.Client, error) {
	base := []kgo.Opt{
		kgo.SeedBrokers(bootstrap),
		kgo.MetadataMinAge(100 * time.Millisecond),
		kgo.RetryTimeout(20 * time.Second),
	}
	return kgo.NewClient(append(append(base, debugLog()...), opts...)...)
}

// debugLog: WEIR_CLIENT_DEBUG=1 logs the client's requests to stderr.
func debugLog() []kgo.Opt {
	if os.Getenv("WEIR_CLIENT_DEBUG") == "" {
		return nil
	}
	return []kgo.Opt{kgo.WithLogger(kgo.BasicLogger(os.Stderr, kgo.LogLevelDebug, nil))}
}

func newAdmin(bootstrap string) (*kadm.Client, *kgo.Client, error) {
	cl, err := newClient(bootstrap)
	if err != nil {
		return nil, nil, err
	}
	return kadm.NewClient(cl), cl, nil
}

func ptr(s string) *string { return &s }

func createTopic(ctx context.Context, adm *kadm.Client, topic string, partitions int32) error {
	r, err := adm.CreateTopic(ctx, partitions, 1, nil, topic)
	if err != nil {
		return fmt.Errorf("CreateTopics %s: %w", topic, err)
	}
	if r.Err != nil {
		return fmt.Errorf("CreateTopics %s: %w (%s)", topic, r.Err, r.ErrMessage)
	}
	return waitTopic(ctx, adm, topic, partitions)
}

// waitTopic waits until the metadata shows every partition with a leader.
func waitTopic(ctx context.Context, adm *kadm.Client, topic string, partitions int32) error {
	for {
		td, err := adm.ListTopics(ctx, topic)
		if err == nil {
			if d, ok := td[topic]; ok && d.Err == nil && len(d.Partitions) == int(partitions) {
				ready := true
				for _, p := range d.Partitions {
					if p.Leader < 0 || p.Err != nil {
						ready = false
					}
				}
				if ready {
					return nil
				}
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("topic %s not in metadata with %d led partitions: %v", topic, partitions, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func describeConfig(ctx context.Context, adm *kadm.Client, topic, key string) (kadm.Config, error) {
	rcs, err := adm.DescribeTopicConfigs(ctx, topic)
	if err != nil {
		return kadm.Config{}, fmt.Errorf("DescribeConfigs: %w", err)
	}
	rc, err := rcs.On(topic, nil)
	if err != nil {
		return kadm.Config{}, fmt.Errorf("DescribeConfigs: %w", err)
	}
	if rc.Err != nil {
		return kadm.Config{}, fmt.Errorf("DescribeConfigs %s: %w (%s)", topic, rc.Err, rc.ErrMessage)
	}
	for _, c := range rc.Configs {
		if c.Key == key {
			return c, nil
		}
	}
	return kadm.Config{}, fmt.Errorf("DescribeConfigs %s: no %s among %d configs", topic, key, len(rc.Configs))
}

// admin: create (3 partitions), list, describe configs, alter a config,
// add partitions, delete.
func admin(ctx context.Context, bootstrap string) error {
	adm, cl, err := newAdmin(bootstrap)
	if err != nil {
		return err
	}
	defer cl.Close()
	topic := harness.Name("fg-admin")

	r, err := adm.CreateTopic(ctx, 3, 1, map[string]*string{"cleanup.policy": ptr("delete"), "max.message.bytes": ptr("200000")}, topic)
	if err != nil || r.Err != nil {
		return fmt.Errorf("CreateTopics: %v %v %s", err, r.Err, r.ErrMessage)
	}
	if r.NumPartitions != 3 && r.NumPartitions != -1 {
		return fmt.Errorf("CreateTopics answered NumPartitions=%d, want 3", r.NumPartitions)
	}
	if err := waitTopic(ctx, adm, topic, 3); err != nil {
		return err
	}
	// Creating it again is TOPIC_ALREADY_EXISTS.
	r2, err := adm.CreateTopic(ctx, 3, 1, nil, topic)
	if !errors.Is(err, kerr.TopicAlreadyExists) || !errors.Is(r2.Err, kerr.TopicAlreadyExists) {
		return fmt.Errorf("second CreateTopics of %s: got %v / %v, want TOPIC_ALREADY_EXISTS", topic, err, r2.Err)
	}

	all, err := adm.ListTopics(ctx)
	if err != nil {
		return fmt.Errorf("ListTopics: %w", err)
	}
	d, ok := all[topic]
	if !ok {
		return fmt.Errorf("ListTopics (all): %s missing among %v", topic, all.Names())
	}
	if len(d.Partitions) != 3 {
		return fmt.Errorf("ListTopics: %s has %d partitions, want 3", topic, len(d.Partitions))
	}
	if d.ID == (kadm.TopicID{}) {
		return fmt.Errorf("ListTopics: %s has a zero topic ID", topic)
	}

	c, err := describeConfig(ctx, adm, topic, "max.message.bytes")
	if err != nil {
		return err
	}
	if c.MaybeValue() != "200000" {
		return fmt.Errorf("max.message.bytes = %q, want the create-time 200000", c.MaybeValue())
	}
	c, err = describeConfig(ctx, adm, topic, "retention.ms")
	if err != nil {
		return err
	}
	if c.Value == nil {
		return fmt.Errorf("retention.ms has no value")
	}

	ar, err := adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{{Op: kadm.SetConfig, Name: "retention.ms", Value: ptr("3600000")}}, topic)
	if err != nil {
		return fmt.Errorf("IncrementalAlterConfigs: %w", err)
	}
	for _, a := range ar {
		if a.Err != nil {
			return fmt.Errorf("IncrementalAlterConfigs %s: %v %s", a.Name, a.Err, a.ErrMessage)
		}
	}
	c, err = describeConfig(ctx, adm, topic, "retention.ms")
	if err != nil {
		return err
	}
	if c.MaybeValue() != "3600000" {
		return fmt.Errorf("retention.ms after alter = %q, want 3600000", c.MaybeValue())
	}
	if c.Source.String() != "DYNAMIC_TOPIC_CONFIG" {
		return fmt.Errorf("retention.ms after alter has source %s, want DYNAMIC_TOPIC_CONFIG", c.Source)
	}

	cp, err := adm.CreatePartitions(ctx, 2, topic)
	if err != nil {
		return fmt.Errorf("CreatePartitions: %w", err)
	}
	if p, ok := cp[topic]; !ok || p.Err != nil {
		return fmt.Errorf("CreatePartitions: %v", cp)
	}
	if err := waitTopic(ctx, adm, topic, 5); err != nil {
		return fmt.Errorf("after CreatePartitions +2: %w", err)
	}

	dr, err := adm.DeleteTopic(ctx, topic)
	if err != nil || dr.Err != nil {
		return fmt.Errorf("DeleteTopics: %v %v %s", err, dr.Err, dr.ErrMessage)
	}
	for {
		all, err := adm.ListTopics(ctx)
		if err == nil && !all.Has(topic) {
			break
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s still listed after DeleteTopics", topic)
		case <-time.After(100 * time.Millisecond):
		}
	}
	_, err = adm.DescribeTopicConfigs(ctx, topic)
	rcs, _ := adm.DescribeTopicConfigs(ctx, topic)
	if rc, e := rcs.On(topic, nil); e == nil && rc.Err == nil && err == nil {
		return fmt.Errorf("DescribeConfigs of deleted topic %s succeeded, want UNKNOWN_TOPIC_OR_PARTITION", topic)
	}
	return nil
}

type produced struct {
	value     int
	partition int32
	offset    int64
}

// produceConsume: 1000 keyed records, idempotent with acks=all, then a
// consumer from the start reads every record once, in order per partition.
func produceConsume(ctx context.Context, bootstrap string) error {
	adm, acl, err := newAdmin(bootstrap)
	if err != nil {
		return err
	}
	defer acl.Close()
	topic := harness.Name("fg-pc")
	if err := createTopic(ctx, adm, topic, 3); err != nil {
		return err
	}

	p, err := newClient(bootstrap, kgo.DefaultProduceTopic(topic), kgo.RequiredAcks(kgo.AllISRAcks()), kgo.ProducerLinger(5*time.Millisecond))
	if err != nil {
		return err
	}
	defer p.Close()
	const n = 1000
	var mu sync.Mutex
	var firstErr error
	out := make([]produced, n)
	keyPart := map[string]int32{}
	for i := 0; i < n; i++ {
		rec := &kgo.Record{Key: []byte(fmt.Sprintf("key-%d", i%37)), Value: []byte(strconv.Itoa(i))}
		i := i
		p.Produce(ctx, rec, func(r *kgo.Record, err error) {
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				if firstErr == nil {
					firstErr = fmt.Errorf("produce record %d: %w", i, err)
				}
				return
			}
			if r.ProducerID < 0 {
				if firstErr == nil {
					firstErr = fmt.Errorf("record %d acked without a producer ID: not idempotent", i)
				}
			}
			if kp, ok := keyPart[string(r.Key)]; ok && kp != r.Partition {
				firstErr = fmt.Errorf("key %s went to partitions %d and %d", r.Key, kp, r.Partition)
			}
			keyPart[string(r.Key)] = r.Partition
			out[i] = produced{i, r.Partition, r.Offset}
		})
	}
	if err := p.Flush(ctx); err != nil {
		return fmt.Errorf("flush: %w", err)
	}
	if firstErr != nil {
		return firstErr
	}
	// Offsets per partition follow the produce order and are dense from 0.
	want := map[int32][]produced{}
	for _, r := range out {
		want[r.partition] = append(want[r.partition], r)
	}
	if len(want) != 3 {
		return fmt.Errorf("records went to %d partitions, want 3", len(want))
	}
	for part, rs := range want {
		for j, r := range rs {
			if r.offset != int64(j) {
				return fmt.Errorf("partition %d: record %d (the %dth produced there) got offset %d, want %d", part, r.value, j, r.offset, j)
			}
		}
	}

	ends, err := adm.ListEndOffsets(ctx, topic)
	if err != nil {
		return fmt.Errorf("ListOffsets(latest): %w", err)
	}
	var total int64
	ends.Each(func(o kadm.ListedOffset) {
		if o.Err != nil && err == nil {
			err = o.Err
		}
		if o.Offset != int64(len(want[o.Partition])) && err == nil {
			err = fmt.Errorf("ListOffsets(latest) partition %d = %d, want %d", o.Partition, o.Offset, len(want[o.Partition]))
		}
		total += o.Offset
	})
	if err != nil {
		return err
	}
	if total != n {
		return fmt.Errorf("end offsets sum to %d, want %d", total, n)
	}

	c, err := newClient(bootstrap, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(500*time.Millisecond))
	if err != nil {
		return err
	}
	defer c.Close()
	got := map[int32][]*kgo.Record{}
	count := 0
	for count < n {
		fs := c.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("consumed %d of %d records: %w", count, n, err)
		}
		if errs := fs.Errors(); len(errs) > 0 {
			return fmt.Errorf("fetch: %v", errs[0].Err)
		}
		fs.EachRecord(func(r *kgo.Record) {
			got[r.Partition] = append(got[r.Partition], r)
			count++
		})
	}
	if count != n {
		return fmt.Errorf("consumed %d records, want %d", count, n)
	}
	for part, rs := range want {
		g := got[part]
		if len(g) != len(rs) {
			return fmt.Errorf("partition %d: consumed %d records, want %d", part, len(g), len(rs))
		}
		for j := range rs {
			if g[j].Offset != rs[j].offset || string(g[j].Value) != strconv.Itoa(rs[j].value) {
				return fmt.Errorf("partition %d position %d: consumed offset %d value %s, want offset %d value %d", part, j, g[j].Offset, g[j].Value, rs[j].offset, rs[j].value)
			}
		}
	}
	return nil
}

// deleteRecords: DeleteRecords moves the log start offset, ListOffsets
// (earliest) reports it and a consumer from the start begins there.
func deleteRecords(ctx context.Context, bootstrap string) error {
	adm, acl, err := newAdmin(bootstrap)
	if err != nil {
		return err
	}
	defer acl.Close()
	topic := harness.Name("fg-dr")
	if err := createTopic(ctx, adm, topic, 1); err != nil {
		return err
	}
	p, err := newClient(bootstrap, kgo.DefaultProduceTopic(topic))
	if err != nil {
		return err
	}
	defer p.Close()
	var recs []*kgo.Record
	for i := 0; i < 50; i++ {
		recs = append(recs, &kgo.Record{Value: []byte(strconv.Itoa(i))})
	}
	if err := p.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		return fmt.Errorf("produce: %w", err)
	}
	del := kadm.Offsets{}
	del.Add(kadm.Offset{Topic: topic, Partition: 0, At: 20, LeaderEpoch: -1})
	dr, err := adm.DeleteRecords(ctx, del)
	if err != nil {
		return fmt.Errorf("DeleteRecords: %w", err)
	}
	if e := dr.Error(); e != nil {
		return fmt.Errorf("DeleteRecords: %w", e)
	}
	r, ok := dr.Lookup(topic, 0)
	if !ok || r.LowWatermark != 20 {
		return fmt.Errorf("DeleteRecords low watermark = %d (found %v), want 20", r.LowWatermark, ok)
	}
	starts, err := adm.ListStartOffsets(ctx, topic)
	if err != nil {
		return fmt.Errorf("ListOffsets(earliest): %w", err)
	}
	if o, _ := starts.Lookup(topic, 0); o.Offset != 20 {
		return fmt.Errorf("ListOffsets(earliest) after DeleteRecords = %d, want 20", o.Offset)
	}
	c, err := newClient(bootstrap, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(500*time.Millisecond))
	if err != nil {
		return err
	}
	defer c.Close()
	var got []int64
	for len(got) < 30 {
		fs := c.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("consumed %d of 30 records: %w", len(got), err)
		}
		if errs := fs.Errors(); len(errs) > 0 {
			return fmt.Errorf("fetch: %v", errs[0].Err)
		}
		fs.EachRecord(func(r *kgo.Record) { got = append(got, r.Offset) })
	}
	if got[0] != 20 || got[len(got)-1] != 49 || len(got) != 30 {
		return fmt.Errorf("consumed offsets %d..%d (%d records), want 20..49", got[0], got[len(got)-1], len(got))
	}
	return nil
}

func produceN(ctx context.Context, bootstrap, topic string, n int, prefix string) error {
	p, err := newClient(bootstrap, kgo.DefaultProduceTopic(topic))
	if err != nil {
		return err
	}
	defer p.Close()
	var recs []*kgo.Record
	for i := 0; i < n; i++ {
		recs = append(recs, &kgo.Record{Key: []byte(strconv.Itoa(i)), Value: []byte(fmt.Sprintf("%s%d", prefix, i))})
	}
	if err := p.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		return fmt.Errorf("produce: %w", err)
	}
	return nil
}

type tp struct {
	p int32
	o int64
}

// group: a consumer group member consumes part of a topic and commits, leaves;
// a second member of the same group resumes exactly at the committed offsets.
// With kip848 the member uses the KIP-848 protocol (ConsumerGroupHeartbeat,
// broker-side assignment), checked with ConsumerGroupDescribe.
func group(ctx context.Context, bootstrap string, kip848 bool) error {
	adm, acl, err := newAdmin(bootstrap)
	if err != nil {
		return err
	}
	defer acl.Close()
	name := "fg-classic"
	if kip848 {
		name = "fg-848"
	}
	topic, groupID := harness.Name(name), harness.Name(name+"-group")
	if err := createTopic(ctx, adm, topic, 3); err != nil {
		return err
	}
	const n = 300
	if err := produceN(ctx, bootstrap, topic, n, "v"); err != nil {
		return err
	}
	opts := []kgo.Opt{
		kgo.ConsumerGroup(groupID), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.DisableAutoCommit(),
		kgo.FetchMaxWait(500 * time.Millisecond), kgo.FetchMaxPartitionBytes(2000),
		kgo.SessionTimeout(10 * time.Second), kgo.HeartbeatInterval(500 * time.Millisecond),
	}
	if kip848 {
		opts = append(opts, kgo.ServerSideBalancer(), kgo.Balancers(kgo.RangeBalancer()))
	}

	// Run 1: consume at least 100 records, commit what was polled, leave.
	c1, err := newClient(bootstrap, opts...)
	if err != nil {
		return err
	}
	seen := map[tp]bool{}
	committed := map[int32]int64{}
	for len(seen) < 100 {
		fs := c1.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			c1.Close()
			return fmt.Errorf("run 1 consumed %d records: %w", len(seen), err)
		}
		if errs := fs.Errors(); len(errs) > 0 {
			c1.Close()
			return fmt.Errorf("run 1 fetch: %v", errs[0].Err)
		}
		fs.EachRecord(func(r *kgo.Record) {
			if prev, ok := committed[r.Partition]; ok && r.Offset != prev {
				err = fmt.Errorf("run 1 partition %d: offset %d after %d", r.Partition, r.Offset, prev-1)
			}
			seen[tp{r.Partition, r.Offset}] = true
			committed[r.Partition] = r.Offset + 1
		})
		if err != nil {
			c1.Close()
			return err
		}
	}
	// The group is what we expect while the member is in it.
	if kip848 {
		dg, err := adm.DescribeConsumerGroups(ctx, groupID)
		if err != nil {
			c1.Close()
			return fmt.Errorf("ConsumerGroupDescribe: %w", err)
		}
		g := dg[groupID]
		if g.Err != nil || len(g.Members) != 1 {
			c1.Close()
			return fmt.Errorf("ConsumerGroupDescribe %s: err %v, %d members, want 1 (is the member on the KIP-848 protocol?)", groupID, g.Err, len(g.Members))
		}
		if a := g.AssignedPartitions(); len(a[topic]) != 3 {
			c1.Close()
			return fmt.Errorf("ConsumerGroupDescribe: member assigned %v, want 3 partitions of %s", a, topic)
		}
	} else {
		dg, err := adm.DescribeGroups(ctx, groupID)
		if err != nil {
			c1.Close()
			return fmt.Errorf("DescribeGroups: %w", err)
		}
		g := dg[groupID]
		if g.Err != nil || g.State != "Stable" || g.ProtocolType != "consumer" || len(g.Members) != 1 {
			c1.Close()
			return fmt.Errorf("DescribeGroups %s: err %v state %q protocol type %q protocol %q members %d, want Stable consumer with 1 member", groupID, g.Err, g.State, g.ProtocolType, g.Protocol, len(g.Members))
		}
	}
	if err := c1.CommitUncommittedOffsets(ctx); err != nil {
		c1.Close()
		return fmt.Errorf("OffsetCommit: %w", err)
	}
	c1.Close() // leaves the group

	fo, err := adm.FetchOffsets(ctx, groupID)
	if err != nil {
		return fmt.Errorf("OffsetFetch: %w", err)
	}
	if e := fo.Error(); e != nil {
		return fmt.Errorf("OffsetFetch: %w", e)
	}
	for part, off := range committed {
		o, ok := fo.Lookup(topic, part)
		if !ok || o.At != off {
			return fmt.Errorf("OffsetFetch %s/%d = %d (found %v), want the committed %d", topic, part, o.At, ok, off)
		}
	}

	// Run 2: resumes from the committed offsets, consumes the rest.
	c2, err := newClient(bootstrap, opts...)
	if err != nil {
		return err
	}
	defer c2.Close()
	first := map[int32]int64{}
	for len(seen) < n {
		fs := c2.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("run 2: %d of %d records consumed in total: %w", len(seen), n, err)
		}
		if errs := fs.Errors(); len(errs) > 0 {
			return fmt.Errorf("run 2 fetch: %v", errs[0].Err)
		}
		fs.EachRecord(func(r *kgo.Record) {
			if _, ok := first[r.Partition]; !ok {
				first[r.Partition] = r.Offset
			}
			k := tp{r.Partition, r.Offset}
			if seen[k] && err == nil {
				err = fmt.Errorf("run 2 consumed %d/%d again (run 1 committed %v)", r.Partition, r.Offset, committed)
			}
			seen[k] = true
		})
		if err != nil {
			return err
		}
	}
	for part, off := range first {
		if want := committed[part]; off != want {
			return fmt.Errorf("run 2 started partition %d at %d, want the committed %d", part, off, want)
		}
	}
	if err := c2.CommitUncommittedOffsets(ctx); err != nil {
		return fmt.Errorf("run 2 OffsetCommit: %w", err)
	}
	return nil
}

func pollValues(ctx context.Context, c *kgo.Client, want int, settle time.Duration) ([]string, error) {
	var got []string
	var deadline time.Time
	for {
		pctx := ctx
		var cancel context.CancelFunc = func() {}
		if len(got) >= want {
			if deadline.IsZero() {
				deadline = time.Now().Add(settle)
			}
			if time.Now().After(deadline) {
				return got, nil
			}
			pctx, cancel = context.WithDeadline(ctx, deadline)
		}
		fs := c.PollFetches(pctx)
		cancel()
		if err := ctx.Err(); err != nil {
			return got, fmt.Errorf("got %d of %d records %v: %w", len(got), want, sortedCopy(got), err)
		}
		for _, e := range fs.Errors() {
			if !errors.Is(e.Err, context.DeadlineExceeded) && !errors.Is(e.Err, context.Canceled) {
				return got, fmt.Errorf("fetch: %w", e.Err)
			}
		}
		fs.EachRecord(func(r *kgo.Record) { got = append(got, string(r.Value)) })
	}
}

func sortedCopy(s []string) []string {
	c := append([]string(nil), s...)
	sort.Strings(c)
	return c
}

// transactions: commit, abort, commit; read_committed sees exactly the
// committed records, read_uncommitted sees all; an open transaction holds the
// last stable offset back.
func transactions(ctx context.Context, bootstrap string) error {
	adm, acl, err := newAdmin(bootstrap)
	if err != nil {
		return err
	}
	defer acl.Close()
	topic := harness.Name("fg-txn")
	if err := createTopic(ctx, adm, topic, 2); err != nil {
		return err
	}
	p, err := newClient(bootstrap, kgo.TransactionalID(harness.Name("fg-txid")), kgo.DefaultProduceTopic(topic), kgo.TransactionTimeout(30*time.Second))
	if err != nil {
		return err
	}
	defer p.Close()
	var committed []string
	txn := func(prefix string, n int, commit bool) error {
		if err := p.BeginTransaction(); err != nil {
			return fmt.Errorf("begin: %w", err)
		}
		var recs []*kgo.Record
		for i := 0; i < n; i++ {
			v := fmt.Sprintf("%s-%d", prefix, i)
			recs = append(recs, &kgo.Record{Key: []byte(strconv.Itoa(i)), Value: []byte(v)})
			if commit {
				committed = append(committed, v)
			}
		}
		if err := p.ProduceSync(ctx, recs...).FirstErr(); err != nil {
			return fmt.Errorf("produce in transaction %s: %w", prefix, err)
		}
		if err := p.EndTransaction(ctx, kgo.TransactionEndTry(commit)); err != nil {
			return fmt.Errorf("EndTxn(commit=%v) %s: %w", commit, prefix, err)
		}
		return nil
	}
	if err := txn("commit1", 10, true); err != nil {
		return err
	}
	if err := txn("abort1", 10, false); err != nil {
		return err
	}
	if err := txn("commit2", 5, true); err != nil {
		return err
	}

	// An open transaction: LSO < high watermark until it ends.
	if err := p.BeginTransaction(); err != nil {
		return fmt.Errorf("begin open txn: %w", err)
	}
	if err := p.ProduceSync(ctx, &kgo.Record{Key: []byte("0"), Value: []byte("open-0")}).FirstErr(); err != nil {
		return fmt.Errorf("produce in open txn: %w", err)
	}
	hw, err := adm.ListEndOffsets(ctx, topic)
	if err != nil {
		return fmt.Errorf("ListOffsets read_uncommitted: %w", err)
	}
	lso, err := adm.ListCommittedOffsets(ctx, topic)
	if err != nil {
		return fmt.Errorf("ListOffsets read_committed: %w", err)
	}
	held := false
	hw.Each(func(o kadm.ListedOffset) {
		l, _ := lso.Lookup(topic, o.Partition)
		if l.Offset < o.Offset {
			held = true
		}
	})
	if !held {
		return fmt.Errorf("with a transaction open, ListOffsets read_committed %v equals read_uncommitted %v, want the LSO held back", lso, hw)
	}
	if err := p.EndTransaction(ctx, kgo.TryCommit); err != nil {
		return fmt.Errorf("commit open txn: %w", err)
	}
	committed = append(committed, "open-0")

	rc, err := newClient(bootstrap, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.FetchMaxWait(300*time.Millisecond))
	if err != nil {
		return err
	}
	defer rc.Close()
	got, err := pollValues(ctx, rc, len(committed), 1500*time.Millisecond)
	if err != nil {
		dumpTopic(bootstrap, adm, topic)
		return fmt.Errorf("read_committed: %w", err)
	}
	if g, w := sortedCopy(got), sortedCopy(committed); strings.Join(g, ",") != strings.Join(w, ",") {
		return fmt.Errorf("read_committed consumer saw %d records %v, want exactly the %d committed %v", len(got), g, len(w), w)
	}
	ru, err := newClient(bootstrap, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadUncommitted()), kgo.FetchMaxWait(300*time.Millisecond))
	if err != nil {
		return err
	}
	defer ru.Close()
	all, err := pollValues(ctx, ru, len(committed)+10, 1000*time.Millisecond)
	if err != nil {
		return fmt.Errorf("read_uncommitted: %w", err)
	}
	if len(all) != len(committed)+10 {
		return fmt.Errorf("read_uncommitted consumer saw %d records, want %d (committed and aborted)", len(all), len(committed)+10)
	}
	return nil
}

// eosSession: consume-transform-produce with a GroupTransactSession; the
// output (read_committed) holds every input once and the group's offsets are
// committed with the transactions.
func eosSession(ctx context.Context, bootstrap string) error {
	adm, acl, err := newAdmin(bootstrap)
	if err != nil {
		return err
	}
	defer acl.Close()
	in, out, groupID := harness.Name("fg-eos-in"), harness.Name("fg-eos-out"), harness.Name("fg-eos-group")
	if err := createTopic(ctx, adm, in, 2); err != nil {
		return err
	}
	if err := createTopic(ctx, adm, out, 2); err != nil {
		return err
	}
	const n = 40
	if err := produceN(ctx, bootstrap, in, n, "in"); err != nil {
		return err
	}
	sess, err := kgo.NewGroupTransactSession(append(debugLog(),
		kgo.SeedBrokers(bootstrap), kgo.MetadataMinAge(100*time.Millisecond),
		kgo.TransactionalID(harness.Name("fg-eos-txid")), kgo.TransactionTimeout(30*time.Second),
		kgo.ConsumerGroup(groupID), kgo.ConsumeTopics(in), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.DefaultProduceTopic(out),
		kgo.FetchMaxWait(300*time.Millisecond), kgo.FetchMaxPartitionBytes(300),
		kgo.SessionTimeout(10*time.Second), kgo.HeartbeatInterval(500*time.Millisecond),
	)...)
	if err != nil {
		return err
	}
	defer sess.Close()
	processed := 0
	rounds := 0
	for processed < n {
		fs := sess.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("processed %d of %d: %w", processed, n, err)
		}
		if errs := fs.Errors(); len(errs) > 0 {
			return fmt.Errorf("fetch: %v", errs[0].Err)
		}
		if fs.NumRecords() == 0 {
			continue
		}
		if err := sess.Begin(); err != nil {
			return fmt.Errorf("begin: %w", err)
		}
		var recs []*kgo.Record
		fs.EachRecord(func(r *kgo.Record) {
			recs = append(recs, &kgo.Record{Key: r.Key, Value: []byte("out-" + string(r.Value))})
		})
		var perr error
		if res := sess.ProduceSync(ctx, recs...); res.FirstErr() != nil {
			perr = res.FirstErr()
		}
		committed, err := sess.End(ctx, kgo.TransactionEndTry(perr == nil))
		if perr != nil {
			return fmt.Errorf("produce: %w", perr)
		}
		if err != nil {
			return fmt.Errorf("End (EndTxn + TxnOffsetCommit): %w", err)
		}
		if !committed {
			return fmt.Errorf("End did not commit round %d (a rebalance with a single member?)", rounds)
		}
		processed += len(recs)
		rounds++
	}
	if processed != n {
		return fmt.Errorf("processed %d records, want %d", processed, n)
	}
	ends, err := adm.ListEndOffsets(ctx, in)
	if err != nil {
		return fmt.Errorf("ListOffsets: %w", err)
	}
	// The committed transaction's offsets become visible once its markers
	// are written, which Kafka does after answering EndTxn: poll (bounded).
	var mismatch error
	for {
		fo, err := adm.FetchOffsets(ctx, groupID)
		if err == nil {
			err = fo.Error()
		}
		mismatch = err
		if err == nil {
			ends.Each(func(o kadm.ListedOffset) {
				c, _ := fo.Lookup(in, o.Partition)
				if c.At != o.Offset && mismatch == nil {
					mismatch = fmt.Errorf("group offset for %s/%d = %d, want the end offset %d (OffsetFetch answered %v)", in, o.Partition, c.At, o.Offset, fo)
				}
			})
		}
		if mismatch == nil {
			break
		}
		select {
		case <-ctx.Done():
			return mismatch
		case <-time.After(100 * time.Millisecond):
		}
	}
	rc, err := newClient(bootstrap, kgo.ConsumeTopics(out), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.FetchMaxWait(300*time.Millisecond))
	if err != nil {
		return err
	}
	defer rc.Close()
	got, err := pollValues(ctx, rc, n, time.Second)
	if err != nil {
		return fmt.Errorf("read_committed output: %w", err)
	}
	var want []string
	for i := 0; i < n; i++ {
		want = append(want, fmt.Sprintf("out-in%d", i))
	}
	if g, w := sortedCopy(got), sortedCopy(want); strings.Join(g, ",") != strings.Join(w, ",") {
		return fmt.Errorf("output has %d records %v, want %d %v", len(g), g, len(w), w)
	}
	harness.Logf("eos: %d records in %d transactions", n, rounds)
	return nil
}

// dumpTopic logs (stderr) each partition's high watermark, last stable offset
// and every batch with its control records, to diagnose a failure.
func dumpTopic(bootstrap string, adm *kadm.Client, topic string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	hw, _ := adm.ListEndOffsets(ctx, topic)
	lso, _ := adm.ListCommittedOffsets(ctx, topic)
	hw.Each(func(o kadm.ListedOffset) {
		l, _ := lso.Lookup(topic, o.Partition)
		harness.Logf("%s/%d: high watermark %d, last stable offset %d", topic, o.Partition, o.Offset, l.Offset)
	})
	c, err := newClient(bootstrap, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.KeepControlRecords(), kgo.FetchMaxWait(200*time.Millisecond))
	if err != nil {
		return
	}
	defer c.Close()
	for ctx.Err() == nil {
		pctx, pcancel := context.WithTimeout(ctx, time.Second)
		fs := c.PollFetches(pctx)
		pcancel()
		if fs.NumRecords() == 0 {
			return
		}
		fs.EachRecord(func(r *kgo.Record) {
			kind := "data"
			if r.Attrs.IsControl() {
				kind = fmt.Sprintf("control key=%x", r.Key)
			}
			harness.Logf("  %d@%d pid=%d epoch=%d txn=%v %s value=%q", r.Partition, r.Offset, r.ProducerID, r.ProducerEpoch, r.Attrs.IsTransactional(), kind, r.Value)
		})
	}
}
