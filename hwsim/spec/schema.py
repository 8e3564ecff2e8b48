"""JSON Schema of the three spec kinds (``hwsim schema``, docs/schema/*.schema.json).

Generated from the pydantic models, so the field descriptions (default, unit, range, one
sentence of physics) are the same text as in the code. Editors with the YAML language server
validate and complete presets that start with
``# yaml-language-server: $schema=../docs/schema/<kind>.schema.json``.
"""

from __future__ import annotations

import json
from pathlib import Path

from hwsim.spec.models import KINDS

SCHEMA_DIR = Path("docs") / "schema"

_EXTENDS = {
    "type": "string",
    "description": "Name of a preset of the same kind (in chips/, firmware_models/ or scenarios/) "
                   "or a path to one, relative to this file; this file's keys override the "
                   "preset's, recursively (lists are replaced).",
    "x-unit": "-",
}


def _fill_factory_defaults(model, node: dict, defs: dict, seen: set) -> None:
    """pydantic omits defaults made by a default_factory: write them in (editors show them)."""
    import typing

    from pydantic import BaseModel, TypeAdapter

    if model in seen:
        return
    seen.add(model)
    for name, field in model.model_fields.items():
        prop = node.get("properties", {}).get(name)
        if prop is None:
            continue
        if field.default_factory is not None and "default" not in prop:
            prop["default"] = TypeAdapter(field.annotation).dump_python(field.default_factory(), mode="json")
        if "description" not in prop and field.description:
            prop["description"] = field.description
        stack = [field.annotation]
        while stack:
            ann = stack.pop()
            if isinstance(ann, type) and issubclass(ann, BaseModel):
                if ann.__name__ in defs:
                    _fill_factory_defaults(ann, defs[ann.__name__], defs, seen)
            else:
                stack.extend(typing.get_args(ann))


def schema_for(kind: str) -> dict:
    """The JSON Schema (draft 2020-12) of one spec kind."""
    model = KINDS[kind]
    schema = model.model_json_schema(mode="validation")
    _fill_factory_defaults(model, schema, schema.get("$defs", {}), set())
    schema["properties"] = {"extends": _EXTENDS, **schema["properties"]}
    out = {"$schema": "https://json-schema.org/draft/2020-12/schema",
           "$id": f"https://hwsim.invalid/schema/{kind}.schema.json"}
    out.update(schema)
    return out


def schema_text(kind: str) -> str:
    return json.dumps(schema_for(kind), indent=2, sort_keys=False) + "\n"


def write_schemas(root: Path) -> list[Path]:
    """Write docs/schema/<kind>.schema.json under ``root``; returns the files written."""
    folder = Path(root) / SCHEMA_DIR
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for kind in KINDS:
        path = folder / f"{kind}.schema.json"
        tmp = path.with_suffix(".tmp")
        tmp.write_text(schema_text(kind))
        tmp.replace(path)
        written.append(path)
    return written
