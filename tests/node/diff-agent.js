// The Node side of the differential tester: a long-lived agent that performs queue operations
// with the real npm bull and reports what bull observes, one request at a time.
//
// argv[2]: {prefix, queue, redisUrl?, settings?, metrics?, deadlineMs?}
//   settings: Bull's advanced settings, applied to every Queue the agent opens (the main one
//     and each worker's).
//   metrics: Bull's `metrics` queue option ({maxDataPoints}); off by default, and then Bull
//     records no metrics at all (moveToFinished collects them only when it is set).
//   deadlineMs: none by default, since the agent lives for a whole run.
// stdin: JSON lines {"id": n, "op": "...", ...args}; stdout: exactly one line per request,
// {"id": n, "ok": result} or {"id": n, "error": "message"}, in order. Nothing else goes to
// stdout. On stdin EOF (or the `close` op) every queue is closed and the agent exits 0.
//
// Ops: add {name, data, opts} -> id | pause | resume | work {horizonMs} | take -> id|null |
//      remove {jobId} -> bool | retry {jobId} | promote {jobId} |
//      clean {graceMs, state, limit} -> [ids] | empty | removeRepeatable {name, repeat} |
//      observe {ids} -> {...} | close
// The ops that name one job take it as `jobId`: `id` is the request's own id.
'use strict';

const readline = require('readline');
const Queue = require('bull');
const { line, fail, sleep, within, redisUrl } = require('./lib');

// `work` gives up after this long; the driver's horizons are a few hundred ms.
const WORK_CAP_MS = 10000;
const WORK_POLL_MS = 10;
const DEFAULT_HORIZON_MS = 300;
// A completed or failed job answers finished() at once; this only bounds a surprise.
const FINISHED_TIMEOUT_MS = 1000;
const CLOSE_TIMEOUT_MS = 5000;
const STATES = ['waiting', 'active', 'delayed', 'completed', 'failed', 'paused'];
// Lists keep Bull's order (it is the processing order); sorted sets are ordered by timestamps,
// whose ties differ from run to run, so their ids are sorted.
const SORTED_STATES = new Set(['completed', 'failed', 'delayed']);

// stdout carries the protocol only: anything Bull or a dependency logs goes to stderr.
console.log = console.info = console.debug = (...parts) => console.error(...parts);

function log(...parts) {
  console.error('[diff-agent]', ...parts);
}

// Like lib.args, but without a default deadline.
function parseSpec() {
  const text = process.argv[2];
  if (!text) fail('missing the JSON argument (argv[2])');
  let spec;
  try {
    spec = JSON.parse(text);
  } catch (error) {
    fail(`argv[2] is not JSON: ${error.message}`);
  }
  for (const field of ['prefix', 'queue']) {
    if (!spec || typeof spec[field] !== 'string') fail(`the JSON argument needs a string field \`${field}\``);
  }
  if (Number.isFinite(spec.deadlineMs) && spec.deadlineMs > 0) {
    setTimeout(() => fail(`deadline of ${spec.deadlineMs} ms passed`), spec.deadlineMs);
  }
  return spec;
}

const spec = parseSpec();
const open = new Set();

function openQueue() {
  // Bull fills its defaults into the settings object it is given, so each queue gets a copy.
  const options = { prefix: spec.prefix, settings: { ...(spec.settings || {}) } };
  if (spec.metrics) options.metrics = spec.metrics;
  const queue = new Queue(spec.queue, redisUrl(spec), options);
  // Without a listener an 'error' event would throw and kill the agent.
  queue.on('error', (error) => log('queue error:', error && error.stack ? error.stack : error));
  open.add(queue);
  return queue;
}

async function closeQueue(queue) {
  open.delete(queue);
  await within(CLOSE_TIMEOUT_MS, queue.close(), 'closing a queue');
}

const queue = openQueue();

// Numeric ids in numeric order, the rest after them in code-unit order.
function byId(a, b) {
  const na = /^\d+$/.test(a);
  const nb = /^\d+$/.test(b);
  if (na && nb) return a.length - b.length || (a < b ? -1 : a > b ? 1 : 0);
  if (na !== nb) return na ? -1 : 1;
  return a < b ? -1 : a > b ? 1 : 0;
}

function requireJobId(args) {
  if (typeof args.jobId !== 'string') throw new Error('the request needs a string field `jobId`');
  return args.jobId;
}

async function existingJob(id) {
  const job = await queue.getJob(id);
  if (!job) throw new Error(`job ${id} not found`);
  return job;
}

