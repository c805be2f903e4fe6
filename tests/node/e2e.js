// The Node side of the end-to-end benchmark (tests/src/bin/e2e_bench.rs), three roles by `role`:
//
// produce: adds `count` commands as the API does (Bull's own producer, addBulk in chunks of
//   500, the seed's job options): SEND_MESSAGE on bot:commands, or with `mix` every other one a
//   BAN_USER on bot:moderation; spread over `guilds` guilds; with `rate`, that many per second
//   (retrying adds Redis refused, each job's id its envelope's, the add time in the message),
//   and with `keepCompleted` completed jobs are kept. result: {ms}
// noop: Bull's no-op worker (concurrency 50) on `queues`; prints {"ready":true}; result
//   {jobs, ms, cpuUs} from the first handler call to the `count`-th completion.
// automod: the gateway path's anchor, a Bull worker (concurrency 50) doing what guildhost's
//   gateway path does per message with the same rules in JavaScript: take MESSAGE_CREATED from
//   `queue`, read the guild's automod settings (cached 1 s, as guildhost caches them), count the
//   author's messages in a Redis window (the rate rule's store), check keywords, invites,
//   mentions, rate and caps, add the API's copy to discord:events and, for a hit, a
//   DELETE_MESSAGE to bot:commands. Prints {"ready":true}; result {jobs, ms, cpuUs, deletes}.
//   With `fill`, first adds `count` MESSAGE_CREATED (every 50th with an invite link).
//
// argv[2]: {role, prefix, queue, redisUrl, count, guilds?, mix?, rate?, keepCompleted?, queues?, fill?}
'use strict';
const Queue = require('bull');
const { args, line, finish, run, redisUrl } = require('./lib');

const SEED_OPTS = {
  attempts: 3,
  backoff: { type: 'exponential', delay: 2000 },
  removeOnComplete: 10,
  removeOnFail: 5,
};

const GUILD_BASE = 100000000000000000n;
const CHANNEL_BASE = 500000000000000000n;
const MEMBER_BASE = 300000000000000000n;
const MESSAGE_BASE = 400000000000000000n;

function open(spec, name) {
  return new Queue(name, redisUrl(spec), { prefix: spec.prefix });
}

function guildOf(i, guilds) {
  return String(GUILD_BASE + 1n + BigInt(i % guilds));
}

function envelope(type, i, guildId, data) {
  return {
    id: `e2e-${type.toLowerCase()}-${i}`,
    type,
    timestamp: new Date().toISOString(),
    source: 'api',
    guildId,
    userId: '234567890123456789',
    data,
  };
}

function command(i, guilds, mix, stamped) {
  const guildId = guildOf(i, guilds);
  if (mix && i % 2 === 1) {
    return {
      queue: 'bot:moderation',
      message: envelope('BAN_USER', i, guildId, {
        userId: String(MEMBER_BASE + BigInt(i)),
        reason: 'Repeated spam in #general after two warnings',
        deleteMessageDays: 1,
        moderatorId: '456789012345678901',
        notifyUser: false,
        createCase: false,
      }),
    };
  }
  return {
    queue: 'bot:commands',
    message: envelope('SEND_MESSAGE', i, guildId, {
      channelId: String(CHANNEL_BASE + BigInt(i % guilds)),
      // With `stamped`, the add time rides along (the soak run reads it at the fake Discord).
      content: `Reminder ${i}: the weekly event starts in one hour in the stage channel.${stamped ? ` [${Date.now()}]` : ''}`,
    }),
  };
}

// The gateway path's input as guildhost's ingest writes it; every 50th breaks the invite rule.
function messageCreated(i, guilds) {
  const guildId = guildOf(i, guilds);
  const content = i % 50 === 0
    ? 'join discord.gg/raiders now for free nitro'
    : `message ${i}: has anyone seen the patch notes for this week?`;
  return {
    id: `e2e-gw-${i}`,
    type: 'MESSAGE_CREATED',
    timestamp: new Date().toISOString(),
    source: 'bot',
    guildId,
    userId: String(MEMBER_BASE + BigInt(i)),
    data: {
      messageId: String(MESSAGE_BASE + BigInt(i)),
      channelId: String(CHANNEL_BASE + BigInt(i % guilds)),
      authorId: String(MEMBER_BASE + BigInt(i)),
      content,
      mentions: { users: [], roles: [], everyone: false },
      attachmentCount: 0,
      timestamp: new Date().toISOString(),
      authorRoles: [],
      isBot: false,
      isWebhook: false,
    },
  };
}

// `keyed`: each job's id is its envelope's, so an add retried after a lost reply adds nothing;
// `keep`: completed jobs are kept (the fault campaign reads when each was added).
async function addInChunks(queues, entries, keyed, keep) {
  for (let start = 0; start < entries.length; start += 500) {
    const byQueue = new Map();
    for (const { queue, message } of entries.slice(start, start + 500)) {
      if (!byQueue.has(queue)) byQueue.set(queue, []);
      const opts = keyed ? { ...SEED_OPTS, jobId: message.id } : { ...SEED_OPTS };
      if (keep) opts.removeOnComplete = false;
      byQueue.get(queue).push({ name: message.type, data: message, opts });
    }
    await Promise.all([...byQueue].map(([name, jobs]) => queues.get(name).addBulk(jobs)));
  }
}

