"""The OpenAPI 3.1 document, generated from the declared endpoints (never written by hand)."""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, TypeAdapter
from pydantic.json_schema import (
    CoreModeRef,
    DefsRef,
    GenerateJsonSchema,
    JsonSchemaMode,
    models_json_schema,
)

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


REF = "#/components/schemas/{model}"
Refs = dict[tuple[Any, str], dict[str, Any]]
"""(model, "validation" or "serialization") -> its `{"$ref": ...}`."""


class SchemaNames(GenerateJsonSchema):
    """Names components by class (`SessionOut`); two models of one name in different modules
    (`CopyIn` of forms and of sessions) become `FormsCopyIn` and `SessionsCopyIn`, instead of
    pydantic's `web__api__forms__CopyIn`."""

    def get_defs_ref(self, core_mode_ref: CoreModeRef) -> DefsRef:
        defs_ref = super().get_defs_ref(core_mode_ref)
        core_ref, mode = core_mode_ref
        dotted = core_ref.rsplit(":", 1)[0]
        module, _, name = dotted.rpartition(".")
        if module and re.fullmatch(r"[\w.]+", dotted):
            qualified = module.rpartition(".")[2].title().replace("_", "") + name
            suffix = "Input" if mode == "validation" else "Output"
            # pydantic takes the first of these choices that no other model has taken.
            choices = self._prioritized_defsref_choices[defs_ref]
            choices[2:2] = [DefsRef(qualified), DefsRef(f"{qualified}-{suffix}")]
        return defs_ref


def _listed(response: Any) -> tuple[Any, bool]:
    """`list[Model]` -> (Model, True); anything else -> (it, False)."""
    if getattr(response, "__origin__", None) is list:
        return response.__args__[0], True
    return response, False


def component_schemas(api: Api) -> tuple[dict[str, Any], Refs]:
    """Every request and response model as a component, and the `$ref` of each (model, mode).

    One generation for the whole API, so a name is given once: a model whose request and
    response schemas differ gets two (`X-Input`, `X-Output`), colliding names are qualified.
    """
    pairs: dict[tuple[Any, JsonSchemaMode], None] = {}
    for endpoint in api.endpoints:
        if endpoint.body is not None:
            pairs[(endpoint.body, "validation")] = None
        model, _ = _listed(endpoint.response)
        if isinstance(model, type) and issubclass(model, BaseModel):
            pairs[(model, "serialization")] = None
    refs, defs = models_json_schema(list(pairs), ref_template=REF, schema_generator=SchemaNames)
    named: Refs = {pair: ref for pair, ref in refs.items()}
    return {"Error": ERROR_SCHEMA, **defs.get("$defs", {})}, named


def _response_schema(response: Any, refs: Refs) -> Any:
    model, listed = _listed(response)
    ref = refs.get((model, "serialization"))
    if ref is None:  # not a model: whatever the type says, inline (nothing to name)
        return TypeAdapter(response).json_schema(ref_template=REF, mode="serialization")
    return {"type": "array", "items": ref} if listed else ref


def build_openapi(api: Api, *, version: str = "0.1.0") -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    components, refs = component_schemas(api)
    ref = REF
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
            operation["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": refs[(endpoint.body, "validation")]}},
            }
        if endpoint.response is not None:
            operation["responses"][str(endpoint.status)] = {
                "description": "OK",
                "content": {
                    "application/json": {"schema": _response_schema(endpoint.response, refs)}
                },
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
