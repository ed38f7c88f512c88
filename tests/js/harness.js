'use strict';
// Runs named scenarios against a broker, each bounded by a timeout, printing
// "PASS <name>" / "FAIL <name>: why" per scenario and a closing
// "<client>: N passed, M failed" line; exits 1 if any scenario failed.
//
//   node <program>.js HOST:PORT [SCENARIO...]

const SCENARIO_TIMEOUT_MS = 60_000;

function uniqueName(prefix) {
  return `${prefix}-${process.pid}-${Date.now() % 1_000_000_000}-${Math.floor(Math.random() * 1e6)}`;
}

function log(...args) {
  process.stderr.write('  ' + args.join(' ') + '\n');
}

class CheckError extends Error {}

function check(cond, msg) {
  if (!cond) throw new CheckError(msg);
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Polls fn until it returns a truthy value or the deadline passes.
async function until(what, fn, timeoutMs = 20_000, stepMs = 100) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) {
      throw new CheckError(`timed out after ${timeoutMs} ms waiting for ${what}${last ? ': ' + last.message : ''}`);
    }
    await sleep(stepMs);
  }
}

async function main(client, scenarios) {
  const [bootstrap, ...only] = process.argv.slice(2);
  if (!bootstrap) {
    process.stderr.write(`usage: node ${process.argv[1]} HOST:PORT [SCENARIO...]\nscenarios: ${Object.keys(scenarios).join(' ')}\n`);
    process.exit(2);
  }
  let passed = 0;
  let failed = 0;
  for (const [name, fn] of Object.entries(scenarios)) {
    if (only.length && !only.includes(name)) continue;
    const cleanups = [];
    const ctx = { bootstrap, onCleanup: (f) => cleanups.push(f) };
    const start = Date.now();
    let timer;
    try {
      await Promise.race([
        fn(ctx),
        new Promise((_, reject) => {
          timer = setTimeout(() => reject(new CheckError(`did not finish within ${SCENARIO_TIMEOUT_MS / 1000} s`)), SCENARIO_TIMEOUT_MS);
        }),
      ]);
      passed++;
      console.log(`PASS ${name}`);
    } catch (e) {
      failed++;
      const why = (e && (e.stack && !(e instanceof CheckError) ? e.stack : e.message)) || String(e);
      console.log(`FAIL ${name}: ${why.replace(/\n/g, ' | ')} (after ${((Date.now() - start) / 1000).toFixed(1)} s)`);
    } finally {
      clearTimeout(timer);
      for (const f of cleanups.reverse()) {
        // Bounded: a client that hangs on disconnect must not hang the run.
        await Promise.race([Promise.resolve().then(f).catch(() => {}), sleep(10_000)]);
      }
    }
  }
  console.log(`${client}: ${passed} passed, ${failed} failed`);
  process.exit(failed > 0 || passed === 0 ? 1 : 0);
}

module.exports = { main, check, until, sleep, uniqueName, log, CheckError };
