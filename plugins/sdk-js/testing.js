// Unit tests for a plugin in Node, without the host: an in-memory key-value store (per guild,
// with a quota), a clock and a configuration, behind the same calls the component makes.

import { bindHost, run, asPluginError } from './runtime.js';
import { PluginError, WIRE_NAMES } from './index.js';

const encoder = new TextEncoder();

/** The error the WIT imports throw for an `err` result, as componentize-js does. */
class HostError extends Error {
  constructor(payload) {
    super(`${payload.tag}: ${payload.val}`);
    this.payload = payload;
  }
}

/** A test double of the host: `new TestHost().withConfig({...}).handle(plugin, incoming)`. */
export class TestHost {
  #config = {};
  #now = 1_796_000_000_000;
  #store = new Map();
  #guild = undefined;
  // The runtime's default quota (a manifest's `kv-keys` / `kv-bytes`; `withKvQuota` to match it).
  #quota = { keys: 1_000, bytes: 1 << 20 };
  /** The log lines written so far: `{ level, message }`. */
  logs = [];

  /** Sets the configuration the plugin reads. */
  withConfig(config) {
    this.#config = config;
    return this;
  }

  /** Sets the clock (milliseconds since the Unix epoch). */
  withNow(millis) {
    this.#now = millis;
    return this;
  }

  /** Sets the key-value quota per guild. */
  withKvQuota(keys, bytes) {
    this.#quota = { keys, bytes };
    return this;
  }

  /** Moves the clock forward. */
  advance(millis) {
    this.#now += millis;
  }

  /** Runs `plugin` on `incoming`: its outputs, or throws the `PluginError` it failed with. */
  handle(plugin, incoming) {
    this.#guild = incoming.envelope.guildId;
    const unbind = bindHost(this.#imports());
    try {
      return run(plugin, incoming.envelope, incoming.message);
    } catch (error) {
      const failure = error?.payload ?? asPluginError(error);
      throw new PluginError(failure.message, { retryable: failure.retryable });
    } finally {
      unbind();
    }
  }

  /** The log lines so far, and forgets them. */
  takeLogs() {
    const logs = this.logs;
    this.logs = [];
    return logs;
  }

  /** The bytes a guild's key holds, or `undefined`. */
  kvValue(guildId, key) {
    return this.#store.get(guildId ?? '')?.get(key);
  }

  /** The text a guild's key holds, or `undefined`. */
  kvString(guildId, key) {
    const bytes = this.kvValue(guildId, key);
    return bytes === undefined ? undefined : new TextDecoder().decode(bytes);
  }

  #space() {
    const guild = this.#guild ?? '';
    if (!this.#store.has(guild)) this.#store.set(guild, new Map());
    return this.#store.get(guild);
  }

  #imports() {
    const space = () => this.#space();
    const quota = this.#quota;
    const utf8 = (text) => encoder.encode(text).length;
    // As the host: a key is 1 to 512 bytes of UTF-8; the quota counts each key's and value's bytes.
    const check = (key) => {
      if (typeof key !== 'string' || key.length === 0 || utf8(key) > 512) {
        throw new HostError({ tag: 'invalid-key', val: 'a key must be 1 to 512 bytes' });
      }
    };
    const write = (key, value) => {
      const store = space();
      const bytes = [...store].reduce((sum, [k, v]) => sum + (k === key ? 0 : utf8(k) + v.length), 0);
      if (!store.has(key) && store.size + 1 > quota.keys) {
        throw new HostError({ tag: 'quota-exceeded', val: `kv-keys ${quota.keys}` });
      }
      if (bytes + utf8(key) + value.length > quota.bytes) {
        throw new HostError({ tag: 'quota-exceeded', val: `kv-bytes ${quota.bytes}` });
      }
      store.set(key, value);
    };
    return {
      logging: { log: (level, message) => this.logs.push({ level, message }) },
      clock: { now: () => BigInt(this.#now) },
      config: {
        get: () => JSON.stringify(this.#config),
        getKey: (key) => (key in this.#config ? JSON.stringify(this.#config[key]) : undefined),
      },
      kv: {
        get: (key) => (check(key), space().has(key) ? Uint8Array.from(space().get(key)) : undefined),
        set: (key, value) => {
          check(key);
          // The component would refuse anything but bytes when lowering the call.
          if (!(value instanceof Uint8Array)) throw new TypeError('kv.set takes a Uint8Array');
          write(key, Uint8Array.from(value));
        },
        delete: (key) => (check(key), space().delete(key)),
        increment: (key, delta) => {
          check(key);
          const old = space().get(key);
          const text = old === undefined ? '0' : new TextDecoder().decode(old);
          if (!/^[+-]?\d+$/.test(text)) throw new HostError({ tag: 'not-an-integer', val: `'${text}'` });
          const next = BigInt(text) + delta;
          if (next > 2n ** 63n - 1n || next < -(2n ** 63n)) {
            throw new HostError({ tag: 'not-an-integer', val: 'the result overflows' });
          }
          write(key, new TextEncoder().encode(next.toString()));
          return next;
        },
      },
    };
  }
}

/**
 * A message to hand a plugin: `incoming('message-created', record, { guildId, userId })`. The
 * envelope's type name is the case's wire name (or a custom message's own type name).
 */
export function incoming(tag, val, { guildId, userId, id = 'test-message', timestamp = 1_796_000_000_000, source = 'api' } = {}) {
  const typeName = tag === 'custom' ? val.typeName : Object.hasOwn(WIRE_NAMES, tag) ? WIRE_NAMES[tag] : undefined;
  if (typeName === undefined) throw new TypeError(`unknown message case '${tag}'`);
  return {
    envelope: { id, typeName, timestamp: BigInt(timestamp), source, guildId, userId },
    message: { tag, val },
  };
}

/** A `message-created` record with `content`, its other fields filled in (override them in `fields`). */
export function messageCreated(content, fields = {}) {
  return {
    messageId: '300000000000000003',
    channelId: '200000000000000002',
    authorId: '100000000000000001',
    content,
    mentions: { users: [], roles: [], everyone: false },
    attachmentCount: 0,
    timestamp: 1_796_000_000_000n,
    ...fields,
  };
}
