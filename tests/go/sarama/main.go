// Command sarama checks IBM/sarama against a Weir broker:
//
//	go run ./sarama 127.0.0.1:9092 [SCENARIO...]
//
// Every scenario checks Kafka's semantics itself and prints PASS or FAIL.
package main

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/IBM/sarama"

	"weir/tests/go/internal/harness"
)

// kafkaVersion is the protocol level sarama is told the broker speaks.
var kafkaVersion = sarama.V4_0_0_0

func main() {
	if os.Getenv("WEIR_CLIENT_DEBUG") != "" {
		sarama.Logger = log.New(os.Stderr, "[sarama] ", log.Lmicroseconds)
	}
	harness.Main("sarama", []harness.Scenario{
		{Name: "admin", Fn: admin},
		{Name: "produce-consume", Fn: produceConsume},
		{Name: "group", Fn: group},
		{Name: "transactions", Fn: transactions},
	})
}

func config() *sarama.Config {
	c := sarama.NewConfig()
	c.Version = kafkaVersion
	c.ClientID = "weir-sarama-test"
	c.Net.DialTimeout = 5 * time.Second
	c.Net.ReadTimeout = 20 * time.Second
	c.Net.WriteTimeout = 10 * time.Second
	c.Metadata.Retry.Max = 20
	c.Metadata.Retry.Backoff = 100 * time.Millisecond
	c.Admin.Timeout = 20 * time.Second
	return c
}

// withCtx runs fn (a blocking sarama call that takes no context) and gives up
// when ctx ends.
func withCtx(ctx context.Context, what string, fn func() error) error {
	errc := make(chan error, 1)
	go func() { errc <- fn() }()
	select {
	case err := <-errc:
		if err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("%s: %w", what, ctx.Err())
	}
}

func newAdmin(bootstrap string) (sarama.ClusterAdmin, error) {
	return sarama.NewClusterAdmin([]string{bootstrap}, config())
}

