"""The suite's shared server across tests: `_clean_database` empties the event stream after
every test, so positions start again at 1. A node must follow such a rewind at once (as it would
after restoring a backup) instead of ignoring positions it believes it delivered."""

from __future__ import annotations

import asyncpg
import httpx
import pytest

from .factories import make_user
from .rig import Server
from .wsclient import WsClient, make_chat, seqs


@pytest.mark.parametrize("round_", [1, 2])
async def test_delivery_works_again_after_the_stream_was_rewound(
    round_: int, server: Server, db: asyncpg.Pool, client: httpx.AsyncClient
) -> None:
    alice, bob = await make_user(db), await make_user(db)
    chat = await make_chat(client, alice, [bob])
    a = await WsClient.open(server.ws_url, alice.token)
    b = await WsClient.open(server.ws_url, bob.token)
    for i in range(30):
        await a.send({"type": "send_message", "chat_id": chat, "client_msg_id": f"{round_}-{i}", "text": f"{i}"})
    assert seqs(await b.persisted(30, kinds={"receive_message"})) == list(range(1, 31))
    await a.close()
    await b.close()
