// Reads a queue through Bull's own getters.
// argv[2]: {prefix, queue, ids?: [string], finished?: [string], repeatable?: bool, finishedTimeoutMs?}
//   finished: await job.finished() for these ids (resolves on global:completed or fails on global:failed).
// result: {counts, jobs: {id: job|null}, finished: {id: {value}|{error}}, repeatable: [...], paused,
//          metrics: {completed, failed}}
'use strict';
const { args, openQueue, finish, run, within, describe } = require('./lib');

run(async () => {
  const spec = args();
  const queue = openQueue(spec);
  const result = { counts: await queue.getJobCounts(), jobs: {}, finished: {} };
  result.paused = await queue.isPaused();
  // What getMetrics() counted (worker-made completions and final failures).
  result.metrics = {};
  for (const kind of ['completed', 'failed']) {
    result.metrics[kind] = (await queue.getMetrics(kind)).meta.count;
  }
  for (const id of spec.ids || []) {
    result.jobs[id] = await describe(await queue.getJob(id));
  }
  await Promise.all((spec.finished || []).map(async (id) => {
    const job = await queue.getJob(id);
    if (!job) {
      result.finished[id] = { error: 'no such job' };
      return;
    }
    try {
      const value = await within(spec.finishedTimeoutMs || 10000, job.finished(), `job ${id} finished()`);
      result.finished[id] = { value: value === undefined ? null : value };
    } catch (error) {
      result.finished[id] = { error: error.message };
    }
  }));
  if (spec.repeatable) {
    result.repeatable = await queue.getRepeatableJobs();
  }
  await finish(result, [queue]);
});
