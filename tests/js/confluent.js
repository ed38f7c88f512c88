'use strict';
// confluent-kafka-javascript (@confluentinc/kafka-javascript, librdkafka
// inside; pinned in package.json) against a Weir broker, through its
// KafkaJS-compatible API:
//   node confluent.js HOST:PORT [SCENARIO...]
// Every scenario checks Kafka's semantics itself and prints PASS or FAIL.

const { main, check, until, sleep, uniqueName, log } = require('./harness');

let KafkaJS;
let loadError = null;
try {
  ({ KafkaJS } = require('@confluentinc/kafka-javascript'));
} catch (e) {
  loadError = e;
}

function kafka(ctx) {
  if (loadError) {
    throw new Error(`@confluentinc/kafka-javascript is not installed or its native module did not build ` +
      `(install with: CKJS_LINKING=dynamic npm ci in tests/js): ${loadError.message}`);
  }
  return new KafkaJS.Kafka({
    kafkaJS: {
      brokers: [ctx.bootstrap],
      clientId: 'weir-confluent-js-test',
      connectionTimeout: 5000,
      requestTimeout: 20000,
      logLevel: KafkaJS.logLevel.ERROR,
      logger: {
        info: () => {}, debug: () => {},
        warn: (m, extra) => log(`[librdkafka warn] ${m} ${extra ? JSON.stringify(extra) : ''}`),
        error: (m, extra) => log(`[librdkafka error] ${m} ${extra ? JSON.stringify(extra) : ''}`),
        namespace() { return this; }, setLogLevel() {},
      },
    },
  });
}

async function connectedAdmin(ctx, k) {
  const admin = k.admin();
  await admin.connect();
  ctx.onCleanup(() => admin.disconnect());
  return admin;
}

async function createTopic(admin, topic, numPartitions) {
  const created = await admin.createTopics({ topics: [{ topic, numPartitions, replicationFactor: 1 }], timeout: 20000 });
  check(created === true, `createTopics(${topic}) returned ${created}, want true`);
  await until(`${topic} with ${numPartitions} partitions in metadata`, async () => {
    const md = await admin.fetchTopicMetadata({ topics: [topic] });
    return md[0] && md[0].partitions.length === numPartitions && md[0].partitions.every((p) => p.leader >= 0);
  });
}

function producer(ctx, k, opts = {}, rdkafka = {}) {
  const p = k.producer({ kafkaJS: { acks: -1, ...opts }, ...rdkafka });
  ctx.onCleanup(() => p.disconnect());
  return p;
}

function consumer(ctx, k, opts, rdkafka = {}) {
  const c = k.consumer({ kafkaJS: { fromBeginning: true, ...opts }, 'fetch.wait.max.ms': 300, ...rdkafka });
  ctx.onCleanup(() => c.disconnect());
  return c;
}

// Producer (idempotent, acks=all) -> consumer round trip, order per partition.
async function roundTrip(ctx) {
  const k = kafka(ctx);
  const admin = await connectedAdmin(ctx, k);
  const topic = uniqueName('ckjs-rt');
  await createTopic(admin, topic, 3);
  const p = producer(ctx, k, { idempotent: true });
  await p.connect();
  const n = 300;
  const res = await p.send({ topic, messages: Array.from({ length: n }, (_, i) => ({ key: `key-${i % 11}`, value: String(i) })) });
  for (const r of res) check(r.errorCode === 0, `produce result ${JSON.stringify(r)}`);
  const offs = await admin.fetchTopicOffsets(topic);
  const total = offs.reduce((s, o) => s + Number(o.high), 0);
  check(total === n, `fetchTopicOffsets: ${JSON.stringify(offs)} sums to ${total}, want ${n}`);

  const c = consumer(ctx, k, { groupId: uniqueName('ckjs-rt-group') });
  await c.connect();
  await c.subscribe({ topics: [topic] });
  const got = new Map();
  let count = 0;
  let problem = null;
  await c.run({
    eachMessage: async ({ partition, message }) => {
      const list = got.get(partition) || [];
      if (Number(message.offset) !== list.length && !problem) problem = `partition ${partition}: offset ${message.offset}, want ${list.length}`;
      list.push(Number(message.value.toString()));
      got.set(partition, list);
      count++;
    },
  });
  await until(`${n} messages consumed`, async () => count >= n || problem, 40000);
  check(!problem, problem);
  for (const [part, values] of got) {
    for (let i = 1; i < values.length; i++) check(values[i] > values[i - 1], `partition ${part}: ${values[i]} after ${values[i - 1]}`);
  }
  await sleep(500);
  check(count === n, `consumed ${count}, want ${n}`);
}