// Each attempt lasts a few ms (as guildhost's handler in the driver does), so no two jobs
// finish in the same millisecond: retention by count keeps the newest, and a tie in
// `finishedOn` would make which ones depend on timing.
const ATTEMPT_MS = 3;

// The outcome of every attempt is written in the job's data.
async function handler(job) {
  await sleep(ATTEMPT_MS);
  const data = job.data !== null && typeof job.data === 'object' ? job.data : {};
  if (data.outcome === 'fail') throw new Error(data.reason || 'failed');
  return data.value === undefined ? null : data.value;
}

// What `work` waits for, read straight from Redis.
async function drainState(horizonMs) {
  const [[, wait], [, active], [, paused], [, delayed], [, metaPaused], [, metaHashPaused]] = await queue
    .multi()
    .llen(queue.toKey('wait'))
    .llen(queue.toKey('active'))
    .llen(queue.toKey('paused'))
    .zrange(queue.toKey('delayed'), 0, 0, 'WITHSCORES')
    .exists(queue.toKey('meta-paused'))
    .hexists(queue.toKey('meta'), 'paused')
    .exec();
  const now = Date.now();
  const nextDue = delayed.length ? Math.floor(Number(delayed[1]) / 4096) : null;
  // Jobs go to `paused` only while `meta-paused` exists (Bull's `empty()` deletes it and leaves
  // `meta`'s flag): jobs in `wait` are a worker's whatever `isPaused()` says, as the Rust
  // driver's drain sees it too.
  const globallyPaused = Boolean(metaPaused);
  void metaHashPaused;
  const dueSoon = nextDue !== null && nextDue <= now + horizonMs;
  const drained = globallyPaused ? active === 0 : wait === 0 && active === 0 && !dueSoon;
  return {
    drained,
    wait,
    active,
    paused,
    globallyPaused,
    nextDelayedDueInMs: nextDue === null ? null : nextDue - now,
  };
}

// A fresh worker each time: a closed one cannot grab a job behind the driver's back (a locally
// paused one still could, through its blocking connection).
async function work(args) {
  const horizonMs = Number.isFinite(args.horizonMs) ? args.horizonMs : DEFAULT_HORIZON_MS;
  const worker = openQueue();
  // '*' rather than an unnamed processor: Bull looks up handlers[job.name] || handlers['*'], and
  // an unnamed processor only takes jobs named '__default__'. The promise settles on close.
  worker.process('*', 1, handler).catch((error) => {
    // Closing a worker that is still starting rejects this with undefined: nothing to report.
    if (!worker.closing) log('worker stopped:', error && error.stack ? error.stack : error);
  });
  const started = Date.now();
  let failure = null;
  try {
    for (;;) {
      const state = await drainState(horizonMs);
      if (state.drained) break;
      if (Date.now() - started > WORK_CAP_MS) {
        const { drained, ...counts } = state;
        failure = new Error(`work did not drain: ${JSON.stringify(counts)} after ${WORK_CAP_MS} ms`);
        break;
      }
      await sleep(WORK_POLL_MS);
    }
  } catch (error) {
    failure = error;
  }
  try {
    await closeQueue(worker);
  } catch (error) {
    failure = failure || error;
  }
  if (failure) throw failure;
  return null;
}

// Takes a job the way a worker does, then abandons it like a crashed worker: it stays active
// without a lock, so the second stalled check of the next worker finds it.
async function take() {
  // getNextJob blocks on BRPOPLPUSH (drainDelay seconds) while the queue is marked drained, which
  // it is on a fresh Queue; an empty wait list answers null without blocking.
  if ((await queue.client.llen(queue.toKey('wait'))) === 0) return null;
  const job = await within(5000, queue.getNextJob(), 'getNextJob');
  if (!job) return null;
  await queue.client.del(queue.toKey(`${job.id}:lock`));
  return String(job.id);
}

// The parts of a job that are not time-valued.
async function view(job) {
  const stalledCounter = await queue.client.hget(queue.toKey(job.id), 'stalledCounter');
  return {
    state: await job.getState(),
    attemptsMade: job.attemptsMade,
    failedReason: job.failedReason === undefined ? null : job.failedReason,
    returnvalue: job.returnvalue === undefined ? null : job.returnvalue,
    stalledCounter: stalledCounter === null ? 0 : Number(stalledCounter),
  };
}

