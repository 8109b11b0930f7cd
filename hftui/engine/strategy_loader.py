"""Finding and loading strategy modules: from the `strategies/` package and from an extra
directory, each file executed afresh (so a changed file reloads) under a private module name.

A plugin that cannot be loaded (a syntax error, an import that fails, no `Strategy` subclass,
the wrong API version, a parameter that does not fit) is a `StrategyLoadError` naming the file
and the fault; it never escapes as anything else.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Final

import strategies as builtin_strategies
from hftui.strategy import API_VERSION, Params, Strategy, param_fields

__all__ = ["Plugin", "StrategyLoadError", "build_params", "discover", "load_plugin"]

_NAME_RE: Final = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
_MODULE_PREFIX: Final = "hftui_strategy_"


class StrategyLoadError(Exception):
    """A strategy module could not be loaded; the message names the file and the fault."""


@dataclass(frozen=True, slots=True)
class Plugin:
    """A loaded strategy module and the class it defines."""

    name: str
    path: Path
    mtime_ns: int
    module: ModuleType
    cls: type[Strategy[Params]]


def builtin_dir() -> Path:
    """The directory of the shipped `strategies` package."""
    return Path(builtin_strategies.__file__).resolve().parent


def discover(extra: Path | None = None) -> dict[str, Path]:
    """Strategy files by name: `strategies/*.py` and then `extra/*.py` (which wins on a clash,
    so a trader can shadow a shipped example). Files starting with `_` are not strategies."""
    found: dict[str, Path] = {}
    for directory in (builtin_dir(), extra):
        if directory is None or not directory.is_dir():
            continue
        for path in sorted(directory.glob("*.py")):
            if not path.name.startswith("_") and _NAME_RE.match(path.stem):
                found[path.stem] = path
    return found


def _strategy_class(module: ModuleType, where: str) -> type[Strategy[Params]]:
    classes = [
        value
        for value in vars(module).values()
        if isinstance(value, type)
        and issubclass(value, Strategy)
        and value is not Strategy
        and value.__module__ == module.__name__
    ]
    if len(classes) != 1:
        names = ", ".join(c.__name__ for c in classes) or "none"
        raise StrategyLoadError(
            f"{where}: a strategy module defines exactly one Strategy subclass (found {names})"
        )
    cls: type[Strategy[Params]] = classes[0]
    if cls.api_version != API_VERSION:
        raise StrategyLoadError(
            f"{where}: written for strategy API {cls.api_version}, the engine has {API_VERSION}"
        )
    if not (isinstance(cls.params_type, type) and issubclass(cls.params_type, Params)):
        raise StrategyLoadError(f"{where}: params_type must be a Params subclass")
    return cls


def load_plugin(name: str, path: Path) -> Plugin:
    """Execute `path` as a fresh module and find its strategy class.

    Raises:
        StrategyLoadError: the file is missing, broken, or not a strategy module.
    """
    where = f"strategy {name} ({path})"
    module_name = _MODULE_PREFIX + name
    try:
        mtime_ns = path.stat().st_mtime_ns
        spec = importlib.util.spec_from_file_location(module_name, path)
        if spec is None or spec.loader is None:
            raise StrategyLoadError(f"{where}: not a Python module")
        module = importlib.util.module_from_spec(spec)
        # Registered while it runs: dataclasses look their module up by name.
        previous = sys.modules.get(module_name)
        sys.modules[module_name] = module
        try:
            spec.loader.exec_module(module)
        except BaseException:
            if previous is not None:
                sys.modules[module_name] = previous
            else:
                sys.modules.pop(module_name, None)
            raise
    except StrategyLoadError:
        raise
    except SyntaxError as exc:
        raise StrategyLoadError(f"{where}: syntax error on line {exc.lineno}: {exc.msg}") from exc
    except Exception as exc:
        raise StrategyLoadError(f"{where}: {type(exc).__name__}: {exc}") from exc
    return Plugin(name, path, mtime_ns, module, _strategy_class(module, where))


def build_params(plugin: Plugin, overrides: Mapping[str, object]) -> Params:
    """The strategy's parameters: its defaults with the config's `overrides`.

    Raises:
        StrategyLoadError: an unknown parameter, or a value of the wrong type.
    """
    fields = param_fields(plugin.cls.params_type)
    where = f"strategies.params.{plugin.name}"
    values: dict[str, object] = {}
    for key, value in overrides.items():
        if key not in fields:
            known = ", ".join(fields) or "none"
            raise StrategyLoadError(f"{where}.{key}: no such parameter; {plugin.name} has: {known}")
        default = fields[key]
        if isinstance(default, bool) or isinstance(value, bool):
            ok = isinstance(value, bool) and isinstance(default, bool)
        elif isinstance(default, float):
            ok = isinstance(value, int | float)
            value = float(value) if ok else value  # type: ignore[arg-type]
        else:
            ok = default is dataclasses.MISSING or type(value) is type(default)
        if not ok:
            raise StrategyLoadError(
                f"{where}.{key} = {value!r}: expected a {type(default).__name__} "
                f"like the default {default!r}"
            )
        values[key] = value
    try:
        return plugin.cls.params_type(**values)
    except (TypeError, ValueError) as exc:
        raise StrategyLoadError(f"{where}: {exc}") from exc
