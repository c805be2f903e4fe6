// A guild admin's plugin, installed through guildhost's plugin store the way a dashboard's upload
// route would: the component goes to Redis under its SHA-256, a PLUGIN_INSTALL command goes on
// `bot:config`, and the command's job ends with the store's answer (its event also goes to the
// `plugins:events` queue).
//
//   node plugins.js install <plugin.wasm> <plugin.toml> [name]    prints the event's JSON
//   node plugins.js serve [port]                                   the upload route, below
//
// The route: `POST /guilds/<guildId>/plugins` with the component as the body and the manifest
// (TOML) base64-encoded in the `x-plugin-manifest` header; it answers 201 with PLUGIN_INSTALLED
// or 422 with PLUGIN_REJECTED (its `field` and `reason`). REDIS_URL, BULL_PREFIX and GUILD_ID
// as in index.js.
'use strict';
const crypto = require('crypto');
const fs = require('fs');
const http = require('http');
const Queue = require('bull');

const redis = process.env.REDIS_URL || 'redis://127.0.0.1:6379';
const prefix = process.env.BULL_PREFIX || 'bull';

// The seed's defaultJobOptions: a store that cannot be reached is retried, a rejection is final.
const jobOptions = { attempts: 3, backoff: { type: 'exponential', delay: 2000 }, removeOnComplete: 10, removeOnFail: 5 };

const config = new Queue('bot:config', redis, { prefix });

/** Sends one PLUGIN_* command for `guildId` and resolves with the event it ended in. */
async function command(type, guildId, data, userId) {
  const envelope = {
    id: crypto.randomUUID(),
    type,
    timestamp: new Date(),
    source: 'api',
    guildId,
    userId,
    requestId: `plugins-${crypto.randomUUID()}`,
    data,
  };
  const job = await config.add(type, envelope, jobOptions);
  try {
    // The job's return value is the event it ended in: `{ type, data }`.
    const event = await job.finished();
    return { ok: true, ...event };
  } catch (error) {
    // The job's failedReason is `<field>: <reason>`.
    const reason = String(error && error.message ? error.message : error);
    const split = reason.indexOf(': ');
    return { type: 'PLUGIN_REJECTED', ok: false, data: { field: reason.slice(0, split), reason: reason.slice(split + 2) } };
  }
}

/** Uploads `wasm` (a Buffer) and installs it in `guildId` with `manifest` (TOML text). */
async function installPlugin({ guildId, wasm, manifest, name, installedBy }) {
  const sha256 = crypto.createHash('sha256').update(wasm).digest('hex');
  // An upload nobody installs expires by itself; an install makes it permanent.
  await config.client.set(`${prefix}:guildhost:store:blob:${sha256}`, wasm, 'EX', 3600, 'NX');
  return command('PLUGIN_INSTALL', guildId, { sha256, manifest, name, installedBy }, installedBy);
}

function serve(port) {
  const server = http.createServer(async (req, res) => {
    const route = /^\/guilds\/(\d{1,20})\/plugins$/.exec(req.url || '');
    if (req.method !== 'POST' || !route) {
      res.writeHead(404).end();
      return;
    }
    const chunks = [];
    let size = 0;
    for await (const chunk of req) {
      size += chunk.length;
      if (size > 32 << 20) {
        res.writeHead(413).end();
        return;
      }
      chunks.push(chunk);
    }
    const manifest = Buffer.from(String(req.headers['x-plugin-manifest'] || ''), 'base64').toString('utf8');
    const outcome = await installPlugin({ guildId: route[1], wasm: Buffer.concat(chunks), manifest });
    res.writeHead(outcome.ok ? 201 : 422, { 'content-type': 'application/json' });
    res.end(JSON.stringify(outcome));
  });
  server.listen(port, '127.0.0.1', () => console.log(`POST http://127.0.0.1:${server.address().port}/guilds/<guildId>/plugins`));
}

async function main() {
  const [action, ...args] = process.argv.slice(2);
  if (action === 'install' && args.length >= 2) {
    const outcome = await installPlugin({
      guildId: process.env.GUILD_ID || '123456789012345678',
      wasm: fs.readFileSync(args[0]),
      manifest: fs.readFileSync(args[1], 'utf8'),
      name: args[2],
    });
    console.log(JSON.stringify(outcome));
    await config.close();
    process.exit(outcome.ok ? 0 : 1);
  } else if (action === 'serve') {
    serve(Number(args[0] || 3001));
  } else {
    console.error('usage: node plugins.js install <plugin.wasm> <plugin.toml> [name] | serve [port]');
    process.exit(2);
  }
}

if (require.main === module) {
  main().catch((error) => {
    console.error(error);
    process.exit(1);
  });
}

module.exports = { installPlugin, command };