// Consumer group: run 1 consumes part and commits what it processed, leaves;
// run 2 (same group) resumes at the committed offsets. protocol 'consumer'
// is KIP-848.
async function groupResume(ctx, protocol) {
  const k = kafka(ctx);
  const admin = await connectedAdmin(ctx, k);
  const topic = uniqueName(`ckjs-grp-${protocol}`);
  const groupId = uniqueName(`ckjs-grp-${protocol}-group`);
  await createTopic(admin, topic, 3);
  const p = producer(ctx, k, { idempotent: true });
  await p.connect();
  const n = 300;
  await p.send({ topic, messages: Array.from({ length: n }, (_, i) => ({ key: String(i), value: String(i) })) });

  const rd = protocol === 'consumer'
    ? { 'group.protocol': 'consumer' }
    : { 'group.protocol': 'classic', 'session.timeout.ms': 10000, 'heartbeat.interval.ms': 500 };
  const seen = new Set();
  const next = new Map();
  const c1 = consumer(ctx, k, { groupId, autoCommit: false }, { ...rd, 'max.partition.fetch.bytes': 1000 });
  await c1.connect();
  await c1.subscribe({ topics: [topic] });
  let stopped = false;
  await c1.run({
    eachMessage: async ({ partition, message }) => {
      if (stopped) return;
      seen.add(`${partition}/${message.offset}`);
      next.set(partition, Number(message.offset) + 1);
    },
  });
  await until('run 1 consumed 100', async () => seen.size >= 100, 30000);
  stopped = true;
  const committed = new Map(next);
  await c1.commitOffsets([...committed].map(([partition, offset]) => ({ topic, partition, offset: String(offset) })));
  if (protocol === 'consumer') {
    const d = await admin.describeGroups([groupId]);
    const g = d.groups[0];
    check(g && g.members && g.members.length === 1, `describeGroups while run 1 is in the group: ${JSON.stringify(g)}`);
  }
  await c1.disconnect();
  const fo = await admin.fetchOffsets({ groupId, topics: [topic] });
  for (const pp of fo[0].partitions) {
    const want = committed.has(pp.partition) ? String(committed.get(pp.partition)) : '-1';
    check(pp.offset === want, `fetchOffsets ${topic}/${pp.partition} = ${pp.offset}, want the committed ${want}`);
  }

  const first = new Map();
  let dup = null;
  const c2 = consumer(ctx, k, { groupId }, rd);
  await c2.connect();
  await c2.subscribe({ topics: [topic] });
  await c2.run({
    eachMessage: async ({ partition, message }) => {
      if (!first.has(partition)) first.set(partition, Number(message.offset));
      const key = `${partition}/${message.offset}`;
      if (seen.has(key) && !dup) dup = key;
      seen.add(key);
    },
  });
  await until(`all ${n} consumed over both runs`, async () => seen.size >= n || dup, 30000);
  check(!dup, `run 2 consumed ${dup} again (run 1 committed ${JSON.stringify([...committed])})`);
  for (const [part, off] of first) {
    const want = committed.get(part) || 0;
    check(off === want, `run 2 started partition ${part} at ${off}, want the committed ${want}`);
  }
}

// Transactions: commit, abort, commit; a read_committed consumer sees
// exactly the committed messages.
async function transactions(ctx) {
  const k = kafka(ctx);
  const admin = await connectedAdmin(ctx, k);
  const topic = uniqueName('ckjs-txn');
  await createTopic(admin, topic, 2);
  const p = producer(ctx, k, { transactionalId: uniqueName('ckjs-txid'), idempotent: true });
  await p.connect();
  const committed = [];
  for (const [prefix, count, commit] of [['commit1', 10, true], ['abort1', 10, false], ['commit2', 5, true]]) {
    const txn = await p.transaction();
    const messages = [];
    for (let i = 0; i < count; i++) {
      messages.push({ key: String(i), value: `${prefix}-${i}` });
      if (commit) committed.push(`${prefix}-${i}`);
    }
    await txn.send({ topic, messages });
    if (commit) await txn.commit();
    else await txn.abort();
  }
  const c = consumer(ctx, k, { groupId: uniqueName('ckjs-txn-reader') }, { 'isolation.level': 'read_committed' });
  await c.connect();
  await c.subscribe({ topics: [topic] });
  const got = [];
  await c.run({ eachMessage: async ({ message }) => { got.push(message.value.toString()); } });
  await until(`${committed.length} committed messages`, async () => got.length >= committed.length, 30000);
  await sleep(1500);
  const g = [...got].sort().join(',');
  const w = [...committed].sort().join(',');
  check(g === w, `read_committed consumed ${got.length} [${g}], want ${committed.length} [${w}]`);
}

main('confluent-kafka-javascript', {
  'round-trip': roundTrip,
  'group-classic': (ctx) => groupResume(ctx, 'classic'),
  'group-kip848': (ctx) => groupResume(ctx, 'consumer'),
  transactions,
});
