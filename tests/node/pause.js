// Pauses or resumes a queue globally with Bull.
// argv[2]: {prefix, queue, action: "pause"|"resume"}
// result: {paused: bool}
'use strict';
const { args, openQueue, finish, run, fail } = require('./lib');

run(async () => {
  const spec = args();
  const queue = openQueue(spec);
  await queue.isReady();
  if (spec.action === 'pause') await queue.pause();
  else if (spec.action === 'resume') await queue.resume();
  else fail('`action` must be "pause" or "resume"');
  await finish({ paused: await queue.isPaused() }, [queue]);
});
