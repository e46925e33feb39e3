"""Property tests of the WebSocket frame decoder (in-process) and of the socket loop (a real
server, bounded examples): whatever arrives, the decoder returns a frame or raises one of
`frames.DECODE_ERRORS` (which the socket answers with `bad_frame`), never anything else; the
socket stays open and other sockets do not notice.
"""

from __future__ import annotations

import asyncio
import tempfile
import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from messenger.realtime import frames

from ..factories import make_user
from ..rig import Mailbox, Server, base_env, running_server
from ..wsclient import WsClient, clients, make_chat, private_database

INT64 = (-(2**63), 2**63 - 1)
FIELDS = ["type", "chat_id", "client_msg_id", "text", "reply_to_id", "attachment_ids", "seq", "cursor", "token", "ref"]
TYPES = ["auth", "send_message", "typing", "read", "resume", "ping", "PING", "", "pong", "ack"]

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),  # unbounded on purpose: JSON integers have no width
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(),
    st.binary(max_size=32),
)
json_scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text())
values = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4)
)
frame_like = st.dictionaries(
    st.sampled_from(FIELDS) | st.text(max_size=8),
    values,
    max_size=6,
).map(lambda d: d if "type" in d else d | {"type": "send_message"})
typed_frames = st.builds(
    lambda t, d: d | {"type": t},
    st.sampled_from(TYPES),
    st.dictionaries(st.sampled_from(FIELDS), st.recursive(json_scalars, lambda i: st.lists(i, max_size=3)), max_size=6),
)


def _check(frame: Any) -> None:
    """A decoded frame is one of the contract's, and every integer in it fits PostgreSQL's bigint."""
    assert isinstance(frame, frames.CLIENT_FRAMES)
    for name in frame.__struct_fields__:
        value = getattr(frame, name)
        for v in value if isinstance(value, list) else [value]:
            if isinstance(v, int) and not isinstance(v, bool) and name != "ref":
                assert INT64[0] <= v <= INT64[1], (name, v)


def _decode_json(data: str | bytes) -> None:
    try:
        frame = frames.json_decoder.decode(data)
    except frames.DECODE_ERRORS:
        return
    _check(frame)


def _decode_msgpack(data: bytes) -> None:
    try:
        frame = frames.msgpack_decoder.decode(data)
    except frames.DECODE_ERRORS:
        return
    _check(frame)


def _msgpack(obj: Any) -> bytes | None:
    try:
        return msgspec.msgpack.encode(obj)
    except OverflowError:
        return None  # wider than MessagePack's 64-bit integers: not encodable at all


@given(st.binary(max_size=512))
def test_arbitrary_bytes_decode_or_raise_a_decode_error(data: bytes) -> None:
    _decode_msgpack(data)
    _decode_json(data)
    frames.decode_any(data)


@given(st.text(max_size=512))
def test_arbitrary_text_decodes_or_raises_a_decode_error(text: str) -> None:
    _decode_json(text)
    frames.decode_any(text)


@given(st.one_of(frame_like, typed_frames), st.data())
def test_truncated_frames_decode_or_raise_a_decode_error(frame: dict[str, Any], data: st.DataObject) -> None:
    for encoded in (_msgpack(frame), msgspec.json.encode(_jsonable(frame))):
        if encoded is None:
            continue
        cut = data.draw(st.integers(0, len(encoded)))
        _decode_msgpack(encoded[:cut])
        _decode_json(encoded[:cut])
        frames.decode_any(encoded[:cut])


@given(st.one_of(frame_like, typed_frames))
def test_wrong_types_and_unknown_fields_decode_or_raise_a_decode_error(frame: dict[str, Any]) -> None:
    packed = _msgpack(frame)
    if packed is not None:
        _decode_msgpack(packed)
    _decode_json(msgspec.json.encode(_jsonable(frame)))


@given(
    st.sampled_from(["chat_id", "reply_to_id", "seq", "cursor"]),
    st.integers(min_value=2**63) | st.integers(max_value=-(2**63) - 1),
)
def test_integers_wider_than_bigint_are_bad_frames(field: str, value: int) -> None:
    base: dict[str, Any] = {"type": "send_message", "chat_id": 1, "client_msg_id": "c", "text": "t"}
    if field == "seq":
        base = {"type": "read", "chat_id": 1, "seq": 0}
    if field == "cursor":
        base = {"type": "resume", "cursor": "0"}
    raw = msgspec.json.encode(base | {field: value})
    with pytest.raises(msgspec.ValidationError):
        frames.json_decoder.decode(raw)


@given(st.integers(1, 200_000), st.sampled_from(["[", '{"a":']))
def test_deep_nesting_is_a_decode_error_not_a_crash(depth: int, opener: str) -> None:
    closer = "]" if opener == "[" else "}"
    text = '{"type":"ping","x":' + opener * depth + "1" * (opener == '{"a":') + closer * depth + "}"
    _decode_json(text)
    frames.decode_any(text)
    _decode_msgpack(b"\x82\xa4type\xa4ping\xa1x" + b"\x91" * depth + b"\xc0")
    frames.decode_any(b"\x91" * depth + b"\xc0")


