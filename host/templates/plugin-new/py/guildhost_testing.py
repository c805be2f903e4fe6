"""A test double of the guildhost host for a Python plugin's unit tests, without the host: an
in-memory key-value store, a clock, a configuration and a log, put in place of the WIT imports
that componentize-py's bindings (`wit_world`, written by `componentize-py bindings .`) leave
unimplemented outside a component."""

import json

from componentize_py_types import Err
from wit_world.imports import clock, config, kv, logging, types


class TestHost:
    def __init__(self, config=None, now=1_796_000_000_000, guild_id="123456789012345678"):
        self.config = config or {}
        self.now = now
        self.guild_id = guild_id
        self.store = {}
        self.logs = []

    def handle(self, plugin, incoming):
        envelope, message = incoming
        envelope.guild_id = envelope.guild_id or self.guild_id
        self._install()
        return plugin.handle(envelope, message)

    def kv_value(self, key):
        return self.store.get(key)

    def _install(self):
        store = self.store
        logging.log = lambda level, text: self.logs.append((level, text))
        clock.now = lambda: self.now
        config.get = lambda: json.dumps(self.config)
        config.get_key = lambda key: json.dumps(self.config[key]) if key in self.config else None
        kv.get = lambda key: store.get(key)
        kv.delete = lambda key: store.pop(key, None) is not None

        def set_value(key, value):
            store[key] = bytes(value)

        def increment(key, delta):
            text = store.get(key, b"0").decode()
            try:
                value = int(text) + delta
            except ValueError:
                raise Err(kv.KvError_NotAnInteger(repr(text)))
            store[key] = str(value).encode()
            return value

        kv.set = set_value
        kv.increment = increment


def message_created(content, channel_id="200000000000000002", author_id="100000000000000001"):
    """A MESSAGE_CREATED with `content`, its envelope and its record, the other fields filled in."""
    envelope = types.Envelope(
        id="test-message",
        type_name="MESSAGE_CREATED",
        timestamp=1_796_000_000_000,
        source=types.Source.API,
        guild_id=None,
        user_id=None,
        request_id=None,
        priority=None,
    )
    created = types.MessageCreated(
        message_id="300000000000000003",
        channel_id=channel_id,
        author_id=author_id,
        content=content,
        mentions=types.Mentions(users=[], roles=[], everyone=False),
        attachment_count=0,
        timestamp=1_796_000_000_000,
        author_roles=None,
        is_bot=None,
        is_webhook=None,
        author_created_at=None,
        member_joined_at=None,
        embed_count=None,
        sticker_count=None,
        referenced_message_id=None,
    )
    return envelope, types.Message_MessageCreated(created)
