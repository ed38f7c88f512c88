'use strict';
// KafkaJS (pinned in package.json) against a Weir broker:
//   node kafkajs.js HOST:PORT [SCENARIO...]
// Every scenario checks Kafka's semantics itself and prints PASS or FAIL.

const { Kafka, logLevel, Partitioners, ConfigResourceTypes } = require('kafkajs');
const { main, check, until, sleep, uniqueName, log } = require('./harness');

function kafka(ctx, clientId = 'weir-kafkajs-test') {
  return new Kafka({
    clientId,
    brokers: [ctx.bootstrap],
    connectionTimeout: 5000,
    requestTimeout: 20000,
    retry: { retries: 5, initialRetryTime: 100, maxRetryTime: 2000 },
    logLevel: logLevel.ERROR,
    logCreator: () => ({ namespace, level, label, log: entry }) => {
      const { message, ...rest } = entry;
      log(`[kafkajs ${label} ${namespace}] ${message} ${JSON.stringify(rest)}`);
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
  const created = await admin.createTopics({ topics: [{ topic, numPartitions, replicationFactor: 1 }], waitForLeaders: true, timeout: 20000 });
  check(created === true, `createTopics(${topic}) returned ${created}, want true`);
}

function producer(ctx, k, opts = {}) {
  const p = k.producer({ createPartitioner: Partitioners.DefaultPartitioner, ...opts });
  ctx.onCleanup(() => p.disconnect());
  return p;
}

function consumer(ctx, k, opts) {
  const c = k.consumer({ sessionTimeout: 10000, heartbeatInterval: 500, rebalanceTimeout: 10000, maxWaitTimeInMs: 300, ...opts });
  ctx.onCleanup(() => c.disconnect());
  return c;
}

// Admin: create topic (3 partitions), list, fetch metadata, describe / alter
// configs, create partitions, fetch offsets, delete records, delete topic.
async function admin(ctx) {
  const k = kafka(ctx);
  const admin = await connectedAdmin(ctx, k);
  const topic = uniqueName('kjs-admin');
  await createTopic(admin, topic, 3);
  const again = await admin.createTopics({ topics: [{ topic, numPartitions: 3 }] });
  check(again === false, `createTopics of the existing ${topic} returned ${again}, want false (TOPIC_ALREADY_EXISTS)`);

  const topics = await admin.listTopics();
  check(topics.includes(topic), `listTopics lacks ${topic}: ${topics}`);
  const md = await admin.fetchTopicMetadata({ topics: [topic] });
  check(md.topics.length === 1 && md.topics[0].name === topic, `fetchTopicMetadata: ${JSON.stringify(md)}`);
  const parts = md.topics[0].partitions;
  check(parts.length === 3, `fetchTopicMetadata: ${parts.length} partitions, want 3`);
  for (const p of parts) check(p.leader >= 0 && p.replicas.length === 1 && p.isr.length === 1, `partition ${JSON.stringify(p)}`);

  const describe = async () => {
    const r = await admin.describeConfigs({ resources: [{ type: ConfigResourceTypes.TOPIC, name: topic }], includeSynonyms: false });
    check(r.resources.length === 1 && r.resources[0].errorCode === 0, `describeConfigs: ${JSON.stringify(r.resources)}`);
    return Object.fromEntries(r.resources[0].configEntries.map((e) => [e.configName, e]));
  };
  let cfg = await describe();
  check(cfg['retention.ms'] && cfg['retention.ms'].configValue, `describeConfigs: no retention.ms among ${Object.keys(cfg)}`);
  check(cfg['cleanup.policy'] && cfg['cleanup.policy'].configValue === 'delete', `cleanup.policy = ${JSON.stringify(cfg['cleanup.policy'])}`);
  // AlterConfigs (the non-incremental API: the listed configs replace the topic's overrides).
  await admin.alterConfigs({ validateOnly: false, resources: [{ type: ConfigResourceTypes.TOPIC, name: topic, configEntries: [{ name: 'retention.ms', value: '5400000' }] }] });
  cfg = await describe();
  check(cfg['retention.ms'].configValue === '5400000', `retention.ms after alterConfigs = ${cfg['retention.ms'].configValue}, want 5400000`);

  await admin.createPartitions({ topicPartitions: [{ topic, count: 4 }] });
  await until('4 partitions in metadata', async () => (await admin.fetchTopicMetadata({ topics: [topic] })).topics[0].partitions.length === 4);

  const p = producer(ctx, k);
  await p.connect();
  await p.send({ topic, acks: -1, messages: Array.from({ length: 30 }, (_, i) => ({ partition: 0, value: `v${i}` })) });
  let offs = await admin.fetchTopicOffsets(topic);
  const p0 = offs.find((o) => o.partition === 0);
  check(offs.length === 4 && p0.high === '30' && p0.low === '0', `fetchTopicOffsets: ${JSON.stringify(offs)}`);
  await admin.deleteTopicRecords({ topic, partitions: [{ partition: 0, offset: '12' }] });
  offs = await admin.fetchTopicOffsets(topic);
  check(offs.find((o) => o.partition === 0).low === '12', `after deleteTopicRecords: ${JSON.stringify(offs)}`);

  await admin.deleteTopics({ topics: [topic], timeout: 20000 });
  await until(`${topic} gone from listTopics`, async () => !(await admin.listTopics()).includes(topic));
}

// Idempotent producer (acks=all) writes 500 keyed messages; a consumer group
// reads them all, in order per partition; fetchOffsets shows its commits.
async function produceConsume(ctx) {
  const k = kafka(ctx);
  const admin = await connectedAdmin(ctx, k);
  const topic = uniqueName('kjs-pc');
  const groupId = uniqueName('kjs-pc-group');
  await createTopic(admin, topic, 3);
  const p = producer(ctx, k, { idempotent: true, maxInFlightRequests: 1 });
  await p.connect();
  const n = 500;
  const want = new Map(); // partition -> [value in offset order]
  for (let batch = 0; batch < n; batch += 100) {
    const messages = [];
    for (let i = batch; i < batch + 100; i++) messages.push({ key: `key-${i % 23}`, value: String(i) });
    const res = await p.send({ topic, acks: -1, messages });
    // kafkajs returns the base offset per partition of this send.
    for (const r of res) check(r.errorCode === 0, `produce result ${JSON.stringify(r)}`);
  }
  const offs = await admin.fetchTopicOffsets(topic);
  const total = offs.reduce((s, o) => s + Number(o.high), 0);
  check(total === n, `fetchTopicOffsets: high watermarks sum to ${total}, want ${n}: ${JSON.stringify(offs)}`);

  const c = consumer(ctx, k, { groupId });
  await c.connect();
  await c.subscribe({ topic, fromBeginning: true });
  const got = new Map();
  let count = 0;
  let problem = null;
  const keyPart = new Map();
  await c.run({
    autoCommit: true,
    autoCommitInterval: 200,
    eachMessage: async ({ partition, message }) => {
      const list = got.get(partition) || [];
      const expectOffset = list.length;
      if (Number(message.offset) !== expectOffset && !problem) problem = `partition ${partition}: offset ${message.offset} where ${expectOffset} was expected`;
      const key = message.key.toString();
      if (keyPart.has(key) && keyPart.get(key) !== partition && !problem) problem = `key ${key} in partitions ${keyPart.get(key)} and ${partition}`;
      keyPart.set(key, partition);
      list.push(Number(message.value.toString()));
      got.set(partition, list);
      count++;
    },
  });
  await until(`${n} messages consumed`, async () => count >= n || problem, 40000);
  check(!problem, problem);
  check(count === n, `consumed ${count}, want ${n}`);
  for (const [part, values] of got) {
    for (let i = 1; i < values.length; i++) check(values[i] > values[i - 1], `partition ${part}: value ${values[i]} after ${values[i - 1]} (produce order lost)`);
  }
  // The auto-committed offsets reach the end of every partition.
  await until('committed offsets at the end', async () => {
    const fo = await admin.fetchOffsets({ groupId, topics: [topic] });
    return fo[0].partitions.every((pp) => pp.offset === offs.find((o) => o.partition === pp.partition).high);
  });
  const groups = await admin.describeGroups([groupId]);
  const g = groups.groups[0];
  check(g.state === 'Stable' && g.protocolType === 'consumer' && g.members.length === 1, `describeGroups: ${JSON.stringify({ ...g, members: g.members.length })}`);
}

// Consumer group resume: run 1 consumes >= 100 messages and commits exactly
// what it processed, leaves; run 2 starts at the committed offsets.
async function groupResume(ctx) {
  const k = kafka(ctx);
  const admin = await connectedAdmin(ctx, k);
  const topic = uniqueName('kjs-grp');
  const groupId = uniqueName('kjs-grp-group');
  await createTopic(admin, topic, 3);
  const p = producer(ctx, k, { idempotent: true, maxInFlightRequests: 1 });
  await p.connect();
  const n = 300;
  await p.send({ topic, acks: -1, messages: Array.from({ length: n }, (_, i) => ({ key: String(i), value: String(i) })) });

  const seen = new Set();
  const next = new Map();
  const c1 = consumer(ctx, k, { groupId, maxBytesPerPartition: 2000 });
  await c1.connect();
  await c1.subscribe({ topic, fromBeginning: true });
  let stopped = false;
  await c1.run({
    autoCommit: false,
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
  await c1.disconnect();
  const fo = await admin.fetchOffsets({ groupId, topics: [topic] });
  for (const pp of fo[0].partitions) {
    const want = committed.has(pp.partition) ? String(committed.get(pp.partition)) : '-1';
    check(pp.offset === want, `fetchOffsets ${topic}/${pp.partition} = ${pp.offset}, want the committed ${want}`);
  }

  const first = new Map();
  let dup = null;
  const c2 = consumer(ctx, k, { groupId });
  await c2.connect();
  await c2.subscribe({ topic, fromBeginning: true });
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

// Transactions: commit, abort (with sendOffsets in both), commit; a
// read_committed (readUncommitted: false) consumer sees exactly the
// committed messages; only the committed transaction's group offsets count.
async function transactions(ctx) {
  const k = kafka(ctx);
  const admin = await connectedAdmin(ctx, k);
  const topic = uniqueName('kjs-txn');
  const offsetsTopic = uniqueName('kjs-txn-src');
  const eosGroup = uniqueName('kjs-txn-eos');
  await createTopic(admin, topic, 2);
  await createTopic(admin, offsetsTopic, 1);
  const p = producer(ctx, k, { transactionalId: uniqueName('kjs-txid'), idempotent: true, maxInFlightRequests: 1, transactionTimeout: 30000 });
  await p.connect();
  const committed = [];
  const run = async (prefix, count, commit, srcOffset) => {
    const txn = await p.transaction();
    const messages = [];
    for (let i = 0; i < count; i++) {
      messages.push({ key: String(i), value: `${prefix}-${i}` });
      if (commit) committed.push(`${prefix}-${i}`);
    }
    await txn.send({ topic, messages });
    await txn.sendOffsets({ consumerGroupId: eosGroup, topics: [{ topic: offsetsTopic, partitions: [{ partition: 0, offset: String(srcOffset) }] }] });
    if (commit) await txn.commit();
    else await txn.abort();
  };
  await run('commit1', 10, true, 5);
  await run('abort1', 10, false, 50);
  await run('commit2', 5, true, 7);

  // The committed offsets become visible once the transaction's markers are
  // written, which Kafka does after answering EndTxn: poll (bounded).
  let fo;
  await until('the offsets of the last committed transaction (7)', async () => {
    fo = await admin.fetchOffsets({ groupId: eosGroup, topics: [offsetsTopic] });
    return fo[0].partitions[0].offset === '7';
  }, 10000).catch((e) => {
    throw new Error(`${e.message}; fetchOffsets answered ${JSON.stringify(fo)} (want 7: the aborted transaction's 50 must not count)`);
  });

  const readAll = async (readUncommitted, want) => {
    const c = consumer(ctx, k, { groupId: uniqueName('kjs-txn-reader'), readUncommitted });
    await c.connect();
    await c.subscribe({ topic, fromBeginning: true });
    const got = [];
    await c.run({ eachMessage: async ({ message }) => { got.push(message.value.toString()); } });
    await until(`${want.length} messages (readUncommitted=${readUncommitted})`, async () => got.length >= want.length, 30000);
    await sleep(1500); // nothing more may arrive
    await c.disconnect();
    const g = [...got].sort().join(',');
    const w = [...want].sort().join(',');
    check(g === w, `readUncommitted=${readUncommitted}: consumed ${got.length} [${g}], want ${want.length} [${w}]`);
  };
  await readAll(false, committed);
  const all = [...committed, ...Array.from({ length: 10 }, (_, i) => `abort1-${i}`)];
  await readAll(true, all);
}

main('kafkajs', {
  admin,
  'produce-consume': produceConsume,
  'group-resume': groupResume,
  transactions,
});
