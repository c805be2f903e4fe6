// Listens to Bull's global events (Redis pub/sub) until `count` of them arrived.
// argv[2]: {prefix, queue, count, events?: ["completed", "failed", ...]}
// prints {"ready":true} once subscribed; result: {events: [{event, id, value}]}
'use strict';
const { args, openQueue, line, finish, run } = require('./lib');

run(async () => {
  const spec = args();
  const queue = openQueue(spec);
  const names = spec.events || ['completed', 'failed'];
  const events = [];
  let done;
  const allDone = new Promise((resolve) => (done = resolve));
  const subscribed = [];
  for (const name of names) {
    subscribed.push(new Promise((resolve) => queue.once(`registered:global:${name}`, resolve)));
    queue.on(`global:${name}`, (id, value) => {
      events.push({ event: name, id: String(id), value: value === undefined ? null : value });
      if (events.length >= (spec.count || 1)) done();
    });
  }
  await queue.isReady();
  // Global listeners subscribe lazily: wait until every SUBSCRIBE was acknowledged.
  await Promise.all(subscribed);
  line({ ready: true });
  await allDone;
  await finish({ events }, [queue]);
});
