// Adds jobs with Bull's own producer.
// argv[2]: {prefix, queue, jobs: [{name, data, opts}], bulk?: bool}
// result: {ids: [string], opts: [object]}  (the ids Bull returned and the opts it stored)
'use strict';
const { args, openQueue, finish, run } = require('./lib');

run(async () => {
  const spec = args();
  const queue = openQueue(spec);
  const jobs = spec.jobs || [];
  let added;
  if (spec.bulk) {
    added = await queue.addBulk(jobs.map((job) => ({ name: job.name, data: job.data, opts: job.opts || {} })));
  } else {
    added = [];
    for (const job of jobs) {
      added.push(await queue.add(job.name, job.data, job.opts || {}));
    }
  }
  await finish({ ids: added.map((job) => String(job.id)), opts: added.map((job) => job.opts) }, [queue]);
});
