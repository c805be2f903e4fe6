// The Node side of the queue benchmark (tests/src/bin/queue_bench.rs): a Bull no-op worker.
// argv[2]: {prefix, queue, count, concurrency?, redisUrl?, deadlineMs?}
// Prints {"ready":true} once connected, then processes jobs named `ban` until `count` local
// `completed` events arrived.
// result: {jobs, ms, cpuUs}: wall time and process.cpuUsage() (user+sys) from the first handler
// call to the count-th completion (the anchors' method).
'use strict';
const { args, openQueue, line, finish, run } = require('./lib');

run(async () => {
  const spec = args();
  const queue = openQueue(spec);
  const count = spec.count || 1;
  let started = null;
  let cpuAtStart = null;
  let completed = 0;
  let done;
  const allDone = new Promise((resolve) => (done = resolve));
  queue.on('completed', () => {
    completed += 1;
    if (completed === count) done();
  });
  await queue.isReady();
  line({ ready: true });
  queue.process('ban', spec.concurrency || 50, async () => {
    if (started === null) {
      started = process.hrtime.bigint();
      cpuAtStart = process.cpuUsage();
    }
  });
  await allDone;
  const cpu = process.cpuUsage(cpuAtStart);
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  await finish({ jobs: completed, ms, cpuUs: cpu.user + cpu.system }, [queue]);
});