async function produce(spec) {
  const names = ['bot:commands', 'bot:moderation'];
  const queues = new Map(names.map((name) => [name, open(spec, name)]));
  await Promise.all([...queues.values()].map((q) => q.isReady()));
  if (spec.rate) {
    // A steady load: `rate` commands per second, each envelope stamped when it is added.
    const started = process.hrtime.bigint();
    const perTick = Math.max(1, Math.round(spec.rate / 10));
    for (let next = 0; next < spec.count; ) {
      const due = Math.min(spec.count, Math.floor(Number(process.hrtime.bigint() - started) / 1e9 * spec.rate) + perTick);
      const entries = [];
      for (; next < due; next += 1) entries.push(command(next, spec.guilds || 1000, spec.mix, true));
      // A Redis restart or pause makes an add fail: the API would retry it, and so does this.
      for (;;) {
        try {
          await addInChunks(queues, entries, true, spec.keepCompleted);
          break;
        } catch (error) {
          console.error(`add failed, retrying: ${error.message}`);
          await new Promise((resolve) => setTimeout(resolve, 200));
        }
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const ms = Number(process.hrtime.bigint() - started) / 1e6;
    await finish({ ms }, [...queues.values()]);
    return;
  }
  const entries = [];
  for (let i = 0; i < spec.count; i += 1) entries.push(command(i, spec.guilds || 1000, spec.mix));
  const started = process.hrtime.bigint();
  await addInChunks(queues, entries);
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  await finish({ ms }, [...queues.values()]);
}

// Counts completions until `count`, timing from the first handler call.
function meter(count) {
  let started = null;
  let cpuAtStart = null;
  let completed = 0;
  let done;
  const allDone = new Promise((resolve) => (done = resolve));
  return {
    allDone,
    handling() {
      if (started === null) {
        started = process.hrtime.bigint();
        cpuAtStart = process.cpuUsage();
      }
    },
    completed() {
      completed += 1;
      if (completed === count) done();
    },
    result() {
      const cpu = process.cpuUsage(cpuAtStart);
      return {
        jobs: completed,
        ms: Number(process.hrtime.bigint() - started) / 1e6,
        cpuUs: cpu.user + cpu.system,
      };
    },
  };
}

async function noop(spec) {
  const queues = spec.queues.map((name) => open(spec, name));
  const counter = meter(spec.count);
  for (const queue of queues) {
    queue.on('completed', () => counter.completed());
    await queue.isReady();
    queue.process('*', 50, async () => counter.handling());
  }
  await line({ ready: true });
  await counter.allDone;
  await finish(counter.result(), queues);
}

const INVITE = /(discord\.gg|discord(?:app)?\.com\/invite)\/[\w-]+/i;

// The rules of the automod plugin's defaults, in JavaScript.
function violations(config, data, count) {
  const hits = [];
  const text = data.content || '';
  const lower = text.toLowerCase();
  if ((config.words || []).some((word) => lower.includes(word))) hits.push('keywords');
  if (INVITE.test(text)) hits.push('invites');
  const mentions = data.mentions || {};
  const mentionCount = (mentions.users || []).length + (mentions.roles || []).length + (mentions.everyone ? 1 : 0);
  if (mentionCount > (config.maxMentions || 5)) hits.push('mentions');
  if (count > (config.rateMax || 5)) hits.push('rate');
  const letters = text.replace(/[^a-zA-Z]/g, '');
  if (letters.length >= 10 && letters.replace(/[^A-Z]/g, '').length / letters.length > 0.7) hits.push('caps');
  return hits;
}

async function automod(spec) {
  const source = open(spec, spec.queue);
  const events = open(spec, 'discord:events');
  const commands = open(spec, 'bot:commands');
  await Promise.all([source, events, commands].map((q) => q.isReady()));
  if (spec.fill) {
    const entries = [];
    for (let i = 0; i < spec.count; i += 1) entries.push({ queue: spec.queue, message: messageCreated(i, spec.guilds || 1000) });
    await addInChunks(new Map([[spec.queue, source]]), entries);
  }
  const redis = source.client;
  const configs = new Map();
  async function configOf(guildId) {
    const cached = configs.get(guildId);
    if (cached && cached.at > Date.now() - 1000) return cached.config;
    const section = await redis.hget(`${spec.prefix}:guildhost:config:${guildId}`, 'automod');
    const config = section ? JSON.parse(section) : {};
    configs.set(guildId, { at: Date.now(), config });
    return config;
  }
  const counter = meter(spec.count);
  let deletes = 0;
  source.on('completed', () => counter.completed());
  source.process('*', 50, async (job) => {
    counter.handling();
    const message = job.data;
    const data = message.data;
    const config = await configOf(message.guildId);
    const key = `${spec.prefix}:anchor:rate:${message.guildId}:${data.authorId}`;
    const [[, count]] = await redis.multi().incr(key).pexpire(key, 5000).exec();
    const hits = violations(config, data, count);
    const copy = events.add(message.type, message, SEED_OPTS);
    if (hits.length > 0) {
      deletes += 1;
      const deletion = envelope('DELETE_MESSAGE', job.id, message.guildId, {
        channelId: data.channelId,
        messageId: data.messageId,
        reason: `automod: ${hits.join(', ')}`,
      });
      await Promise.all([copy, commands.add(deletion.type, deletion, SEED_OPTS)]);
    } else {
      await copy;
    }
  });
  await line({ ready: true });
  await counter.allDone;
  await finish({ ...counter.result(), deletes }, [source, events, commands]);
}

run(async () => {
  const spec = args();
  spec.deadlineMs = spec.deadlineMs || 600000;
  switch (spec.role) {
    case 'produce':
      return produce(spec);
    case 'noop':
      return noop(spec);
    case 'automod':
      return automod(spec);
    default:
      throw new Error(`unknown role ${spec.role}`);
  }
});