@given(st.text(), st.sampled_from(["\ud800", "\udfff", "\ud83d", "\x00", "\u202e", "\ufeff", "\uffff"]))
def test_unicode_edge_cases_round_trip_or_are_bad_frames(text: str, odd: str) -> None:
    value = text + odd
    escaped = msgspec.json.encode({"type": "send_message", "chat_id": 1, "client_msg_id": "c"})[:-1]
    # ensure_ascii-style escapes carry lone surrogates, which UTF-8 cannot
    raw = escaped + b',"text":' + _ascii_json(value).encode() + b"}"
    _decode_json(raw)
    packed = msgspec.msgpack.encode({"type": "send_message", "chat_id": 1, "client_msg_id": "c", "text": "x"})
    _decode_msgpack(packed.replace(b"\xa1x", b"\xa4" + b"\xff\xfe\xed\xa0"))  # invalid UTF-8 in a str
    try:
        frame = frames.json_decoder.decode(raw)
    except frames.DECODE_ERRORS:
        return
    assert isinstance(frame, frames.SendMessage) and frame.text == value


def _ascii_json(s: str) -> str:
    import json

    return json.dumps(s, ensure_ascii=True)


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, bytes):
        return obj.hex()
    if isinstance(obj, float) and obj != obj:
        return None
    if isinstance(obj, float) and obj in (float("inf"), float("-inf")):
        return 1e308
    if isinstance(obj, list):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, dict):
        return {k: _jsonable(v) for k, v in obj.items()}
    return obj


# -- the socket loop, through a real server ---------------------------------------------------


def _text_payloads() -> st.SearchStrategy[str]:
    as_json = st.one_of(frame_like, typed_frames).map(lambda f: msgspec.json.encode(_jsonable(f)).decode())
    return st.one_of(
        st.text(max_size=256),
        as_json,
        st.tuples(as_json, st.integers(0, 64)).map(lambda t: t[0][: t[1]]),
        st.integers(1, 20_000).map(lambda d: '{"type":"ping","x":' + "[" * d + "]" * d + "}"),
        st.sampled_from(
            ['{"type":"typing","chat_id":99999999999999999999999}', '{"type":"read","chat_id":1,"seq":-1}']
        ),
    )


def _binary_payloads() -> st.SearchStrategy[bytes]:
    packed = st.one_of(frame_like, typed_frames).map(_msgpack).filter(lambda b: b is not None and len(b) < 60_000)
    return st.one_of(
        st.binary(max_size=256),
        packed.map(lambda b: b or b""),
        st.tuples(packed, st.integers(0, 64)).map(lambda t: (t[0] or b"")[: t[1]]),
        st.integers(1, 30_000).map(lambda d: b"\x82\xa4type\xa4ping\xa1x" + b"\x91" * d + b"\xc0"),
        st.just(b"\x82\xa4type\xa4ping\xa3ref\xa2\xff\xfe"),
    )


@pytest.fixture(scope="module")
async def rt() -> AsyncIterator[tuple[str, asyncpg.Pool]]:
    """The socket tests' own database (a long-running node must not see the event stream rewound)."""
    async with private_database() as database_and_pool:
        yield database_and_pool


@pytest.fixture(scope="module")
async def fuzz_node(rt: tuple[str, asyncpg.Pool], smtp: tuple[Mailbox, str]) -> AsyncIterator[Server]:
    env = base_env(
        DATABASE_URL=rt[0],
        SMTP_URL=smtp[1],
        MESSENGER_DATA_DIR=tempfile.mkdtemp(prefix="messenger-fuzz-"),
        WS_FRAME_RATE="5000",
        WS_FRAME_BURST="5000",
    )
    async with running_server(env) as srv:
        yield srv


async def _abuse(node: Server, token: str, msgpack: bool, payloads: list[str | bytes]) -> None:
    """Send the payloads, then a ping: every reply before the pong is an answer, never a close."""
    ws = await WsClient.open(node.ws_url, token, msgpack=msgpack)
    async with clients(ws):
        for payload in payloads:
            await ws.send_raw(payload)
        ref = f"alive-{uuid.uuid4().hex}"
        await ws.send({"type": "ping", "ref": ref})
        while (frame := await ws.recv()) != {"type": "pong", "ref": ref}:
            assert frame["type"] in ("error", "pong", "ack", "heartbeat", "presence", "read", "typing"), frame
            if frame["type"] == "error":
                assert frame["code"] != "internal_error", frame


@pytest.mark.timeout(300)
async def test_socket_answers_any_frame_and_stays_open_without_disturbing_others(
    fuzz_node: Server, rt: tuple[str, asyncpg.Pool]
) -> None:
    db = rt[1]
    fuzzer, bystander = await make_user(db), await make_user(db)
    async with httpx.AsyncClient(base_url=fuzz_node.url, timeout=30) as http:
        chat_id = await make_chat(http, fuzzer, [bystander])
    watcher = await WsClient.open(fuzz_node.ws_url, bystander.token)
    rounds = 0

    @settings(
        max_examples=40,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large],
    )
    @given(st.booleans(), st.lists(st.one_of(_text_payloads(), _binary_payloads()), min_size=1, max_size=6))
    def one_socket(msgpack: bool, payloads: list[str | bytes]) -> None:
        # Hypothesis drives sync functions: each example runs its own loop in this worker thread.
        nonlocal rounds
        rounds += 1
        asyncio.run(_abuse(fuzz_node, fuzzer.token, msgpack, payloads))

    await asyncio.to_thread(one_socket)
    assert rounds >= 10
    # The bystander's socket saw nothing of it, and still works: a real message arrives once.
    async with clients(watcher):
        sender = await WsClient.open(fuzz_node.ws_url, fuzzer.token)
        async with clients(sender):
            await sender.send({"type": "send_message", "chat_id": chat_id, "client_msg_id": "after-fuzz", "text": "ok"})
            ack = await sender.expect("ack")
        got = await watcher.persisted(1)
        assert got[0]["message"]["id"] == ack["message"]["id"]
        assert [f for f in await watcher.quiet({"receive_message", "error"}, 0.3)] == []
    assert "Traceback" not in fuzz_node.log(), fuzz_node.log()[-3000:]