async function metricCount(type) {
  const metrics = await queue.getMetrics(type);
  return Number((metrics && metrics.meta && metrics.meta.count) || 0) || 0;
}

async function observe(args) {
  const result = {
    counts: await queue.getJobCounts(),
    metrics: { completed: await metricCount('completed'), failed: await metricCount('failed') },
    isPaused: await queue.isPaused(),
    jobs: {},
    states: {},
    finished: {},
  };
  for (const state of STATES) {
    // getJobs reads the ids, then each hash: an id whose hash is gone comes back as null.
    const ids = (await queue.getJobs([state], 0, -1)).map((job) => (job ? String(job.id) : '<missing>'));
    result.jobs[state] = SORTED_STATES.has(state) ? ids.sort(byId) : ids;
  }
  const ids = [...new Set((args.ids || []).map(String))].sort(byId);
  for (const id of ids) {
    const job = await queue.getJob(id);
    if (!job) {
      result.states[id] = 'gone';
      continue;
    }
    const seen = await view(job);
    result.states[id] = seen;
    if (seen.state === 'completed' || seen.state === 'failed') {
      try {
        const value = await within(FINISHED_TIMEOUT_MS, job.finished(), `job ${id} finished()`);
        result.finished[id] = { ok: value === undefined ? null : value };
      } catch (error) {
        result.finished[id] = { err: error.message };
      }
    }
  }
  result.repeatable = (await queue.getRepeatableJobs())
    .map(({ key, name, id, endDate, tz, cron, every }) => ({ key, name, id, endDate, tz, cron, every }))
    .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  return result;
}

const ops = {
  async add(args) {
    // Bull reads a non-string first argument as the data of a '__default__' job.
    const job = typeof args.name === 'string'
      ? await queue.add(args.name, args.data, args.opts || {})
      : await queue.add(args.data, args.opts || {});
    // A repeatable add past its endDate or limit creates nothing and resolves undefined.
    return job && job.id !== undefined && job.id !== null ? String(job.id) : null;
  },
  async pause() {
    await queue.pause();
    return null;
  },
  async resume() {
    await queue.resume();
    return null;
  },
  work,
  take,
  async remove(args) {
    const job = await queue.getJob(requireJobId(args));
    if (!job) return false;
    // Throws "Could not remove job <id>" when the job is locked (being processed).
    await job.remove();
    return true;
  },
  async retry(args) {
    await (await existingJob(requireJobId(args))).retry();
    return null;
  },
  async promote(args) {
    await (await existingJob(requireJobId(args))).promote();
    return null;
  },
  async clean(args) {
    const ids = await queue.clean(args.graceMs, args.state, args.limit);
    return ids.map(String).sort(byId);
  },
  async empty() {
    await queue.empty();
    return null;
  },
  async removeRepeatable(args) {
    if (typeof args.name === 'string') await queue.removeRepeatable(args.name, args.repeat || {});
    else await queue.removeRepeatable(args.repeat || {});
    return null;
  },
  observe,
};

async function shutdown() {
  await Promise.all([...open].map((each) => closeQueue(each).catch((error) => log('close failed:', error.message))));
}

async function serve(text) {
  if (!text.trim()) return;
  let request;
  try {
    request = JSON.parse(text);
  } catch (error) {
    await line({ id: null, error: `request is not JSON: ${error.message}` });
    return;
  }
  const id = request && request.id !== undefined ? request.id : null;
  if (request && request.op === 'close') {
    await shutdown();
    await line({ id, ok: null });
    process.exit(0);
  }
  const op = request && Object.prototype.hasOwnProperty.call(ops, request.op) ? ops[request.op] : null;
  if (!op) {
    await line({ id, error: `unknown op ${JSON.stringify(request && request.op)}` });
    return;
  }
  try {
    const result = await op(request);
    await line({ id, ok: result === undefined ? null : result });
  } catch (error) {
    log(`op ${request.op} (id ${id}) failed:`, error && error.stack ? error.stack : error);
    await line({ id, error: String((error && error.message) || error) });
  }
}

// A stray rejection inside Bull must not end a whole run; it is logged for the driver's records.
process.on('unhandledRejection', (error) => log('unhandled rejection:', error && error.stack ? error.stack : error));

(async () => {
  const input = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
  // The async iterator buffers lines, so requests are served strictly one after the other.
  for await (const text of input) await serve(text);
  await shutdown();
  process.exit(0);
})().catch((error) => fail(error && error.stack ? error.stack : error));
