"""The OpenAPI document is valid OpenAPI 3.1, and every templated path declares its parameters."""

from __future__ import annotations

import re
from typing import Any

from openapi_spec_validator import validate

from web.api.openapi import build_openapi, path_parameters
from web.api.routes import build_api


def test_the_document_is_valid_openapi() -> None:
    validate(build_openapi(build_api()))  # raises with the first problem


def test_every_path_template_has_its_parameters() -> None:
    document = build_openapi(build_api())
    for path, operations in document["paths"].items():
        assert ":" not in path, path  # aiohttp's {name:regex} never leaks into the document
        names = set(re.findall(r"{(\w+)}", path))
        for method, operation in operations.items():
            declared = {p["name"] for p in operation.get("parameters", ()) if p["in"] == "path"}
            assert declared == names, (method, path)


def test_a_regex_placeholder_becomes_an_enum_or_a_pattern() -> None:
    path, params = path_parameters("/api/v1/exports/scores.{fmt:csv|pdf}")
    assert path == "/api/v1/exports/scores.{fmt}"
    assert params == [
        {
            "name": "fmt",
            "in": "path",
            "required": True,
            "schema": {"type": "string", "enum": ["csv", "pdf"]},
        }
    ]
    path, params = path_parameters("/things/{id}/{n:[0-9]+}")
    assert path == "/things/{id}/{n}"
    assert params[0]["schema"] == {"type": "string", "minLength": 1, "maxLength": 200}
    assert params[1]["schema"]["pattern"] == "^(?:[0-9]+)$"


def test_request_numbers_are_bounded_in_the_document() -> None:
    """Every integer a client sends has both bounds inside 64 bits, so no generator (or
    person) can be told that 2**70 is acceptable."""
    document = build_openapi(build_api())
    unbounded = []

    def visit(schema: object, where: str) -> None:
        if isinstance(schema, dict):
            if schema.get("type") == "integer" and not (
                "maximum" in schema and ("minimum" in schema or "exclusiveMinimum" in schema)
            ):
                unbounded.append(where)
            for key, value in schema.items():
                visit(value, f"{where}.{key}")
        elif isinstance(schema, list):
            for index, value in enumerate(schema):
                visit(value, f"{where}[{index}]")

    request_models = set()
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            for parameter in operation.get("parameters", ()):
                visit(parameter["schema"], f"{method} {path} {parameter['name']}")
            body = operation.get("requestBody", {}).get("content", {}).get("application/json")
            if body:
                request_models.add(body["schema"]["$ref"].rsplit("/", 1)[-1])
    schemas = document["components"]["schemas"]
    seen: set[str] = set()
    while request_models:
        name = request_models.pop()
        if name in seen:
            continue
        seen.add(name)
        visit(schemas[name], name)
        request_models |= set(re.findall(r"#/components/schemas/(\w+)", str(schemas[name])))
    # Models owned elsewhere are bounded by the framework's 64-bit JSON parsing instead.
    assert [u for u in unbounded if not u.startswith(("CommandIn", "JoinIn"))] == []


def _operations(document: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [
        (f"{method.upper()} {path}", operation)
        for path, operations in document["paths"].items()
        for method, operation in operations.items()
    ]


def test_every_request_and_response_model_is_a_named_component() -> None:
    """No operation carries an object schema of its own: a client generator gets one named
    type per model (issue 13, item 12: 21 were inline)."""
    document = build_openapi(build_api())
    schemas = document["components"]["schemas"]
    inline = []
    for where, operation in _operations(document):
        bodies = [("request", operation.get("requestBody", {}))] + [
            (status, answer) for status, answer in operation["responses"].items()
        ]
        for part, declared in bodies:
            schema = declared.get("content", {}).get("application/json", {}).get("schema")
            if schema is None:
                continue
            named = schema.get("items", schema) if schema.get("type") == "array" else schema
            if set(named) != {"$ref"}:
                inline.append(f"{where} {part}")
                continue
            assert named["$ref"].removeprefix("#/components/schemas/") in schemas, where
        for parameter in operation.get("parameters", ()):
            if parameter["schema"].get("type") == "object":
                inline.append(f"{where} {parameter['name']}")
    assert inline == []


def test_models_of_one_name_in_two_modules_are_two_components() -> None:
    """Forms and sessions both have a `CopyIn`; each request points at its own."""
    document = build_openapi(build_api())
    paths = document["paths"]

    def body_of(path: str) -> str:
        schema = paths[path]["post"]["requestBody"]["content"]["application/json"]["schema"]
        return str(schema["$ref"]).rsplit("/", 1)[-1]

    forms, sessions = (
        body_of("/api/v1/forms/{form_id}/copy"),
        body_of("/api/v1/sessions/{session_id}/copy"),
    )
    assert forms != sessions
    schemas = document["components"]["schemas"]
    assert "dates" in schemas[sessions]["properties"]
    assert "dates" not in schemas[forms]["properties"]
