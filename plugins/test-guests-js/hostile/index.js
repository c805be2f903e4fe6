// Hostile JavaScript test guest: on MESSAGE_CREATED it mounts the attack its content names, so
// the containment suite (tests/tests/runtime_hostile_js.rs) repeats the Rust guests' attacks in
// JavaScript through one component. Every other message type is answered like `echo`.
//
// - `loop`: spins forever;
// - `memory`: grows its heap without end;
// - `flood`: returns 1 000 outputs;
// - `cross <guild>`: posts in another guild, and once in its own;
// - `ungranted`: a ban (not in `emits`) and a post (granted);
// - `kv`: writes keys until the store refuses, then reports how far it got;
// - `fetch`: calls `fetch`;
// - `throw`: fails with a retryable PluginError; `crash`: throws a TypeError;
// - `console`: writes with console.log and console.error;
// - `hoard <MiB>`: keeps <MiB> more of memory alive across calls (on the global object).

import { definePlugin, execute, PluginError } from '../../sdk-js/index.js';

const post = (channelId, content, options) => execute('send-message', { channelId, content }, options);

export default definePlugin((ctx, { message }) => {
  if (message.tag === 'custom') return [post('200000000000000002', `pong ${message.val.data}`)];
  if (message.tag !== 'message-created') return [];
  const [attack, argument] = message.val.content.split(/\s+/);
  const channel = message.val.channelId;
  switch (attack) {
    case 'loop':
      for (;;) {}
    case 'memory': {
      const hoard = [];
      for (;;) hoard.push(new Array(1 << 16).fill(hoard.length));
    }
    case 'flood':
      return Array.from({ length: 1_000 }, (_, i) => post(channel, `flood ${i}`));
    case 'cross':
      return [post('200000000000000099', 'hello from elsewhere', { guildId: argument }), post(channel, 'hello at home')];
    case 'ungranted':
      return [
        execute('ban-user', { userId: message.val.authorId, reason: 'hostile', moderatorId: message.val.authorId, deleteMessageDays: 0 }),
        post(channel, 'granted'),
      ];
    case 'kv': {
      let written = 0;
      try {
        for (;;) ctx.kv.setString(`key-${written++}`, 'x'.repeat(64));
      } catch (error) {
        ctx.warn(`kv refused write ${written}: ${error.message}`);
        throw error;
      }
    }
    case 'fetch':
      fetch('http://127.0.0.1:9/');
      return [post(channel, 'fetched')];
    case 'throw':
      throw PluginError.retryable('the database is down');
    case 'crash':
      return undefined.property;
    case 'hoard': {
      globalThis.hoard = globalThis.hoard ?? [];
      globalThis.hoard.push(new Uint8Array(Number(argument) << 20).fill(1));
      return [];
    }
    case 'console':
      console.log('to stdout', { n: 1 });
      console.error('to stderr');
      return [];
    default:
      return [];
  }
});
