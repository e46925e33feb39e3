"""Ephemeral frames (typing, read, presence, notifications, session ends) to this node's sockets.

Layer: realtime. They are never stored and never ordered with the event stream: the hub hands
each signal, local or from the broker, to `deliver`, which pushes it to the sockets it concerns.
"""

from __future__ import annotations

from . import frames
from .broker import ChatSignal, EndSessions, PresenceSignal, Signal, UsersSignal
from .peer import CLOSE_SESSION_ENDED, Peer, UserState


def deliver(
    signal: Signal, chat_users: dict[int, set[UserState]], users: dict[int, UserState], sessions: dict[int, set[Peer]]
) -> None:
    match signal:
        case ChatSignal():
            deliver_chat(signal, chat_users.get(signal.chat_id), None)
        case PresenceSignal(user_id=user_id, online=online, chat_ids=chat_ids):
            recipients: set[UserState] = set()
            for chat_id in chat_ids:
                members = chat_users.get(chat_id)
                if members:
                    recipients.update(members)
            own = users.get(user_id)
            if own is not None:
                recipients.discard(own)
            if recipients:
                text, binary = frames.wire_pair(frames.encode(frames.Presence(user_id, online)))
                for state in recipients:
                    for peer in state.peers:
                        peer.push(binary if peer.binary else text, True)
        case UsersSignal(user_ids=user_ids, text=text, binary=binary):
            tframe = frames.wire_text(text.encode())
            bframe = frames.wire_binary(binary)
            for uid in user_ids:
                target = users.get(uid)
                if target is not None:
                    for peer in target.peers:
                        peer.push(bframe if peer.binary else tframe)
        case EndSessions(session_ids=session_ids):
            for sid in session_ids:
                for peer in list(sessions.get(sid, ())):
                    peer.close(CLOSE_SESSION_ENDED, "session ended")


def deliver_chat(signal: ChatSignal, members: set[UserState] | None, origin: object) -> None:
    """A chat signal to the chat's members here (`origin`, the sending socket, excepted)."""
    if not members:
        return
    # Each wire form is built once per signal, and only if some recipient needs it.
    tframe: bytes | None = None
    bframe: bytes | None = None
    droppable = signal.droppable
    for state in members:
        if state.user_id == signal.exclude_user:
            continue
        for peer in state.peers:
            if peer is origin:
                continue
            if peer.binary:
                if bframe is None:
                    bframe = frames.wire_binary(signal.binary)
                peer.push(bframe, droppable)
            else:
                if tframe is None:
                    tframe = frames.wire_text(signal.text.encode())
                peer.push(tframe, droppable)
