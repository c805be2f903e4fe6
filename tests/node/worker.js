// A Bull worker that processes jobs and reports what it saw.
// argv[2]: {prefix, queue, count, concurrency?, settings?, failTimes?, failMessage?, returnValue?,
//           holdMs?, exitWhenIdleMs?}
//   count: stop after this many handler calls (attempts, failures included).
//   failTimes: fail the first N attempts of each job with `failMessage`.
//   returnValue: what the handler returns (default {"by":"node","id":<job id>}).
//   exitWhenIdleMs: stop early once no handler call came for this long (counted from ready).
// prints {"ready":true} once the worker is processing; result: {calls: [...], events: [...]}
'use strict';
const { args, openQueue, line, finish, run, sleep } = require('./lib');

run(async () => {
  const spec = args();
  const queue = openQueue(spec, spec.settings);
  const calls = [];
  const events = [];
  const failTimes = spec.failTimes || 0;
  const count = spec.count || 1;
  let done;
  const allDone = new Promise((resolve) => (done = resolve));
  queue.on('completed', (job, value) => events.push({ event: 'completed', id: String(job.id), value }));
  queue.on('failed', (job, error) => events.push({ event: 'failed', id: String(job.id), reason: error.message }));
  queue.process('*', spec.concurrency || 1, async (job) => {
    calls.push({
      id: String(job.id),
      name: job.name,
      data: job.data,
      opts: job.opts,
      attemptsMade: job.attemptsMade,
      timestamp: job.timestamp,
      delay: job.delay,
      processedOn: job.processedOn,
      at: Date.now(),
    });
    if (calls.length >= count) setImmediate(done);
    if (spec.holdMs) await sleep(spec.holdMs);
    if (job.attemptsMade < failTimes) throw new Error(spec.failMessage || 'node says no');
    return spec.returnValue !== undefined ? spec.returnValue : { by: 'node', id: String(job.id) };
  });
  await queue.isReady();
  line({ ready: true });
  if (spec.exitWhenIdleMs) {
    let lastSeen = Date.now();
    let lastCount = 0;
    setInterval(() => {
      if (calls.length !== lastCount) {
        lastCount = calls.length;
        lastSeen = Date.now();
      } else if (Date.now() - lastSeen >= spec.exitWhenIdleMs) {
        done();
      }
    }, 50).unref();
  }
  await allDone;
  // Let the last handler's completion or failure land in Redis before closing.
  await queue.whenCurrentJobsFinished();
  await sleep(50);
  await finish({ calls, events }, [queue]);
});
