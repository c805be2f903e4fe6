// A Node API talking to guildhost the way the seed's API does: it sends one command of each
// kind with the seed's job options, and listens on the event queues guildhost publishes to.
//
//   npm ci && node index.js            (REDIS_URL, GUILD_ID, CHANNEL_ID, USER_ID optional)
//
// Start guildhost first (`cargo run --release -p guildhost -- run`); without a Discord token it
// runs dry and records each action in the Redis list `bull:guildhost:dry-run`.
'use strict';
const Queue = require('bull');
const { randomUUID } = require('crypto');

const redis = process.env.REDIS_URL || 'redis://127.0.0.1:6379';
const prefix = process.env.BULL_PREFIX || 'bull'; // guildhost's [redis] prefix
const guildId = process.env.GUILD_ID || '123456789012345678';
const channelId = process.env.CHANNEL_ID || '234567890123456789';
const userId = process.env.USER_ID || '345678901234567890';
const moderatorId = '456789012345678901';

// The seed's defaultJobOptions.
const jobOptions = {
  attempts: 3,
  backoff: { type: 'exponential', delay: 2000 },
  removeOnComplete: 10,
  removeOnFail: 5,
};

const queues = {};
function queue(name) {
  if (!queues[name]) queues[name] = new Queue(name, redis, { prefix });
  return queues[name];
}

async function send(queueName, type, data) {
  const command = {
    id: randomUUID(),
    type,
    timestamp: new Date(),
    source: 'api',
    guildId,
    userId: moderatorId,
    requestId: `example-${type.toLowerCase()}`,
    data,
  };
  const job = await queue(queueName).add(command.type, command, jobOptions);
  console.log(`sent ${type} to ${queueName} as job ${job.id}`);
}

async function main() {
  // Events guildhost publishes, consumed as the API would (update a database, push to a websocket).
  for (const name of ['discord:events', 'moderation:events', 'music:events']) {
    queue(name).process('*', async (job) => {
      console.log(`${name}: ${job.data.type} ${JSON.stringify(job.data.data)}`);
    });
  }

  const moderation = { userId, reason: 'spam in #general', moderatorId, notifyUser: true, createCase: true };
  await send('bot:commands', 'SEND_MESSAGE', { channelId, content: 'Hello from the API' });
  await send('bot:commands', 'SEND_DM', { userId, content: 'A private word from the moderators' });
  await send('bot:moderation', 'BAN_USER', { ...moderation, deleteMessageDays: 1, duration: 24 });
  await send('bot:moderation', 'KICK_USER', moderation);
  await send('bot:moderation', 'TIMEOUT_USER', { ...moderation, duration: 600 });
  await send('bot:moderation', 'UNBAN_USER', { userId, reason: 'appeal accepted', moderatorId, notifyUser: false });
  const voiceChannelId = channelId;
  await send('bot:music', 'PLAY_MUSIC', { query: 'lofi beats', requestedBy: userId, voiceChannelId, playNext: false, playNow: false });
  await send('bot:music', 'SET_VOLUME', { volume: 40, requestedBy: userId });
  await send('bot:music', 'PAUSE_MUSIC', { paused: true, requestedBy: userId });
  await send('bot:music', 'SET_REPEAT', { mode: 'QUEUE', requestedBy: userId });
  await send('bot:music', 'SKIP_MUSIC', { requestedBy: userId, skipCount: 1 });
  await send('bot:config', 'UPDATE_CONFIG', { config: { automod: { capsRatio: 0.8 } }, updatedBy: moderatorId, section: 'automod' });
  await send('bot:config', 'RELOAD_COMMANDS', { global: false });

  const seconds = Number(process.env.LISTEN_SECONDS || 10);
  console.log(`listening for events for ${seconds} s`);
  await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
  await Promise.all(Object.values(queues).map((q) => q.close()));
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
