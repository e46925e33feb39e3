"""The README's curl walkthrough, extracted from README.md and run as written (twice: a second
user must work too) against a real server whose mails go to data/outbox/."""

from __future__ import annotations

import asyncio
import json
import re
import tempfile
from pathlib import Path

from .rig import base_env, running_server

README = Path(__file__).resolve().parent.parent / "README.md"


def walkthrough() -> str:
    text = README.read_text()
    found = re.search(r"<!-- walkthrough -->\n```sh\n(.*?)\n```", text, re.DOTALL)
    assert found is not None, "README.md has no <!-- walkthrough --> block"
    return found.group(1)


async def run_block(block: str, cwd: Path, **env: str) -> str:
    proc = await asyncio.create_subprocess_exec(
        # Plain bash, as in a terminal the block is pasted into (no -e: a grep finding nothing
        # yet is part of the waiting loop); the replies are checked instead.
        "bash",
        "-c",
        block,
        cwd=cwd,
        env={"PATH": "/usr/local/bin:/usr/bin:/bin", **env},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, err.decode()
    return out.decode()


async def test_the_curl_walkthrough_runs_as_written_for_two_users(database: str) -> None:
    here = Path(tempfile.mkdtemp(prefix="messenger-readme-"))
    env = base_env(DATABASE_URL=database, MESSENGER_DATA_DIR=str(here / "data"))
    block = walkthrough()
    async with running_server(env) as server:
        address = server.url.removeprefix("http://")
        for user in ("ada", "bob"):
            out = await run_block(block, here, B=address, U=user)
            replies = [json.loads(line) for line in out.splitlines() if line.strip()]
            registered, verified, me, chat = replies
            assert registered["user"]["username"] == user
            assert verified["user"]["username"] == user
            assert me["user"]["username"] == user
            assert chat["chat"]["title"] == f"{user}s room"
