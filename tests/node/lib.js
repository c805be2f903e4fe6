// Shared plumbing of the interop scripts: one JSON argument in, JSON lines out, a hard deadline.
//
// Every script takes a single JSON object as argv[2] (at least `prefix` and `queue`), may print
// progress lines such as {"ready":true}, and ends by printing exactly one result line
// {"result": ...} (or {"error": "..."} with exit code 1). The deadline guarantees that a script
// never outlives a failing test.
'use strict';

const Queue = require('bull');

// `required` names the string fields the script needs (every script but the board needs a queue).
function args(required = ['prefix', 'queue']) {
  const text = process.argv[2];
  if (!text) fail('missing the JSON argument (argv[2])');
  let parsed;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    fail(`argv[2] is not JSON: ${error.message}`);
  }
  const missing = required.filter((field) => typeof parsed[field] !== 'string');
  if (missing.length) {
    fail(`the JSON argument needs string fields ${missing.map((field) => `\`${field}\``).join(' and ')}`);
  }
  // 0 means no deadline, for a server an operator runs by hand (board.js).
  const deadlineMs = Number.isFinite(parsed.deadlineMs) ? parsed.deadlineMs : 20000;
  if (deadlineMs > 0) setTimeout(() => fail(`deadline of ${deadlineMs} ms passed`), deadlineMs);
  return parsed;
}

function redisUrl(spec) {
  return (spec && spec.redisUrl) || process.env.REDIS_URL || 'redis://127.0.0.1:6379';
}

// A Bull queue on the test Redis (`redisUrl` in the argument, else REDIS_URL); `settings` are
// Bull's advanced settings (lockDuration...).
function openQueue(spec, settings) {
  return new Queue(spec.queue, redisUrl(spec), { prefix: spec.prefix, settings: settings || {} });
}

// Writes one JSON line; the promise resolves once it is flushed (stdout to a pipe is
// asynchronous on Linux, and a large result would be cut short by process.exit otherwise).
function line(value) {
  return new Promise((resolve) => process.stdout.write(JSON.stringify(value) + '\n', resolve));
}

// Error lines are small: they fit the pipe's buffer, so exiting right away loses nothing.
function fail(message) {
  line({ error: String(message) });
  process.exit(1);
}

// Prints the result, closes the queues (bounded) and exits 0.
async function finish(result, queues) {
  await line({ result });
  await Promise.race([
    Promise.all((queues || []).map((queue) => queue.close().catch(() => undefined))),
    new Promise((resolve) => setTimeout(resolve, 2000)),
  ]);
  process.exit(0);
}

// Runs `main` and turns any rejection into an {"error"} line.
function run(main) {
  main().catch((error) => fail(error && error.stack ? error.stack : error));
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

// Resolves `promise` or rejects after `ms`.
function within(ms, promise, what) {
  return Promise.race([
    promise,
    new Promise((_, reject) => setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms)),
  ]);
}

// The parts of a Bull job the tests compare.
async function describe(job) {
  if (!job) return null;
  const json = job.toJSON();
  return {
    id: String(json.id),
    name: json.name,
    data: json.data,
    opts: json.opts,
    state: await job.getState(),
    attemptsMade: json.attemptsMade,
    timestamp: json.timestamp,
    delay: json.delay,
    processedOn: json.processedOn || null,
    finishedOn: json.finishedOn || null,
    returnvalue: json.returnvalue === undefined ? null : json.returnvalue,
    failedReason: json.failedReason === undefined ? null : json.failedReason,
    stacktrace: json.stacktrace,
  };
}

module.exports = { args, openQueue, line, fail, finish, run, sleep, within, describe, redisUrl };
