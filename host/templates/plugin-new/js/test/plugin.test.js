// The plugin's logic, tested in Node without the host: `npm test`.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TestHost, incoming, messageCreated } from 'guildhost-plugin/testing';
import plugin from '../src/index.js';

const message = (content) =>
  incoming('message-created', messageCreated(content, { channelId: '2', authorId: '1' }), {
    guildId: '123456789012345678',
  });

const host = () => new TestHost().withConfig({ trigger: '!ping', reply: 'pong' });

test('the trigger is answered in its channel', () => {
  const testHost = host();
  const outputs = testHost.handle(plugin, message('!ping'));
  assert.equal(outputs.length, 1);
  assert.equal(outputs[0].val.message.tag, 'send-message');
  assert.equal(outputs[0].val.message.val.channelId, '2');
  assert.equal(outputs[0].val.message.val.content, 'pong');
  assert.equal(testHost.kvString('123456789012345678', 'asked:1'), '1');
});

test('other messages are left alone', () => {
  assert.deepEqual(host().handle(plugin, message('hello')), []);
});
