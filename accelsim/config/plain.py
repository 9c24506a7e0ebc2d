"""Read-only mirrors of validated device configs that need no pydantic: the same field values, the
same derived quantities (accelsim.config.derived), `model_fields_set` and `model_copy`. A single
run of a cached bundled device uses them (accelsim.config.cache), so that it never imports pydantic.
"""

from __future__ import annotations

import functools

from accelsim.config import derived


class Plain:
    """A validated config block as plain attributes."""

    __slots__ = ("__dict__", "model_fields_set")

    def __init__(self, fields: dict, fields_set: frozenset[str]):
        self.__dict__.update(fields)
        object.__setattr__(self, "model_fields_set", fields_set)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"{type(self).__name__} is read-only")

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and other.__dict__ == self.__dict__

    def __hash__(self) -> int:
        return hash((type(self), *self.__dict__.values()))

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={value!r}" for name, value in self.__dict__.items())
        return f"{type(self).__name__}({fields})"

    def __reduce__(self):
        return rebuild, (_derived_of(type(self)), self.__dict__, self.model_fields_set)

    def model_copy(self, *, update: dict | None = None) -> Plain:
        """A copy with `update`'s fields replaced (and counted as set), as pydantic's model_copy."""
        update = update or {}
        return type(self)({**self.__dict__, **update}, self.model_fields_set | set(update))


@functools.cache
def plain_class(behaviour: type | None) -> type:
    """The Plain class with `behaviour` (a class of accelsim.config.derived, or None) mixed in."""
    if behaviour is None:
        return Plain
    return type(behaviour.__name__.removesuffix("Derived"), (behaviour, Plain), {"__slots__": ()})


def rebuild(behaviour: type | None, fields: dict, fields_set: frozenset[str]) -> Plain:
    """A Plain instance of `behaviour`'s class (what unpickling calls)."""
    return plain_class(behaviour)(fields, frozenset(fields_set))


def mirror(value: object) -> object:
    """`value` with every pydantic model in it, at any depth, turned into its Plain mirror."""
    if isinstance(value, (tuple, list)):
        return type(value)(mirror(item) for item in value)
    if isinstance(value, dict):
        return {key: mirror(item) for key, item in value.items()}
    fields = getattr(type(value), "model_fields", None)
    if fields is None:
        return value
    return rebuild(_derived_of(type(value)),
                   {name: mirror(getattr(value, name)) for name in fields},
                   frozenset(value.model_fields_set))


def _derived_of(cls: type) -> type | None:
    """The first class of accelsim.config.derived that `cls` inherits its behaviour from."""
    return next((base for base in cls.__mro__ if base.__module__ == derived.__name__), None)
