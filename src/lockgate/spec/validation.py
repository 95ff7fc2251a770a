"""pydantic's validation errors in the user's words: the one translator.

``validate(model, data)`` gives the model, or the ``Problem`` list: where (a
location in the data as the user wrote it, without pydantic's union-member
labels), what (a key not allowed, a required key absent, a wrong value), and
what would fix it (the keys allowed there; what the value should be, each
alternative of a union once). Callers phrase the sentence for their place (a
spec key, a step's ``with:``) and locate it; this module knows no file.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ValidationError

M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True)
class Problem:
    """One thing wrong in the data, at one location."""

    kind: Literal["unknown", "missing", "wrong"]  # a key not allowed, a required key absent, a wrong value
    loc: tuple[Any, ...]  # in the data, without pydantic's union-member labels
    said: tuple[str, ...]  # pydantic's own sentences, one per error at this location
    wants: tuple[str, ...] = ()  # "wrong": what the value should be ("an integer"), each alternative once
    allowed: tuple[str, ...] = ()  # "unknown": the keys the mapping holding it takes
    value: Any = None  # "wrong": the value found at ``loc``

    @property
    def key(self) -> str:
        """``loc`` dotted: ``model.max_depth``."""
        return ".".join(str(p) for p in self.loc)


def validate(model: type[M], data: Any) -> tuple[M | None, list[Problem]]:
    """``(model instance, [])``, or ``(None, problems)`` when ``data`` does not fit."""
    try:
        return model.model_validate(data), []
    except ValidationError as exc:
        return None, problems(model, data, exc.errors())


def problems(model: type[BaseModel], data: Any, errors: list[Any]) -> list[Problem]:
    """pydantic's ``errors()`` for ``data`` as Problems, in pydantic's order; the errors
    of a union's alternatives at one location make one "wrong" Problem."""
    found: list[Problem] = []
    wrong: dict[tuple[Any, ...], int] = {}  # location -> its "wrong" Problem in ``found``
    for err in errors:
        loc = _clean_loc(data, tuple(err["loc"]))
        if err["type"] == "extra_forbidden":
            from lockgate.spec.models import allowed_keys

            allowed = tuple(allowed_keys(_model_at(model, loc[:-1])))
            found.append(Problem("unknown", loc, (err["msg"],), allowed=allowed))
        elif err["type"] == "missing":
            found.append(Problem("missing", loc, (err["msg"],)))
        else:
            want = _TYPE_WORDS.get(err["type"]) or _constraint(err) or err["msg"][0].lower() + err["msg"][1:]
            at = wrong.setdefault(loc, len(found))
            if at == len(found):
                found.append(Problem("wrong", loc, (), value=_value_at(data, loc)))
            before = found[at]
            found[at] = replace(before, said=(*before.said, err["msg"]),
                                wants=before.wants if want in before.wants else (*before.wants, want))
    return found


_TYPE_WORDS = {
    "string_type": "a string",
    "int_type": "an integer",
    "int_parsing": "an integer",
    "float_type": "a number",
    "float_parsing": "a number",
    "bool_type": "true or false",
    "dict_type": "a mapping",
    "list_type": "a list",
    "tuple_type": "a list",
    "model_type": "a mapping",
    "model_attributes_type": "a mapping",
}


def _model_at(model: type[BaseModel], loc: tuple[Any, ...]) -> type[BaseModel]:
    """The nested model a location points into (for listing its allowed keys)."""
    for part in loc:
        field_info = next(
            (f for n, f in model.model_fields.items() if (f.alias or n) == part), None
        )
        annotation = getattr(field_info, "annotation", None)
        candidates = [a for a in getattr(annotation, "__args__", (annotation,)) if isinstance(a, type)]
        nested = next((a for a in candidates if issubclass(a, BaseModel)), None)
        if nested is None:
            return model
        model = nested
    return model


def _clean_loc(data: Any, loc: tuple[Any, ...]) -> tuple[Any, ...]:
    """Drop pydantic's union-member labels ('str', 'tuple[str, ...]') from a location."""
    clean: list[Any] = []
    node = data
    for part in loc:
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            node = node[part]
        elif isinstance(part, str) and ("[" in part or part in _TYPE_LABELS):
            continue
        else:
            node = None  # a key the user did not write (missing) or cannot be walked
        clean.append(part)
    return tuple(clean)


_TYPE_LABELS = {"str", "int", "float", "bool", "dict", "list", "tuple", "none"}


def _value_at(data: Any, loc: tuple[Any, ...]) -> Any:
    node = data
    for part in loc:
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            return None
    return node


_BOUNDS = {
    "greater_than": ("gt", "greater than"),
    "greater_than_equal": ("ge", "at least"),
    "less_than": ("lt", "less than"),
    "less_than_equal": ("le", "at most"),
}


def _constraint(err: Any) -> str:
    """``a number greater than 0`` for pydantic's ``Input should be greater than 0``;
    ``'thread' or 'process'`` for a closed choice (a ``Literal``)."""
    if err["type"] == "literal_error" and "expected" in (err.get("ctx") or {}):
        return str(err["ctx"]["expected"])
    bound = _BOUNDS.get(err["type"])
    if bound is None or bound[0] not in (err.get("ctx") or {}):
        return ""
    limit = err["ctx"][bound[0]]
    if isinstance(limit, float) and limit.is_integer():
        limit = int(limit)
    return f"a number {bound[1]} {limit}"
