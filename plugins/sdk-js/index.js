// guildhost-plugin: write guildhost plugins in JavaScript or TypeScript. The types of every
// message are in `types.d.ts` (generated from the WIT); this module holds the helpers.

import { WIRE_NAMES } from './wire-names.js';

export { WIRE_NAMES };

/**
 * Declares a plugin: `handle(ctx, incoming)` returns the outputs for one message (an array,
 * possibly empty) or throws. Export it as the module's default export.
 */
export function definePlugin(handle) {
  if (typeof handle !== 'function') throw new TypeError('definePlugin takes the handler function');
  return { handle };
}

/** A handler's failure: `retryable` says whether the same message may succeed later. */
export class PluginError extends Error {
  constructor(message, { retryable = false } = {}) {
    super(message);
    this.name = 'PluginError';
    this.retryable = retryable;
  }

  /** A failure worth retrying later (a dependency was down, say). */
  static retryable(message) {
    return new PluginError(message, { retryable: true });
  }
}

/** A key-value store operation failed; `kind` is the WIT `kv-error` case. */
export class KvError extends PluginError {
  constructor(kind, detail) {
    super(`kv ${kind}: ${detail}`, { retryable: kind === 'unavailable' });
    this.name = 'KvError';
    this.kind = kind;
  }
}

/** A message built from its case and record: `message('delete-message', {...})`. */
export function message(tag, val) {
  if (!Object.hasOwn(WIRE_NAMES, tag) && tag !== 'custom') {
    throw new TypeError(`unknown message case '${tag}' (see WIRE_NAMES)`);
  }
  return { tag, val };
}

/** A custom message: any type name, with JSON data (an object is serialized). */
export function custom(typeName, data) {
  if (data === undefined) throw new TypeError(`custom('${typeName}', data): data is undefined`);
  return { tag: 'custom', val: { typeName, data: typeof data === 'string' ? data : JSON.stringify(data) } };
}

function emission(msg, options) {
  return { message: msg, guildId: options?.guildId };
}

/** An output: execute this command now. `options.guildId` targets another guild (if allowed). */
export function execute(tag, val, options) {
  return { tag: 'execute', val: emission(message(tag, val), options) };
}

/** An output: publish this event for the API. */
export function publish(tag, val, options) {
  return { tag: 'publish', val: emission(message(tag, val), options) };
}

/** An output: execute this command after `delayMs` milliseconds. */
export function executeAfter(delayMs, tag, val, options) {
  if (!Number.isSafeInteger(delayMs) || delayMs < 0) {
    throw new TypeError(`executeAfter: delayMs must be a non-negative integer, got ${delayMs}`);
  }
  return {
    tag: 'execute-after',
    val: { ...emission(message(tag, val), options), delayMs: BigInt(delayMs) },
  };
}

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

function hostCall(call) {
  try {
    return call();
  } catch (error) {
    const payload = error?.payload;
    if (payload && typeof payload.tag === 'string') throw new KvError(payload.tag, payload.val);
    throw error;
  }
}

/** The plugin's key-value store, private to it and to the message's guild. */
export class Kv {
  #kv;

  constructor(kv) {
    this.#kv = kv;
  }

  /** The bytes under `key`, or `undefined`. */
  get(key) {
    return hostCall(() => this.#kv.get(key)) ?? undefined;
  }

  /** Stores bytes (a `Uint8Array`) under `key`. */
  set(key, value) {
    if (!(value instanceof Uint8Array)) {
      throw new TypeError('kv.set takes a Uint8Array (setString and setJson take text and values)');
    }
    hostCall(() => this.#kv.set(key, value));
  }

  /** Removes `key`; whether it existed. */
  delete(key) {
    return hostCall(() => this.#kv.delete(key));
  }

  /**
   * Adds `delta` (default 1, an integer) to the integer under `key` and returns the new value
   * (a `KvError` `not-an-integer` past JavaScript's safe integers, 2^53).
   */
  increment(key, delta = 1) {
    if (!Number.isSafeInteger(delta) && typeof delta !== 'bigint') {
      throw new TypeError(`kv.increment: delta must be an integer, got ${delta}`);
    }
    const value = hostCall(() => this.#kv.increment(key, BigInt(delta)));
    const number = Number(value);
    if (!Number.isSafeInteger(number)) {
      throw new KvError('not-an-integer', `${value} is past JavaScript's safe integers`);
    }
    return number;
  }

  /** The UTF-8 text under `key`, or `undefined`. */
  getString(key) {
    const bytes = this.get(key);
    return bytes === undefined ? undefined : decoder.decode(bytes);
  }

  /** Stores text under `key`. */
  setString(key, value) {
    this.set(key, encoder.encode(value));
  }

  /** The JSON value under `key`, or `undefined`. */
  getJson(key) {
    const text = this.getString(key);
    return text === undefined ? undefined : JSON.parse(text);
  }

  /** Stores a value as JSON under `key`. */
  setJson(key, value) {
    this.setString(key, JSON.stringify(value));
  }
}

const LEVELS = ['trace', 'debug', 'info', 'warn', 'error'];

/** What a handler may use: the log, the key-value store, the clock and its configuration. */
export class Context {
  #host;

  constructor(host) {
    this.#host = host;
    /** The plugin's key-value store for this message's guild. */
    this.kv = new Kv(host.kv);
  }

  /** Writes one log line at `level` (`trace`, `debug`, `info`, `warn`, `error`). */
  log(level, text) {
    if (!LEVELS.includes(level)) throw new TypeError(`log level '${level}' is not one of ${LEVELS.join(', ')}`);
    this.#host.logging.log(level, String(text));
  }

  trace(text) { this.log('trace', text); }
  debug(text) { this.log('debug', text); }
  info(text) { this.log('info', text); }
  warn(text) { this.log('warn', text); }
  error(text) { this.log('error', text); }

  /** Milliseconds since the Unix epoch, from the host's clock (a number; the WIT's timestamps,
   * e.g. `envelope.timestamp`, are bigints: `BigInt(ctx.now())` to compare). */
  now() {
    return Number(this.#host.clock.now());
  }

  /** The plugin's configuration for this guild: the manifest's defaults under the guild's own. */
  config() {
    return parseJson(this.#host.config.get(), 'the configuration');
  }

  /** One top-level key of the configuration, or `undefined`. */
  configValue(key) {
    const text = this.#host.config.getKey(key);
    return text === undefined || text === null ? undefined : parseJson(text, `config key '${key}'`);
  }
}

function parseJson(text, what) {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new PluginError(`${what} is not JSON: ${error.message}`);
  }
}
