"""Why one email failed, and whether waiting can help.

A permanent failure (the message cannot be written, a header would be broken, the mail server
refuses the address or the content for good) goes to the dead letters at once: retrying it
unchanged would only fail again. A transient one (the server is busy or unreachable, the
database hiccuped) is retried with backoff. Pure functions, tested directly.
"""

from __future__ import annotations

from dataclasses import dataclass

import aiosmtplib
from sqlalchemy.exc import SQLAlchemyError

MAX_ERROR = 2000


class UndeliverableMessage(Exception):
    """The message itself is wrong (its template, a header, the address): a permanent failure
    whose text says what to fix."""


class MailSetupError(Exception):
    """The server's mail setup is wrong (the sender address): the same for every message, so
    messages wait and retry rather than die; the operator fixes the setting."""


@dataclass(frozen=True)
class Failure:
    error: str
    permanent: bool


def _clip(text: str) -> str:
    return text[:MAX_ERROR]


def _refusal(exc: aiosmtplib.SMTPRecipientRefused) -> str:
    return f"{exc.recipient} ({exc.code} {exc.message})"


def send_failure(exc: BaseException) -> Failure:
    """What the mail server's answer (or silence) means for this one message.

    Only an answer about this message is permanent: a refused recipient or refused content
    with a 5xx code. A refused sender or login (5xx too) is the server's setup, the same for
    every message, so it is retried: once fixed, the waiting mail goes out on its own."""
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        refused = exc.recipients
        text = "The mail server refused the address: " + ", ".join(_refusal(r) for r in refused)
        permanent = bool(refused) and all(r.code >= 500 for r in refused)
        return Failure(_clip(text), permanent)
    if isinstance(exc, aiosmtplib.SMTPRecipientRefused):
        return Failure(
            _clip(f"The mail server refused the address: {_refusal(exc)}"), exc.code >= 500
        )
    if isinstance(exc, aiosmtplib.SMTPDataError):
        text = f"The mail server refused the message: {exc.code} {exc.message}"
        return Failure(_clip(text), exc.code >= 500)
    if isinstance(exc, UndeliverableMessage):
        return Failure(_clip(str(exc)), True)
    return Failure(_clip(f"{type(exc).__name__}: {exc}"), False)


def writing_failure(exc: BaseException) -> Failure:
    """A failure while the message was being written (template, merge fields, headers).

    Anything but the database or the network is in the message itself, and stays so."""
    if isinstance(exc, UndeliverableMessage):
        return Failure(_clip(str(exc)), True)
    if isinstance(exc, (OSError, TimeoutError, SQLAlchemyError, MailSetupError)):
        return Failure(_clip(f"{type(exc).__name__}: {exc}"), False)
    return Failure(_clip(f"Could not write this email: {type(exc).__name__}: {exc}"), True)
