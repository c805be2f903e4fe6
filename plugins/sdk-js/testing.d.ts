// Unit tests for a plugin in Node, without the host.

import type { Incoming, MessageOf, MessageTag, Output, Plugin } from './index.js';
import type { MessageCreated, Source } from './types.js';

/** A log line a plugin wrote. */
export interface LogLine {
  level: 'trace' | 'debug' | 'info' | 'warn' | 'error';
  message: string;
}

/** A test double of the host: an in-memory key-value store, a clock and a configuration. */
export class TestHost {
  logs: LogLine[];
  withConfig(config: Record<string, unknown>): this;
  withNow(millis: number): this;
  withKvQuota(keys: number, bytes: number): this;
  advance(millis: number): void;
  /** Runs the plugin on one message: its outputs, or throws the `PluginError` it failed with. */
  handle(plugin: Plugin, incoming: Incoming): Output[];
  takeLogs(): LogLine[];
  kvValue(guildId: string | undefined, key: string): Uint8Array | undefined;
  kvString(guildId: string | undefined, key: string): string | undefined;
}

/** A message to hand a plugin, with its envelope. */
export function incoming<T extends MessageTag>(
  tag: T,
  val: MessageOf<T>,
  options?: { guildId?: string; userId?: string; id?: string; timestamp?: number; source?: Source },
): Incoming;

/** A `message-created` record with `content`, its other fields filled in. */
export function messageCreated(content: string, fields?: Partial<MessageCreated>): MessageCreated;
