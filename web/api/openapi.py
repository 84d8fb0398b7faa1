"""The OpenAPI 3.1 document, generated from the declared endpoints (never written by hand)."""

from __future__ import annotations

import re
from typing import Any

from pydantic import TypeAdapter
from pydantic.json_schema import models_json_schema

from web.api.framework import Api

ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {
                "code": {"type": "string"},
                "message": {"type": "string"},
                "field": {"type": ["string", "null"]},
            },
        }
    },
}


_PLACEHOLDER = re.compile(r"{(\w+)(?::([^{}]+))?}")
_ALTERNATIVES = re.compile(r"\w+(?:\|\w+)*")


def path_parameters(path: str) -> tuple[str, list[dict[str, Any]]]:
    """The path as OpenAPI writes it (`{fmt:csv|pdf}` becomes `{fmt}`) and its parameters.

    A placeholder's regex becomes an enum when it lists words (`csv|pdf`), else a pattern.
    """
    params: list[dict[str, Any]] = []
    for name, regex in _PLACEHOLDER.findall(path):
        schema: dict[str, Any] = {"type": "string", "minLength": 1, "maxLength": 200}
        if regex and _ALTERNATIVES.fullmatch(regex):
            schema = {"type": "string", "enum": regex.split("|")}
        elif regex:
            schema["pattern"] = f"^(?:{regex})$"
        params.append({"name": name, "in": "path", "required": True, "schema": schema})
    return _PLACEHOLDER.sub(lambda m: "{" + m.group(1) + "}", path), params


def build_openapi(api: Api, *, version: str = "0.1.0") -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    components: dict[str, Any] = {"Error": ERROR_SCHEMA}
    ref = "#/components/schemas/{model}"
    for endpoint in api.endpoints:
        path, params = path_parameters(api.prefix + endpoint.path)
        operation: dict[str, Any] = {
            "summary": endpoint.summary,
            "operationId": endpoint.handler.__name__,
            "tags": list(endpoint.tags),
            "responses": {
                "4XX": {
                    "description": "Error",
                    "content": {
                        "application/json": {"schema": {"$ref": ref.format(model="Error")}}
                    },
                }
            },
        }
        if endpoint.query is not None:
            schema = endpoint.query.model_json_schema()
            for name, prop in schema.get("properties", {}).items():
                params.append(
                    {
                        "name": name,
                        "in": "query",
                        "required": name in schema.get("required", []),
                        "schema": prop,
                    }
                )
        if params:
            operation["parameters"] = params
        if endpoint.body is not None:
            _, defs = models_json_schema([(endpoint.body, "validation")], ref_template=ref)
            components.update(defs.get("$defs", {}))
            operation["requestBody"] = {
                "required": True,
                "content": {
                    "application/json": {
                        "schema": {"$ref": ref.format(model=endpoint.body.__name__)}
                    }
                },
            }
        if endpoint.response is not None:
            schema = TypeAdapter(endpoint.response).json_schema(
                ref_template=ref, mode="serialization"
            )
            components.update(schema.pop("$defs", {}))
            operation["responses"][str(endpoint.status)] = {
                "description": "OK",
                "content": {"application/json": {"schema": schema}},
            }
        else:
            operation["responses"]["204"] = {"description": "No content"}
        if endpoint.auth != "public":
            operation["security"] = [{"cookieSession": []}]
        paths.setdefault(path, {})[endpoint.method.lower()] = operation
    return {
        "openapi": "3.1.0",
        "info": {"title": "interviewday API", "version": version},
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {
                "cookieSession": {"type": "apiKey", "in": "cookie", "name": "interviewday_session"}
            },
        },
    }
