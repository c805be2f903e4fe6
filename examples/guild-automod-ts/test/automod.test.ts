// The rules, tested in Node without the host: `npm test`.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TestHost, incoming, messageCreated } from 'guildhost-plugin/testing';
import plugin from '../src/index.js';

const message = (content: string) =>
  incoming('message-created', messageCreated(content, { authorId: '1', channelId: '2', messageId: '3' }), {
    guildId: '123456789012345678',
  });

const host = () => new TestHost().withConfig({ blockedHosts: ['bit.ly'], strikesBeforeWarning: 2 });

test('a blocked link is deleted and reported', () => {
  const outputs = host().handle(plugin, message('see https://BIT.ly/x'));
  assert.equal(outputs.length, 2);
  assert.equal(outputs[0].tag, 'execute');
  assert.equal(outputs[0].val.message.tag, 'delete-message');
  assert.equal(outputs[1].val.message.tag, 'automod-triggered');
});

test('every second strike warns', () => {
  const testHost = host();
  testHost.handle(plugin, message('bit.ly/1'));
  const outputs = testHost.handle(plugin, message('bit.ly/2'));
  assert.equal(outputs[2].val.message.tag, 'warn-user');
  assert.equal(testHost.kvString('123456789012345678', 'strikes:1'), '2');
});

test('other links pass', () => {
  assert.deepEqual(host().handle(plugin, message('https://example.com/')), []);
});
