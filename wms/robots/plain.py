"""Plain-dict twins of pydantic models: the same fields and checks, validated into dicts, not objects.

The fleet master reads thousands of VDA 5050 states a second; building a model object per nested part
costs about as much as the JSON parse itself. A twin is a ``TypedDict`` made from the model's own field
definitions (types, constraints, which fields may be left out), so it accepts and rejects exactly what
the model does (``tests/robots/test_plain.py`` holds them to that) without a second copy of the schema.
The model's ``extra`` and ``allow_inf_nan`` settings carry over; other model settings do not.
Models with validators or serializers of their own cannot be twinned and are refused.
"""

from __future__ import annotations

import types
import typing
from typing import Annotated, Any, NotRequired, Union, get_args, get_origin

from pydantic import BaseModel, ConfigDict, TypeAdapter
from typing_extensions import TypedDict


def twin(model: type[BaseModel]) -> Any:
    """The ``TypedDict`` twin of ``model`` (nested models twinned too)."""
    return _twin(model, {})


def twin_adapter(model: type[BaseModel]) -> TypeAdapter[dict[str, Any]]:
    """A validator of ``model``'s wire form into plain dicts."""
    return TypeAdapter(twin(model))


def _twin(model: type[BaseModel], made: dict[type[BaseModel], Any]) -> Any:
    if model in made:
        return made[model]
    d = model.__pydantic_decorators__
    own = (d.validators, d.field_validators, d.model_validators, d.field_serializers, d.model_serializers)
    if any(own):
        raise TypeError(f"{model.__name__} has validators or serializers of its own: no plain twin")
    fields: dict[str, Any] = {}
    for name, field in model.model_fields.items():
        tp = _convert(field.annotation, made)
        if field.metadata:
            tp = Annotated[(tp, *field.metadata)]
        fields[name] = tp if field.is_required() else NotRequired[tp]
    plain = TypedDict(f"{model.__name__}Dict", fields)  # type: ignore[operator]
    plain.__pydantic_config__ = ConfigDict(  # type: ignore[attr-defined]
        extra=model.model_config.get("extra") or "ignore",
        allow_inf_nan=model.model_config.get("allow_inf_nan", True),
    )
    made[model] = plain
    return plain


def _convert(tp: Any, made: dict[type[BaseModel], Any]) -> Any:
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return _twin(tp, made)
    origin = get_origin(tp)
    if origin is None or origin is typing.Literal:
        return tp
    args = get_args(tp)
    if origin is Annotated:
        return Annotated[(_convert(args[0], made), *tp.__metadata__)]
    converted = tuple(_convert(a, made) for a in args)
    if origin in (Union, types.UnionType):
        return Union[converted]  # noqa: UP007 (built from a tuple)
    return origin[converted if len(converted) > 1 else converted[0]]