func createTopic(ctx context.Context, adm sarama.ClusterAdmin, topic string, partitions int32) error {
	if err := withCtx(ctx, "CreateTopics "+topic, func() error {
		return adm.CreateTopic(topic, &sarama.TopicDetail{NumPartitions: partitions, ReplicationFactor: 1}, false)
	}); err != nil {
		return err
	}
	for {
		var md *sarama.TopicMetadata
		err := withCtx(ctx, "DescribeTopics", func() error {
			mds, err := adm.DescribeTopics([]string{topic})
			if err == nil && len(mds) == 1 {
				md = mds[0]
			}
			return err
		})
		if err == nil && md != nil && md.Err == sarama.ErrNoError && len(md.Partitions) == int(partitions) {
			ok := true
			for _, p := range md.Partitions {
				if p.Leader < 0 {
					ok = false
				}
			}
			if ok {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("topic %s not in metadata with %d partitions: %v", topic, partitions, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// admin: ClusterAdmin create (3 partitions) / list / describe config /
// alter config / create partitions / delete.
func admin(ctx context.Context, bootstrap string) error {
	adm, err := newAdmin(bootstrap)
	if err != nil {
		return fmt.Errorf("NewClusterAdmin: %w", err)
	}
	defer adm.Close()
	topic := harness.Name("sa-admin")
	if err := createTopic(ctx, adm, topic, 3); err != nil {
		return err
	}
	err = adm.CreateTopic(topic, &sarama.TopicDetail{NumPartitions: 3, ReplicationFactor: 1}, false)
	if !errors.Is(err, sarama.ErrTopicAlreadyExists) {
		return fmt.Errorf("second CreateTopics of %s: %v, want TOPIC_ALREADY_EXISTS", topic, err)
	}
	var topics map[string]sarama.TopicDetail
	if err := withCtx(ctx, "ListTopics", func() (e error) { topics, e = adm.ListTopics(); return }); err != nil {
		return err
	}
	d, ok := topics[topic]
	if !ok || d.NumPartitions != 3 {
		return fmt.Errorf("ListTopics: %s present %v with %d partitions, want 3", topic, ok, d.NumPartitions)
	}
	findCfg := func(name string) (string, error) {
		var entries []sarama.ConfigEntry
		if err := withCtx(ctx, "DescribeConfigs", func() (e error) {
			entries, e = adm.DescribeConfig(sarama.ConfigResource{Type: sarama.TopicResource, Name: topic})
			return
		}); err != nil {
			return "", err
		}
		for _, e := range entries {
			if e.Name == name {
				return e.Value, nil
			}
		}
		return "", fmt.Errorf("DescribeConfigs: no %s among %d entries", name, len(entries))
	}
	if _, err := findCfg("retention.ms"); err != nil {
		return err
	}
	v := "7200000"
	if err := withCtx(ctx, "IncrementalAlterConfigs", func() error {
		return adm.IncrementalAlterConfig(sarama.TopicResource, topic, map[string]sarama.IncrementalAlterConfigsEntry{
			"retention.ms": {Operation: sarama.IncrementalAlterConfigsOperationSet, Value: &v},
		}, false)
	}); err != nil {
		return err
	}
	if got, err := findCfg("retention.ms"); err != nil || got != v {
		return fmt.Errorf("retention.ms after alter = %q (%v), want %s", got, err, v)
	}
	if err := withCtx(ctx, "CreatePartitions", func() error { return adm.CreatePartitions(topic, 4, nil, false) }); err != nil {
		return err
	}
	if err := withCtx(ctx, "DeleteTopics", func() error { return adm.DeleteTopic(topic) }); err != nil {
		return err
	}
	for {
		var topics map[string]sarama.TopicDetail
		err := withCtx(ctx, "ListTopics", func() (e error) { topics, e = adm.ListTopics(); return })
		if err == nil {
			if _, ok := topics[topic]; !ok {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s still listed after DeleteTopics", topic)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

type rec struct {
	value  string
	offset int64
}

func syncProducer(bootstrap string, txID string) (sarama.SyncProducer, error) {
	c := config()
	c.Producer.Idempotent = true
	c.Producer.RequiredAcks = sarama.WaitForAll
	c.Net.MaxOpenRequests = 1
	c.Producer.Retry.Max = 10
	c.Producer.Retry.Backoff = 100 * time.Millisecond
	c.Producer.Return.Successes = true
	c.Producer.Return.Errors = true
	c.Producer.Partitioner = sarama.NewHashPartitioner
	if txID != "" {
		c.Producer.Transaction.ID = txID
		c.Producer.Transaction.Timeout = 30 * time.Second
	}
	return sarama.NewSyncProducer([]string{bootstrap}, c)
}

// produceConsume: an idempotent sync producer (acks=all) writes 300 keyed
// messages; a partition consumer per partition reads them all, in order.
func produceConsume(ctx context.Context, bootstrap string) error {
	adm, err := newAdmin(bootstrap)
	if err != nil {
		return err
	}
	defer adm.Close()
	topic := harness.Name("sa-pc")
	if err := createTopic(ctx, adm, topic, 3); err != nil {
		return err
	}
	p, err := syncProducer(bootstrap, "")
	if err != nil {
		return fmt.Errorf("NewSyncProducer (idempotent): %w", err)
	}
	defer p.Close()
	const n = 300
	want := map[int32][]rec{}
	var msgs []*sarama.ProducerMessage
	for i := 0; i < n; i++ {
		msgs = append(msgs, &sarama.ProducerMessage{Topic: topic, Key: sarama.StringEncoder(fmt.Sprintf("key-%d", i%17)), Value: sarama.StringEncoder(strconv.Itoa(i))})
	}
	// Half one by one, half as a batch.
	for _, m := range msgs[:n/2] {
		if err := withCtx(ctx, "SendMessage", func() error { _, _, e := p.SendMessage(m); return e }); err != nil {
			return err
		}
	}
	if err := withCtx(ctx, "SendMessages", func() error { return p.SendMessages(msgs[n/2:]) }); err != nil {
		return err
	}
	for _, m := range msgs {
		v, _ := m.Value.Encode()
		want[m.Partition] = append(want[m.Partition], rec{string(v), m.Offset})
	}
	for part, rs := range want {
		sort.Slice(rs, func(i, j int) bool { return rs[i].offset < rs[j].offset })
		for j, r := range rs {
			if r.offset != int64(j) {
				return fmt.Errorf("partition %d: offsets are not dense from 0: %dth message has offset %d", part, j, r.offset)
			}
		}
		// Within a partition, the messages sent one by one keep their order.
		last := -1
		for _, r := range rs {
			i, _ := strconv.Atoi(r.value)
			if i < n/2 {
				if i < last {
					return fmt.Errorf("partition %d: message %d after %d", part, i, last)
				}
				last = i
			}
		}
	}
	if len(want) != 3 {
		return fmt.Errorf("messages went to %d partitions, want 3", len(want))
	}

	cc := config()
	cc.Consumer.Return.Errors = true
	cc.Consumer.MaxWaitTime = 300 * time.Millisecond
	cons, err := sarama.NewConsumer([]string{bootstrap}, cc)
	if err != nil {
		return fmt.Errorf("NewConsumer: %w", err)
	}
	defer cons.Close()
	for part, rs := range want {
		pc, err := cons.ConsumePartition(topic, part, sarama.OffsetOldest)
		if err != nil {
			return fmt.Errorf("ConsumePartition %d: %w", part, err)
		}
		if hwm := pc.HighWaterMarkOffset(); hwm != 0 && hwm != int64(len(rs)) {
			pc.Close()
			return fmt.Errorf("partition %d high watermark %d, want %d", part, hwm, len(rs))
		}
		for j := 0; j < len(rs); j++ {
			select {
			case m := <-pc.Messages():
				if m.Offset != rs[j].offset || string(m.Value) != rs[j].value {
					pc.Close()
					return fmt.Errorf("partition %d: consumed offset %d value %s, want offset %d value %s", part, m.Offset, m.Value, rs[j].offset, rs[j].value)
				}
			case e := <-pc.Errors():
				pc.Close()
				return fmt.Errorf("partition %d consumer: %v", part, e)
			case <-ctx.Done():
				pc.Close()
				return fmt.Errorf("partition %d: consumed %d of %d: %v", part, j, len(rs), ctx.Err())
			}
		}
		pc.Close()
	}
	client, err := sarama.NewClient([]string{bootstrap}, config())
	if err != nil {
		return err
	}
	defer client.Close()
	for part, rs := range want {
		end, err := client.GetOffset(topic, part, sarama.OffsetNewest)
		if err != nil || end != int64(len(rs)) {
			return fmt.Errorf("ListOffsets(latest) partition %d = %d (%v), want %d", part, end, err, len(rs))
		}
		start, err := client.GetOffset(topic, part, sarama.OffsetOldest)
		if err != nil || start != 0 {
			return fmt.Errorf("ListOffsets(earliest) partition %d = %d (%v), want 0", part, start, err)
		}
	}
	return nil
}

type handler struct {
	mu       sync.Mutex
	seen     map[string]bool
	first    map[int32]int64
	next     map[int32]int64
	stopAt   int
	stopped  bool
	dup      error
	done     chan struct{}
	doneOnce sync.Once
	assigned map[int32]bool
}

func (h *handler) Setup(s sarama.ConsumerGroupSession) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, ps := range s.Claims() {
		for _, p := range ps {
			h.assigned[p] = true
		}
	}
	return nil
}
func (h *handler) Cleanup(sarama.ConsumerGroupSession) error { return nil }
func (h *handler) ConsumeClaim(s sarama.ConsumerGroupSession, c sarama.ConsumerGroupClaim) error {
	for m := range c.Messages() {
		h.mu.Lock()
		if h.stopped {
			// Past the threshold: neither recorded nor marked, so the
			// committed offsets are exactly those of the recorded messages.
			h.mu.Unlock()
			continue
		}
		k := fmt.Sprintf("%d/%d", m.Partition, m.Offset)
		if h.seen[k] && h.dup == nil {
			h.dup = fmt.Errorf("message %s consumed twice", k)
		}
		h.seen[k] = true
		if _, ok := h.first[m.Partition]; !ok {
			h.first[m.Partition] = m.Offset
		}
		h.next[m.Partition] = m.Offset + 1
		s.MarkMessage(m, "")
		if len(h.seen) >= h.stopAt {
			h.stopped = true
			h.doneOnce.Do(func() { close(h.done) })
		}
		h.mu.Unlock()
	}
	return nil
}

func runGroup(ctx context.Context, bootstrap, groupID, topic string, h *handler) error {
	c := config()
	c.Consumer.Offsets.Initial = sarama.OffsetOldest
	c.Consumer.Offsets.AutoCommit.Enable = false
	c.Consumer.Group.Session.Timeout = 10 * time.Second
	c.Consumer.Group.Heartbeat.Interval = 500 * time.Millisecond
	c.Consumer.Group.Rebalance.Timeout = 10 * time.Second
	c.Consumer.MaxWaitTime = 300 * time.Millisecond
	c.Consumer.Fetch.Default = 2000
	c.Consumer.Return.Errors = true
	g, err := sarama.NewConsumerGroup([]string{bootstrap}, groupID, c)
	if err != nil {
		return fmt.Errorf("NewConsumerGroup: %w", err)
	}
	gctx, cancel := context.WithCancel(ctx)
	errc := make(chan error, 1)
	go func() {
		for gctx.Err() == nil {
			if err := g.Consume(gctx, []string{topic}, &commitOnCleanup{h}); err != nil {
				errc <- err
				return
			}
		}
		errc <- nil
	}()
	var gerr error
	select {
	case <-h.done:
	case e := <-g.Errors():
		gerr = fmt.Errorf("consumer group error: %w", e)
	case e := <-errc:
		gerr = fmt.Errorf("Consume returned early: %v", e)
	case <-ctx.Done():
		gerr = ctx.Err()
	}
	cancel()
	cerr := withCtx(context.Background(), "close", g.Close)
	if gerr != nil {
		return gerr
	}
	return cerr
}

// commitOnCleanup commits the marked offsets synchronously when the session ends.
type commitOnCleanup struct{ *handler }

func (c *commitOnCleanup) Cleanup(s sarama.ConsumerGroupSession) error {
	s.Commit()
	return nil
}

// group: a consumer group member consumes part of a topic, commits and leaves;
// a second member resumes at the committed offsets.
func group(ctx context.Context, bootstrap string) error {
	adm, err := newAdmin(bootstrap)
	if err != nil {
		return err
	}
	defer adm.Close()
	topic, groupID := harness.Name("sa-group"), harness.Name("sa-group-g")
	if err := createTopic(ctx, adm, topic, 3); err != nil {
		return err
	}
	p, err := syncProducer(bootstrap, "")
	if err != nil {
		return err
	}
	const n = 300
	var msgs []*sarama.ProducerMessage
	for i := 0; i < n; i++ {
		msgs = append(msgs, &sarama.ProducerMessage{Topic: topic, Key: sarama.StringEncoder(strconv.Itoa(i)), Value: sarama.StringEncoder(strconv.Itoa(i))})
	}
	err = withCtx(ctx, "SendMessages", func() error { return p.SendMessages(msgs) })
	p.Close()
	if err != nil {
		return err
	}
	h1 := &handler{seen: map[string]bool{}, first: map[int32]int64{}, next: map[int32]int64{}, stopAt: 100, done: make(chan struct{}), assigned: map[int32]bool{}}
	start := time.Now()
	if err := runGroup(ctx, bootstrap, groupID, topic, h1); err != nil {
		return fmt.Errorf("run 1: %w", err)
	}
	if len(h1.assigned) != 3 {
		return fmt.Errorf("run 1: the only member was assigned %v, want 3 partitions", h1.assigned)
	}
	var fo *sarama.OffsetFetchResponse
	if err := withCtx(ctx, "OffsetFetch", func() (e error) {
		fo, e = adm.ListConsumerGroupOffsets(groupID, map[string][]int32{topic: {0, 1, 2}})
		return
	}); err != nil {
		return err
	}
	h1.mu.Lock()
	committed := map[int32]int64{}
	for part, next := range h1.next {
		committed[part] = next
	}
	seen := h1.seen
	h1.mu.Unlock()
	for part, next := range committed {
		b := fo.GetBlock(topic, part)
		if b == nil || b.Offset != next {
			return fmt.Errorf("OffsetFetch %s/%d = %+v, want the committed %d", topic, part, b, next)
		}
	}
	harness.Logf("group run 1: %d records in %.1f s", len(seen), time.Since(start).Seconds())
	start = time.Now()
	h2 := &handler{seen: seen, first: map[int32]int64{}, next: map[int32]int64{}, stopAt: n, done: make(chan struct{}), assigned: map[int32]bool{}}
	if err := runGroup(ctx, bootstrap, groupID, topic, h2); err != nil {
		return fmt.Errorf("run 2: %w (%d of %d consumed)", err, len(h2.seen), n)
	}
	harness.Logf("group run 2: in %.1f s", time.Since(start).Seconds())
	h2.mu.Lock()
	defer h2.mu.Unlock()
	if h2.dup != nil {
		return fmt.Errorf("run 2: %w (run 1 committed %v)", h2.dup, committed)
	}
	for part, off := range h2.first {
		if off != committed[part] {
			return fmt.Errorf("run 2 started partition %d at %d, want the committed %d", part, off, committed[part])
		}
	}
	var ds []*sarama.GroupDescription
	if err := withCtx(ctx, "DescribeGroups", func() (e error) { ds, e = adm.DescribeConsumerGroups([]string{groupID}); return }); err != nil {
		return err
	}
	if len(ds) != 1 || ds[0].State != "Empty" || ds[0].ProtocolType != "consumer" {
		return fmt.Errorf("DescribeGroups after both members left: %+v, want state Empty, protocol type consumer", ds)
	}
	return nil
}

// transactions: commit, abort, commit with a transactional sync producer; a
// read_committed consumer sees exactly the committed messages.
func transactions(ctx context.Context, bootstrap string) error {
	adm, err := newAdmin(bootstrap)
	if err != nil {
		return err
	}
	defer adm.Close()
	topic := harness.Name("sa-txn")
	if err := createTopic(ctx, adm, topic, 1); err != nil {
		return err
	}
	p, err := syncProducer(bootstrap, harness.Name("sa-txid"))
	if err != nil {
		return fmt.Errorf("NewSyncProducer (transactional: InitProducerId): %w", err)
	}
	defer p.Close()
	var committed []string
	txn := func(prefix string, n int, commit bool) error {
		if err := p.BeginTxn(); err != nil {
			return fmt.Errorf("BeginTxn: %w", err)
		}
		var msgs []*sarama.ProducerMessage
		for i := 0; i < n; i++ {
			v := fmt.Sprintf("%s-%d", prefix, i)
			msgs = append(msgs, &sarama.ProducerMessage{Topic: topic, Value: sarama.StringEncoder(v)})
			if commit {
				committed = append(committed, v)
			}
		}
		if err := withCtx(ctx, "SendMessages in "+prefix, func() error { return p.SendMessages(msgs) }); err != nil {
			return err
		}
		if commit {
			return withCtx(ctx, "CommitTxn "+prefix, p.CommitTxn)
		}
		return withCtx(ctx, "AbortTxn "+prefix, p.AbortTxn)
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
	check := func(level sarama.IsolationLevel, want []string) error {
		cc := config()
		cc.Consumer.IsolationLevel = level
		cc.Consumer.Return.Errors = true
		cc.Consumer.MaxWaitTime = 300 * time.Millisecond
		cons, err := sarama.NewConsumer([]string{bootstrap}, cc)
		if err != nil {
			return err
		}
		defer cons.Close()
		pc, err := cons.ConsumePartition(topic, 0, sarama.OffsetOldest)
		if err != nil {
			return fmt.Errorf("ConsumePartition: %w", err)
		}
		defer pc.Close()
		var got []string
		settle := time.After(time.Hour)
		for {
			select {
			case m := <-pc.Messages():
				got = append(got, string(m.Value))
				if len(got) == len(want) {
					settle = time.After(1500 * time.Millisecond)
				}
			case e := <-pc.Errors():
				return fmt.Errorf("consumer: %v", e)
			case <-settle:
				if strings.Join(got, ",") != strings.Join(want, ",") {
					return fmt.Errorf("isolation %d: consumed %v, want %v", level, got, want)
				}
				return nil
			case <-ctx.Done():
				return fmt.Errorf("isolation %d: consumed %d of %d (%v): %v", level, len(got), len(want), got, ctx.Err())
			}
		}
	}
	if err := check(sarama.ReadCommitted, committed); err != nil {
		return fmt.Errorf("read_committed: %w", err)
	}
	var all []string
	for i := 0; i < 10; i++ {
		all = append(all, fmt.Sprintf("commit1-%d", i))
	}
	for i := 0; i < 10; i++ {
		all = append(all, fmt.Sprintf("abort1-%d", i))
	}
	for i := 0; i < 5; i++ {
		all = append(all, fmt.Sprintf("commit2-%d", i))
	}
	if err := check(sarama.ReadUncommitted, all); err != nil {
		return fmt.Errorf("read_uncommitted: %w", err)
	}
	return nil
}
