"""The plugin's logic, tested in Python without the host: `python3 -m unittest test_app`."""

import unittest

from guildhost_testing import TestHost, message_created
from wit_world.imports import types

import app


class PluginTest(unittest.TestCase):
    def host(self):
        return TestHost(config={"trigger": "!ping", "reply": "pong"})

    def test_the_trigger_is_answered_in_its_channel(self):
        host = self.host()
        outputs = host.handle(app.WitWorld(), message_created("!ping", channel_id="2", author_id="1"))
        self.assertEqual(len(outputs), 1)
        sent = outputs[0].value.message
        self.assertIsInstance(sent, types.Message_SendMessage)
        self.assertEqual(sent.value.channel_id, "2")
        self.assertEqual(sent.value.content, "pong")
        self.assertEqual(host.kv_value("asked:1"), b"1")

    def test_other_messages_are_left_alone(self):
        self.assertEqual(self.host().handle(app.WitWorld(), message_created("hello")), [])


if __name__ == "__main__":
    unittest.main()
