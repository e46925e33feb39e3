"""Server frames framed for the wire once (realtime/frames.py) read back as the same payloads."""

from __future__ import annotations

from websockets.frames import Frame, Opcode
from websockets.streams import StreamReader

from messenger.realtime import frames


def _parse(data: bytes, count: int) -> list[Frame]:
    """Parse with the websockets library, as a client would (server frames are unmasked)."""
    reader = StreamReader()
    reader.feed_data(data)
    reader.feed_eof()
    out: list[Frame] = []
    for _ in range(count):
        parser = Frame.parse(reader.read_exact, mask=False)
        try:
            while True:
                next(parser)
        except StopIteration as done:
            out.append(done.value)
    return out


def test_wire_frames_of_every_length_class_parse_as_websocket_frames_and_unwire_back() -> None:
    payloads = [b"", b"x" * 125, b"y" * 126, "é".encode() * 40000, b"z" * 70000]
    data = b"".join(frames.wire_binary(p) if i % 2 else frames.wire_text(p) for i, p in enumerate(payloads))
    parsed = _parse(data, len(payloads))
    assert [f.data for f in parsed] == payloads
    assert [f.opcode for f in parsed] == [Opcode.BINARY if i % 2 else Opcode.TEXT for i in range(len(payloads))]
    assert all(f.fin for f in parsed)
    assert frames.unwire(data) == [(i % 2 == 1, p) for i, p in enumerate(payloads)]


def test_a_struct_frame_is_wired_in_the_sockets_format() -> None:
    pong = frames.Pong(ref=7)
    assert frames.unwire(frames.wire(pong, False)) == [(False, b'{"type":"pong","ref":7}')]
    assert frames.unwire(frames.wire(pong, True)) == [(True, frames.encode_msgpack(pong))]
