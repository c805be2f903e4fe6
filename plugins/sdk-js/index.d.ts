// The SDK's helpers, typed. The WIT's own types (every message, the envelope, outputs) are in
// types.d.ts, generated from wit/.

import type { Envelope, Message, Output, WireNames } from './types.js';

export * from './types.js';

/** A message case's name: `'send-message'`, `'message-created'`, …, `'custom'`. */
export type MessageTag = Message['tag'];

/** The record a message case carries. */
export type MessageOf<T extends MessageTag> = Extract<Message, { tag: T }> extends { val: infer V } ? V : never;

/** The message a handler receives: its envelope (queue metadata) and its payload. */
export interface Incoming {
  envelope: Envelope;
  message: Message;
}

/** Where an output goes: `guildId` targets another guild than the message's (if allowed). */
export interface OutputOptions {
  guildId?: string;
}

/** A plugin: what `definePlugin` returns; export it as the module's default export. */
export interface Plugin {
  handle(ctx: Context, incoming: Incoming): Output[];
}

/** Declares a plugin from its handler. */
export function definePlugin(handle: (ctx: Context, incoming: Incoming) => Output[]): Plugin;

/** A handler's failure; `retryable` says whether the same message may succeed later. */
export class PluginError extends Error {
  constructor(message: string, options?: { retryable?: boolean });
  readonly retryable: boolean;
  static retryable(message: string): PluginError;
}

/** A key-value store operation failed; `kind` is the WIT `kv-error` case. */
export class KvError extends PluginError {
  readonly kind: 'invalid-key' | 'quota-exceeded' | 'not-an-integer' | 'unavailable';
}

/** The wire name of each message case. */
export const WIRE_NAMES: Readonly<WireNames>;

/** A message from its case and record. */
export function message<T extends MessageTag>(tag: T, val: MessageOf<T>): Message;
/** A custom message: any type name, with JSON data (an object is serialized). */
export function custom(typeName: string, data: unknown): Message;
/** An output: execute this command now. */
export function execute<T extends MessageTag>(tag: T, val: MessageOf<T>, options?: OutputOptions): Output;
/** An output: publish this event for the API. */
export function publish<T extends MessageTag>(tag: T, val: MessageOf<T>, options?: OutputOptions): Output;
/** An output: execute this command after `delayMs` milliseconds. */
export function executeAfter<T extends MessageTag>(
  delayMs: number,
  tag: T,
  val: MessageOf<T>,
  options?: OutputOptions,
): Output;

/** The plugin's key-value store, private to it and to the message's guild. */
export class Kv {
  get(key: string): Uint8Array | undefined;
  set(key: string, value: Uint8Array): void;
  delete(key: string): boolean;
  increment(key: string, delta?: number): number;
  getString(key: string): string | undefined;
  setString(key: string, value: string): void;
  getJson<T = unknown>(key: string): T | undefined;
  setJson(key: string, value: unknown): void;
}

/** A log level. */
export type Level = 'trace' | 'debug' | 'info' | 'warn' | 'error';

/** What a handler may use: the log, the key-value store, the clock and its configuration. */
export class Context {
  readonly kv: Kv;
  log(level: Level, text: string): void;
  trace(text: string): void;
  debug(text: string): void;
  info(text: string): void;
  warn(text: string): void;
  error(text: string): void;
  /** Milliseconds since the Unix epoch. */
  now(): number;
  /** The configuration for this guild: the manifest's defaults under the guild's own. */
  config<T = Record<string, unknown>>(): T;
  /** One top-level key of the configuration, or `undefined`. */
  configValue<T = unknown>(key: string): T | undefined;
}
