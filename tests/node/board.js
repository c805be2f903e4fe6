// Serves bull-board (the dashboard most Bull users run) for the queues guildhost uses, as an
// operator would point it at the same Redis: one Bull queue per name through bull-board's own
// BullAdapter, nothing guildhost-specific.
// argv[2]: {prefix, queues?: [string], port?: number, readOnly?: bool, deadlineMs?: number (0: none)}
//   queues defaults to guildhost's (`guildhost queues` lists the same ones).
// prints {"ready":true, "url": "http://127.0.0.1:<port>/", "queues": [...]} once listening;
// runs until killed (SIGTERM/SIGINT close the queues), or until the deadline.
'use strict';
const express = require('express');
const { createBullBoard } = require('@bull-board/api');
const { BullAdapter } = require('@bull-board/api/bullAdapter');
const { ExpressAdapter } = require('@bull-board/express');
const { args, openQueue, line, run } = require('./lib');

// The seed's nine inbound queues (host/src/dispatch/routes.rs INBOUND_QUEUES), its three event
// queues, guildhost's own two, the plugin store's events (host/src/store/commands.rs) and the
// dead-letter queue (host/src/queue/worker.rs).
const GUILDHOST_QUEUES = [
  'bot:commands',
  'bot:moderation',
  'bot:music',
  'bot:config',
  'discord:events',
  'moderation:events',
  'music:events',
  'notifications',
  'webhooks',
  'analytics',
  'scheduled:tasks',
  'cleanup:tasks',
  'guildhost:gateway',
  'guildhost:execute',
  'plugins:events',
  'dead-letters',
];

run(async () => {
  const spec = args(['prefix']);
  const names = spec.queues || GUILDHOST_QUEUES;
  const queues = names.map((name) => openQueue({ ...spec, queue: name }));
  await Promise.all(queues.map((queue) => queue.isReady()));

  const serverAdapter = new ExpressAdapter();
  serverAdapter.setBasePath('/');
  createBullBoard({
    queues: queues.map((queue) => new BullAdapter(queue, { readOnlyMode: Boolean(spec.readOnly) })),
    serverAdapter,
    options: { uiConfig: { boardTitle: 'guildhost' } },
  });
  const app = express();
  app.use('/', serverAdapter.getRouter());

  const server = await new Promise((resolve, reject) => {
    const listening = app.listen(spec.port || 0, '127.0.0.1', (error) => (error ? reject(error) : resolve(listening)));
  });
  const stop = async () => {
    server.close();
    await Promise.race([
      Promise.all(queues.map((queue) => queue.close().catch(() => undefined))),
      new Promise((resolve) => setTimeout(resolve, 2000)),
    ]);
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  await line({ ready: true, url: `http://127.0.0.1:${server.address().port}/`, queues: names });
});
