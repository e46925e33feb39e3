"""Outgoing mail: rendering the account mails and two delivery backends.

Layer: infrastructure.

`SMTP_URL` set: `SmtpMailer` (aiosmtplib; `smtps://` is implicit TLS, `?starttls=1` requires
STARTTLS, `?starttls=0` forbids it, absent means STARTTLS when the server offers it). Unset: the
`OutboxMailer` logs each mail and writes it to `MESSENGER_DATA_DIR/outbox/<timestamp>-<id>.eml`,
so a developer on the embedded default can still click the verification link.

Mails are only ever sent from a job (`messenger.jobs`), never in a request.
"""

from __future__ import annotations

import asyncio
import html
import logging
import re
import time
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from typing import Protocol
from urllib.parse import parse_qs, unquote, urlsplit

import msgspec

from .settings import Settings

log = logging.getLogger("messenger.mail")


class Mail(msgspec.Struct, frozen=True):
    """A rendered mail. Picklable, so it travels as an arq job argument unchanged."""

    to: str
    subject: str
    text: str
    html: str
    sender: str
    message_id: str


class Mailer(Protocol):
    async def send(self, mail: Mail) -> None: ...


def to_message(mail: Mail) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = mail.sender
    msg["To"] = mail.to
    msg["Subject"] = mail.subject
    msg["Date"] = formatdate(usegmt=True)
    msg["Message-ID"] = mail.message_id
    # Plain ASCII parts go out as 7bit rather than quoted-printable, so the links in a mail
    # read as-is in an outbox .eml or a raw SMTP capture (QP would turn `token=` into `token=3D`).
    msg.set_content(mail.text, cte=_cte(mail.text))
    msg.add_alternative(mail.html, subtype="html", cte=_cte(mail.html))
    return msg


def _cte(text: str) -> str:
    if text.isascii() and all(len(line) <= 998 for line in text.splitlines()):
        return "7bit"
    return "quoted-printable"


class SmtpMailer:
    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self.implicit_tls = parts.scheme == "smtps"
        self.hostname = parts.hostname or "localhost"
        self.port = parts.port or (465 if self.implicit_tls else 25)
        self.username = unquote(parts.username) if parts.username else None
        self.password = unquote(parts.password) if parts.password else None
        flag = parse_qs(parts.query).get("starttls", [""])[-1].lower()
        self.start_tls: bool | None = None if flag == "" else flag in ("1", "true", "yes", "on")
        if self.implicit_tls:
            self.start_tls = False

    async def send(self, mail: Mail) -> None:
        import aiosmtplib

        await aiosmtplib.send(
            to_message(mail),
            hostname=self.hostname,
            port=self.port,
            username=self.username,
            password=self.password,
            use_tls=self.implicit_tls,
            start_tls=self.start_tls,
            timeout=30,
        )
        log.info("mail %r sent to %s", mail.subject, mail.to)


_SAFE = re.compile(r"[^A-Za-z0-9._-]")


class OutboxMailer:
    def __init__(self, directory: Path) -> None:
        self.directory = directory

    async def send(self, mail: Mail) -> None:
        path = await asyncio.to_thread(self._write, mail)
        log.info("mail %r to %s written to %s (SMTP_URL is not set)", mail.subject, mail.to, path)

    def _write(self, mail: Mail) -> Path:
        self.directory.mkdir(parents=True, exist_ok=True)
        stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
        ident = _SAFE.sub("", mail.message_id.split("@", 1)[0])[-24:] or "mail"
        path = self.directory / f"{stamp}-{ident}.eml"
        # Write then rename, so a reader never sees half a mail; the same message id (a retried
        # job) overwrites rather than duplicates.
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(bytes(to_message(mail)))
        tmp.replace(path)
        return path


def from_settings(settings: Settings) -> Mailer:
    if settings.smtp_url is not None:
        return SmtpMailer(settings.smtp_url)
    return OutboxMailer(settings.data_dir / "outbox")


# -- the account mails ---------------------------------------------------------------------


def _render(settings: Settings, to: str, subject: str, lines: list[str], link: str, action: str, key: str) -> Mail:
    text = "\n\n".join([*lines, link, "If you did not ask for this, ignore this mail."]) + "\n"
    paragraphs = "".join(f"<p>{html.escape(line)}</p>" for line in lines)
    body = (
        f"<!doctype html><html><body>{paragraphs}"
        f'<p><a href="{html.escape(link, quote=True)}">{html.escape(action)}</a></p>'
        f"<p>If the button does not work, open this link: {html.escape(link)}</p>"
        "<p>If you did not ask for this, ignore this mail.</p></body></html>"
    )
    domain = settings.mail_from.rsplit("@", 1)[-1].strip(">") or "localhost"
    return Mail(to, subject, text, body, settings.mail_from, make_msgid(idstring=key[:16], domain=domain))


# No user-chosen text (names) goes into these mails: whoever registers picks the name, and a
# mail to someone else's address must not carry their words.


def verification_mail(settings: Settings, to: str, token: str, key: str) -> Mail:
    link = f"{settings.public_url}/verify-email?token={token}"
    lines = ["Hello,", "Confirm your email address to finish creating your messenger account:"]
    return _render(settings, to, "Confirm your email address", lines, link, "Confirm email address", key)


def reset_mail(settings: Settings, to: str, token: str, key: str) -> Mail:
    link = f"{settings.public_url}/reset-password?token={token}"
    lines = [
        "Hello,",
        "Someone asked to reset the password of your messenger account. This link works once, for one hour:",
    ]
    return _render(settings, to, "Reset your password", lines, link, "Choose a new password", key)
