"""Option groups: options several commands share, declared once as a frozen dataclass whose field defaults are
``typer.Option(...)``. ``with_options(name=Group)`` turns a command's parameter ``name: Group`` into the group's
options (each still its own ``--option`` with its own help, in the dataclass's order) and hands the command one
``Group`` instance, so the command's body is parsing and calling."""

from __future__ import annotations

import dataclasses
import functools
import inspect
import typing
from collections.abc import Callable
from typing import Any


def with_options(**groups: type[Any]) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def wrap(command: Callable[..., Any]) -> Callable[..., Any]:
        own_hints = typing.get_type_hints(command)
        parameters: list[inspect.Parameter] = []
        hints: dict[str, Any] = {}
        for parameter in inspect.signature(command).parameters.values():
            group = groups.get(parameter.name)
            if group is None:
                parameters.append(parameter.replace(kind=inspect.Parameter.KEYWORD_ONLY,
                                                    annotation=own_hints[parameter.name]))
                hints[parameter.name] = own_hints[parameter.name]
                continue
            group_hints = typing.get_type_hints(group)
            for field in dataclasses.fields(group):
                parameters.append(inspect.Parameter(field.name, inspect.Parameter.KEYWORD_ONLY, default=field.default,
                                                    annotation=group_hints[field.name]))
                hints[field.name] = group_hints[field.name]

        @functools.wraps(command)
        def run(**values: Any) -> Any:
            for name, group in groups.items():
                values[name] = group(**{field.name: values.pop(field.name) for field in dataclasses.fields(group)})
            return command(**values)

        run.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
        run.__annotations__ = hints
        del run.__wrapped__  # Typer reads the signature above, not the command's
        return run

    return wrap
