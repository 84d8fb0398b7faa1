"""Email wording: built-in templates per kind, a program's own, merge fields, text and HTML.

Merge fields are written `{{ name }}`. They are plain substitutions, not a template language, so
a template can neither run code nor reach data it was not handed. The HTML part is made from the
text: escaped, paragraphs kept, links made clickable.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, get_args

from core.errors import ValidationFailed
from core.scoping import ProgramScope
from portal.models_mail import EmailTemplate

MailKind = Literal[
    "invitation",
    "reminder",
    "waitlist_offer",
    "schedule_change",
    "cancellation",
    "confirmation",
    "assignment",
    "itinerary",
    "new_link",
]
MAIL_KINDS: tuple[str, ...] = get_args(MailKind)
# The kinds a program edits; confirmations, assignments, itineraries and new links use
# built-in wording that can be edited as well but rarely is.
EDITABLE_KINDS: tuple[str, ...] = MAIL_KINDS

KIND_LABELS: dict[str, str] = {
    "invitation": "Invitation",
    "reminder": "Reminder before the session",
    "waitlist_offer": "Waitlist: a seat is free",
    "schedule_change": "Schedule change",
    "cancellation": "Cancellation",
    "confirmation": "Booking confirmed",
    "assignment": "Session assigned by the program",
    "itinerary": "Itinerary (when published or finalized)",
    "new_link": "A new sign-in link",
}

COMMON_FIELDS = ("name", "first_name", "program", "link")
FIELDS: dict[str, tuple[str, ...]] = {
    "invitation": (*COMMON_FIELDS, "deadline"),
    "reminder": (*COMMON_FIELDS, "session", "session_time"),
    "waitlist_offer": (*COMMON_FIELDS, "session", "session_time", "respond_by"),
    "schedule_change": (*COMMON_FIELDS, "session", "changes"),
    "cancellation": (*COMMON_FIELDS, "session", "session_time"),
    "confirmation": (*COMMON_FIELDS, "session", "session_time"),
    "assignment": (*COMMON_FIELDS, "session", "session_time", "meeting_rooms"),
    "itinerary": (*COMMON_FIELDS, "session", "session_time", "itinerary", "meeting_rooms"),
    "new_link": COMMON_FIELDS,
}

FIELD_HELP: dict[str, str] = {
    "name": "the person's full name",
    "first_name": "the person's first name",
    "program": "the program's name",
    "link": "their personal sign-in link (a magic link)",
    "deadline": "the date to answer by",
    "session": "the session's name",
    "session_time": "the session's date and time in its time zone",
    "respond_by": "when the offered seat passes to the next person",
    "changes": "what changed in their schedule",
    "itinerary": "their rounds, times and rooms",
    "meeting_rooms": "the meeting rooms open to them that day, with times and links (or nothing)",
}

DEFAULTS: dict[str, tuple[str, str]] = {
    "invitation": (
        "Interview invitation: {{ program }}",
        "Dear {{ name }},\n\n"
        "{{ program }} invites you to interview with us. Choose your interview date here:\n"
        "{{ link }}\n\n"
        "Please choose by {{ deadline }}.\n\n"
        "We look forward to meeting you.",
    ),
    "reminder": (
        "Reminder: {{ session }} with {{ program }}",
        "Dear {{ name }},\n\n"
        "This is a reminder of your interview day: {{ session }}, {{ session_time }}.\n"
        "Your page, with your schedule and a camera check: {{ link }}",
    ),
    "waitlist_offer": (
        "A seat is free: {{ session }}",
        "Dear {{ name }},\n\n"
        "A seat opened in {{ session }} ({{ session_time }}). Claim it here: {{ link }}\n\n"
        "{{ respond_by }}",
    ),
    "schedule_change": (
        "Your schedule changed: {{ session }}",
        "Dear {{ name }},\n\nYour schedule for {{ session }} changed:\n{{ changes }}\n\n"
        "Your page always shows the current schedule: {{ link }}",
    ),
    "cancellation": (
        "Cancelled: {{ session }}",
        "Dear {{ name }},\n\nYour seat in {{ session }} ({{ session_time }}) is cancelled.\n"
        "You can choose another date here: {{ link }}",
    ),
    "confirmation": (
        "Confirmed: {{ session }} with {{ program }}",
        "Dear {{ name }},\n\nYou are booked for {{ session }}, {{ session_time }}.\n"
        "The attached calendar file adds it to your calendar. Your page: {{ link }}",
    ),
    "assignment": (
        "Your interview date: {{ session }} with {{ program }}",
        "Dear {{ name }},\n\n{{ program }} has booked you for {{ session }}, {{ session_time }}.\n"
        "The attached calendar file adds it to your calendar.\n\n{{ meeting_rooms }}\n\n"
        "Your page, with your schedule once it is published: {{ link }}",
    ),
    "itinerary": (
        "Your itinerary: {{ session }}",
        "Dear {{ name }},\n\nYour schedule for {{ session }} ({{ session_time }}):\n"
        "{{ itinerary }}\n\n{{ meeting_rooms }}\n\nYour page: {{ link }}",
    ),
    "new_link": (
        "Your sign-in link for {{ program }}",
        "Dear {{ name }},\n\nHere is your new sign-in link: {{ link }}\n\n"
        "Older links no longer work.",
    ),
}

# The kinds that ask the reader to act through their personal link (choose a date, claim a
# seat, sign in): without `{{ link }}` such an email cannot be acted on, so it is refused.
LINK_REQUIRED: dict[str, str] = {
    "invitation": "the applicant chooses their interview date through it",
    "waitlist_offer": "the applicant claims the free seat through it",
    "new_link": "it is the sign-in link the applicant asked for",
}

FIELD_PATTERN = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
URL_PATTERN = re.compile(r"https?://[^\s<>\"']+")
# A header is one line: no C0/C1 control character (CR and LF above all: they would start a
# new header), nor the Unicode line and paragraph separators.
HEADER_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
# A body keeps its line breaks and tabs; other control characters are never meant.
BODY_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
SPACES = re.compile(r"\s+")
# An empty merge field on a line of its own leaves a gap; more than one blank line is never meant.
BLANK_RUNS = re.compile(r"\n[ \t]*(?:\n[ \t]*){2,}")
MAX_SUBJECT = 200
MAX_BODY = 20_000


@dataclass(frozen=True)
class Template:
    kind: str
    subject: str
    body: str
    customized: bool


@dataclass(frozen=True)
class RenderedMail:
    subject: str
    text: str
    html: str


def check_kind(kind: str) -> None:
    if kind not in MAIL_KINDS:
        raise ValidationFailed(f"Unknown email kind {kind!r}.", field="kind")


def fields_used(text: str) -> list[str]:
    return list(dict.fromkeys(FIELD_PATTERN.findall(text)))


def header_problem(value: str) -> str | None:
    """Why `value` cannot be a mail header (None when it can): it must stay one line."""
    found = HEADER_CONTROL.search(value)
    if found is None:
        return None
    what = "a line break" if found.group(0) in "\r\n\u2028\u2029" else "a control character"
    return f"contains {what} (U+{ord(found.group(0)):04X}); a header is one line of text"


def delivery_problem(kind: str, subject: str, body: str) -> tuple[str, str] | None:
    """(field, message) when a template cannot be sent as it is (checked at save and again
    before sending, for templates stored before these rules)."""
    if problem := header_problem(subject):
        return "subject", f"The subject {problem}."
    if found := BODY_CONTROL.search(body):
        code = f"U+{ord(found.group(0)):04X}"
        return "body", f"The message contains a control character ({code}); remove it."
    if kind in LINK_REQUIRED and "link" not in fields_used(body):
        why = LINK_REQUIRED[kind]
        return "body", f"Put {{{{ link }}}} in the message: {why}."
    return None


def template_problem(kind: str, subject: str, body: str) -> tuple[str, str] | None:
    """(field, message) for the first thing wrong with a template (None when it is fine)."""
    if not subject.strip():
        return "subject", "Write a subject."
    if len(subject) > MAX_SUBJECT:
        return "subject", f"The subject is longer than {MAX_SUBJECT} characters."
    if not body.strip():
        return "body", "Write the message."
    if len(body) > MAX_BODY:
        return "body", f"The message is longer than {MAX_BODY} characters."
    known = FIELDS[kind]
    for where, text in (("subject", subject), ("body", body)):
        unknown = [f for f in fields_used(text) if f not in known]
        if unknown:
            names = ", ".join("{{ " + f + " }}" for f in known)
            return where, f"{{{{ {unknown[0]} }}}} is not a merge field here; use {names}."
    return delivery_problem(kind, subject, body.replace("\r\n", "\n"))


def one_line(value: str) -> str:
    """A merge value fit for a header: whitespace runs (line breaks too) become one space,
    other control characters go."""
    return SPACES.sub(" ", HEADER_CONTROL.sub(" ", value)).strip()


def merge(text: str, fields: Mapping[str, str]) -> str:
    return FIELD_PATTERN.sub(lambda m: fields.get(m.group(1), ""), text)


def to_html(text: str) -> str:
    """The HTML part: the same words, escaped, with paragraphs and clickable links."""
    paragraphs = [p for p in re.split(r"\n\s*\n", text.strip()) if p.strip()]
    parts = []
    for paragraph in paragraphs:
        escaped = html.escape(paragraph)
        linked = URL_PATTERN.sub(lambda m: f'<a href="{m.group(0)}">{m.group(0)}</a>', escaped)
        parts.append("<p>" + linked.replace("\n", "<br>\n") + "</p>")
    body = "\n".join(parts)
    return (
        '<!doctype html><html><body style="font-family: sans-serif; line-height: 1.5">'
        f"\n{body}\n</body></html>"
    )


def render(template: Template, fields: Mapping[str, str]) -> RenderedMail:
    """The email for these values. Values come from people (a name from an import…): in the
    subject they are made one line, in the body stray control characters are dropped, so a
    person's data can never add a header or break the message."""
    subject = merge(template.subject, {k: one_line(v) for k, v in fields.items()})
    text = merge(template.body, {k: BODY_CONTROL.sub("", v) for k, v in fields.items()})
    text = BLANK_RUNS.sub("\n\n", text)
    return RenderedMail(subject.strip(), text, to_html(text))


