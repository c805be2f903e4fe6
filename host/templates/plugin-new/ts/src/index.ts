// {{name}}: answers a trigger word in the channel it was written in, and counts how often each
// member asked.

import { definePlugin, execute } from 'guildhost-plugin';

/** The manifest's [config], overridden per guild by UPDATE_CONFIG. */
interface Settings {
  trigger: string;
  reply: string;
}

export default definePlugin((ctx, { message }) => {
  if (message.tag !== 'message-created') return [];
  const created = message.val;
  const { trigger, reply } = ctx.config<Settings>();
  if (created.content.trim() !== trigger) return [];
  const asked = ctx.kv.increment(`asked:${created.authorId}`);
  ctx.info(`${created.authorId} asked ${asked} times`);
  return [execute('send-message', { channelId: created.channelId, content: reply })];
});
