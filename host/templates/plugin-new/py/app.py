"""{{name}}: answers a trigger word in the channel it was written in, and counts how often each
member asked."""

import json

import wit_world
from wit_world.imports import config, kv, logging, types


class WitWorld(wit_world.WitWorld):
    def handle(self, envelope: types.Envelope, message: types.Message) -> list[types.Output]:
        if not isinstance(message, types.Message_MessageCreated):
            return []
        created = message.value
        # The manifest's [config], overridden per guild by UPDATE_CONFIG.
        settings = json.loads(config.get())
        if created.content.strip() != settings["trigger"]:
            return []
        asked = kv.increment(f"asked:{created.author_id}", 1)
        logging.log(logging.Level.INFO, f"{created.author_id} asked {asked} times")
        reply = types.SendMessage(
            channel_id=created.channel_id,
            content=settings["reply"],
            embeds=None,
            components=None,
            files=None,
            reply=None,
        )
        return [types.Output_Execute(types.Emission(message=types.Message_SendMessage(reply), guild_id=None))]