def format_when(moment: datetime, zone_label: str | None = None) -> str:
    """'Wednesday, February 10, 2027 at 08:30 (America/New_York)' in the moment's own zone."""
    label = zone_label or (str(moment.tzinfo) if moment.tzinfo else "UTC")
    return f"{moment.strftime('%A, %B')} {moment.day}, {moment.year} at {moment:%H:%M} ({label})"


async def template_for(scope: ProgramScope, kind: str) -> Template:
    check_kind(kind)
    rows = await scope.all(EmailTemplate, EmailTemplate.kind == kind)
    if rows:
        return Template(kind, rows[0].subject, rows[0].body, True)
    subject, body = DEFAULTS[kind]
    return Template(kind, subject, body, False)


async def all_templates(scope: ProgramScope) -> list[Template]:
    return [await template_for(scope, kind) for kind in EDITABLE_KINDS]


async def save_template(
    scope: ProgramScope, kind: str, subject: str, body: str, *, now: datetime
) -> Template:
    check_kind(kind)
    if problem := template_problem(kind, subject, body):
        field, message = problem
        raise ValidationFailed(message, field=field)
    rows = await scope.all(EmailTemplate, EmailTemplate.kind == kind)
    row = rows[0] if rows else scope.add(EmailTemplate(kind=kind, subject="", body=""))
    row.subject = subject.strip()
    row.body = body.replace("\r\n", "\n").replace("\r", "\n")
    row.updated_at = now
    await scope.db.flush()
    return Template(kind, row.subject, row.body, True)


async def reset_template(scope: ProgramScope, kind: str) -> Template:
    check_kind(kind)
    for row in await scope.all(EmailTemplate, EmailTemplate.kind == kind):
        await scope.db.delete(row)
    await scope.db.flush()
    subject, body = DEFAULTS[kind]
    return Template(kind, subject, body, False)
