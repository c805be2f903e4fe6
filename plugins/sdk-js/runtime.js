// The bridge between the component's WIT imports/export and the SDK's `Context`. The entry that
// `guildhost-plugin build` generates binds the real imports here; `TestHost` binds in-memory ones.

import { Context, PluginError } from './index.js';

let bound = null;

/**
 * Binds the host functions a `Context` calls: `{ logging, kv, clock, config }`, shaped like the
 * WIT interfaces of the same names (componentize-js's import modules, or `TestHost`'s fakes).
 * It also routes `console.*` to the plugin's log, since a plugin has no stdout, and replaces
 * `fetch`. Returns a function that puts back what it replaced (`TestHost` calls it, so a test
 * file's own `console` and `fetch` are untouched between calls).
 */
export function bindHost(host) {
  const previous = { bound, console: globalThis.console, fetch: globalThis.fetch };
  bound = host;
  const write = (level) => (...parts) => host.logging.log(level, parts.map(show).join(' '));
  globalThis.console = {
    ...globalThis.console,
    log: write('info'),
    info: write('info'),
    debug: write('debug'),
    trace: write('trace'),
    warn: write('warn'),
    error: write('error'),
  };
  // The engine's `fetch` is compiled out (it would trap with a bare `unreachable`): say why.
  globalThis.fetch = () => {
    throw new PluginError(
      'fetch is not available to guildhost plugins: a plugin reaches nothing outside the host; ' +
        'ask for what you need with an output (e.g. a custom event the API acts on)',
    );
  };
  return () => {
    bound = previous.bound;
    globalThis.console = previous.console;
    globalThis.fetch = previous.fetch;
  };
}

function show(part) {
  if (typeof part === 'string') return part;
  if (part instanceof Error) return `${part.name}: ${part.message}`;
  try {
    return JSON.stringify(part, (_, value) => (typeof value === 'bigint' ? value.toString() : value));
  } catch {
    return String(part);
  }
}

/** The error componentize-js turns into the export's `err` value: an own `payload`. */
class ExportError extends Error {
  constructor(payload) {
    super(payload.message);
    this.payload = payload;
  }
}

/**
 * Runs `plugin` on one message: its outputs, or an `ExportError` carrying the WIT
 * `plugin-error` (a thrown `PluginError` keeps its `retryable`; anything else thrown is a
 * permanent failure whose message names what was thrown).
 */
export function run(plugin, envelope, message) {
  if (bound === null) throw new Error('guildhost-plugin: no host bound (bindHost was not called)');
  let outputs;
  try {
    outputs = plugin.handle(new Context(bound), { envelope, message });
  } catch (error) {
    throw new ExportError(asPluginError(error));
  }
  if (outputs === undefined || outputs === null) return [];
  if (!Array.isArray(outputs)) {
    throw new ExportError({
      message: `handle returned ${typeof outputs}, not an array of outputs`,
      retryable: false,
    });
  }
  return outputs;
}

/** The WIT `plugin-error` for anything a handler throws. */
export function asPluginError(error) {
  if (error instanceof PluginError) return { message: error.message, retryable: error.retryable };
  if (error instanceof Error) return { message: `${error.name}: ${error.message}`, retryable: false };
  return { message: `threw ${show(error)}`, retryable: false };
}
