"""The form editor's draft: what the page's fields hold between saves, as typed.

The editor is a plain HTML form. Moving, adding and removing items re-renders the draft without
saving; only "Save" turns the draft into a `FormSpec` and writes it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from core.errors import ValidationFailed
from scoring.forms import FormSpec, ItemSpec, spec_of
from scoring.models import ScoringForm, ScoringItem

KIND_LABELS: dict[str, str] = {"rating": "Rating", "yes_no": "Yes / no", "comment": "Comment"}


@dataclass(frozen=True)
class DraftItem:
    kind: str = "rating"
    label: str = ""
    help_text: str = ""
    scale_min: str = "1"
    scale_max: str = "5"
    weight: str = "1"
    required: bool = False


@dataclass(frozen=True)
class Draft:
    name: str = ""
    description: str = ""
    items: tuple[DraftItem, ...] = (DraftItem(),)


@dataclass(frozen=True)
class Operation:
    verb: str  # save, refresh, add, remove, up, down
    index: int = -1
    kind: str = "rating"


def draft_of(form: ScoringForm, items: Sequence[ScoringItem]) -> Draft:
    spec = spec_of(form, items)
    return Draft(
        name=spec.name,
        description=spec.description or "",
        items=tuple(
            DraftItem(
                kind=i.kind,
                label=i.label,
                help_text=i.help_text or "",
                scale_min=str(i.scale_min),
                scale_max=str(i.scale_max),
                weight=f"{i.weight:g}" if i.kind == "rating" else "1",
                required=i.required,
            )
            for i in spec.items
        ),
    )


def parse_draft(fields: Mapping[str, str]) -> Draft:
    """Reads `items-<n>-<field>` inputs in index order; missing fields take the defaults."""
    count = _int_or(fields.get("item_count", "0"), 0)
    items = []
    for index in range(max(0, min(count, 200))):
        prefix = f"items-{index}-"
        defaults = DraftItem()
        items.append(
            DraftItem(
                kind=fields.get(prefix + "kind", defaults.kind),
                label=fields.get(prefix + "label", ""),
                help_text=fields.get(prefix + "help_text", ""),
                scale_min=fields.get(prefix + "scale_min", defaults.scale_min),
                scale_max=fields.get(prefix + "scale_max", defaults.scale_max),
                weight=fields.get(prefix + "weight", defaults.weight),
                required=fields.get(prefix + "required") == "on",
            )
        )
    return Draft(fields.get("name", ""), fields.get("description", ""), tuple(items))


def parse_operation(value: str) -> Operation:
    """`save`, `add:<kind>`, `up:<n>`, `down:<n>`, `remove:<n>`; anything else re-renders."""
    verb, _, argument = value.partition(":")
    if verb == "save":
        return Operation("save")
    if verb == "add":
        return Operation("add", kind=argument or "rating")
    # ASCII digits only, and few of them: "²" is a digit to isdigit() but not to int().
    if verb in ("up", "down", "remove") and re.fullmatch(r"[0-9]{1,4}", argument):
        return Operation(verb, int(argument))
    return Operation("refresh")


def apply(draft: Draft, op: Operation) -> tuple[Draft, str | None, str | None]:
    """The draft after a structural edit, what to announce, and which control to focus next."""
    items = list(draft.items)
    if op.verb == "add":
        kind = op.kind if op.kind in KIND_LABELS else "rating"
        items.append(DraftItem(kind=kind))
        index = len(items) - 1
        message = f"{KIND_LABELS[kind]} item {index + 1} added."
        return replace(draft, items=tuple(items)), message, f"item-{index}-label"
    if not 0 <= op.index < len(items):
        return draft, None, None
    if op.verb == "remove":
        removed = items.pop(op.index)
        label = removed.label.strip() or f"item {op.index + 1}"
        focus = "add-item" if not items else f"item-{min(op.index, len(items) - 1)}-label"
        return replace(draft, items=tuple(items)), f"Removed {label}.", focus
    target = op.index - 1 if op.verb == "up" else op.index + 1
    if not 0 <= target < len(items):
        return draft, None, f"item-{op.index}-{op.verb}"
    items[op.index], items[target] = items[target], items[op.index]
    message = f"Item moved {op.verb} to position {target + 1}."
    # Keep focus on the moved item; at either end its button is disabled, so take the other one.
    at_end = target == 0 if op.verb == "up" else target == len(items) - 1
    direction = {"up": "down", "down": "up"}[op.verb] if at_end else op.verb
    return replace(draft, items=tuple(items)), message, f"item-{target}-{direction}"


def _int_or(text: str, fallback: int) -> int:
    try:
        return int(text.strip())
    except ValueError:
        return fallback


def _whole(text: str, field: str, number: int, what: str) -> int:
    try:
        return int(text.strip())
    except ValueError:
        message = f"Item {number}: the {what} must be a whole number."
        raise ValidationFailed(message, field=field) from None


def to_spec(draft: Draft) -> FormSpec:
    items = []
    for index, item in enumerate(draft.items):
        where, number = f"items.{index}", index + 1
        if item.kind != "rating":
            items.append(ItemSpec(item.kind, item.label, item.help_text, required=item.required))
            continue
        scale_min = _whole(item.scale_min, f"{where}.scale_min", number, "lowest value")
        scale_max = _whole(item.scale_max, f"{where}.scale_max", number, "highest value")
        try:
            weight = float(item.weight.strip())
        except ValueError:
            weight = math.nan
        items.append(
            ItemSpec(
                item.kind, item.label, item.help_text, scale_min, scale_max, weight, item.required
            )
        )
    return FormSpec(draft.name, draft.description, tuple(items))


def field_id(field: str | None) -> str:
    """The HTML id of the input a validation error names (`items.2.label` → `item-2-label`)."""
    if not field:
        return "form-name"
    if field == "items":
        return "add-item"
    if field.startswith("items."):
        return "item-" + field.removeprefix("items.").replace(".", "-")
    return f"form-{field}"
