// A guild's own automod rule: links to blocked hosts are deleted, and every third strike of a
// member becomes a warning for the moderation plugin to escalate.

import { definePlugin, execute, publish, type Output } from 'guildhost-plugin';

/** The plugin's configuration: manifest defaults, overridden per guild by `UPDATE_CONFIG`. */
interface Rules {
  blockedHosts: string[];
  strikesBeforeWarning: number;
}

export default definePlugin((ctx, { envelope, message }) => {
  if (message.tag !== 'message-created') return [];
  const created = message.val;
  const rules = ctx.config<Rules>();
  const content = created.content.toLowerCase();
  const host = rules.blockedHosts.find((blocked) => content.includes(`${blocked.toLowerCase()}/`));
  if (host === undefined) return [];

  const strikes = ctx.kv.increment(`strikes:${created.authorId}`);
  ctx.info(`link to ${host} by ${created.authorId} (strike ${strikes})`);

  const outputs: Output[] = [
    execute('delete-message', {
      channelId: created.channelId,
      messageId: created.messageId,
      reason: `link to ${host}`,
    }),
    publish('automod-triggered', {
      rule: 'blocked-link',
      userId: created.authorId,
      channelId: created.channelId,
      messageId: created.messageId,
      action: 'delete',
      severity: 'medium',
    }),
  ];
  if (rules.strikesBeforeWarning > 0 && strikes % rules.strikesBeforeWarning === 0) {
    // Executed requests of this kind go to the moderation plugin, which escalates.
    outputs.push(
      execute('warn-user', {
        userId: created.authorId,
        reason: `${strikes} links to blocked hosts`,
        moderatorId: envelope.userId ?? created.authorId,
      }),
    );
  }
  return outputs;
});
