// Adds jobs as the API does and waits for each job's real outcome with Bull's `job.finished()`.
// argv[2]: {prefix, queue, jobs: [{name, data, opts}], deadlineMs?}
// result: [{id, ok, value?, reason?, attemptsMade, state, settledAt}] in the order of `jobs`
//   (`settledAt`: Date.now() when `finished()` settled; `value` is the parsed returnvalue).
'use strict';
const { args, openQueue, finish, run } = require('./lib');

run(async () => {
  const spec = args();
  const queue = openQueue(spec);
  await queue.isReady();
  const added = [];
  for (const job of spec.jobs || []) {
    added.push(await queue.add(job.name, job.data, job.opts || {}));
  }
  const outcomes = await Promise.all(
    added.map((job) =>
      job.finished().then(
        (value) => ({ id: String(job.id), ok: true, value, settledAt: Date.now() }),
        (error) => ({ id: String(job.id), ok: false, reason: String(error && error.message), settledAt: Date.now() }),
      ),
    ),
  );
  for (const outcome of outcomes) {
    const job = await queue.getJob(outcome.id);
    outcome.attemptsMade = job ? job.attemptsMade : null;
    outcome.state = job ? await job.getState() : 'removed';
  }
  await finish(outcomes, [queue]);
});
