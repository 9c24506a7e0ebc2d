"""Where device YAMLs are: the bundled folder, names -> files, and how files are named in messages."""

from __future__ import annotations

import functools
import os
from pathlib import Path

from accelsim.errors import ConfigError, did_you_mean

ENV_VAR = "ACCELSIM_HW_CONFIGS"
YAML_SUFFIXES = (".yaml", ".yml")
NON_DEVICE_DIRS = ("interconnect",)   # hw_configs/ folders that hold configs other than devices


def hw_configs_dir() -> Path:
    """The bundled device directory: $ACCELSIM_HW_CONFIGS, else the package's hw_configs/."""
    override = os.environ.get(ENV_VAR)
    return Path(override) if override else Path(__file__).resolve().parents[1] / "hw_configs"


def bundled_configs(subdir: str | None = None) -> dict[str, list[Path]]:
    """Bundled YAML files by stem (a list, so that a duplicated stem can be reported): devices, or
    the non-device configs under hw_configs/<subdir> (one of NON_DEVICE_DIRS)."""
    if subdir:
        return dict(_index(str(hw_configs_dir() / subdir), ()))
    return dict(_index(str(hw_configs_dir()), NON_DEVICE_DIRS))


@functools.lru_cache(maxsize=8)
def _index(root: str, skip: tuple[str, ...]) -> tuple[tuple[str, list[Path]], ...]:
    """(stem, paths) of every YAML file under `root` outside its `skip` folders, sorted by stem."""
    found: dict[str, list[Path]] = {}
    for path in sorted(Path(root).rglob("*")):
        if path.suffix in YAML_SUFFIXES and path.is_file() and \
                path.relative_to(root).parts[0] not in skip:
            found.setdefault(path.stem, []).append(path)
    return tuple(sorted(found.items()))


def resolve(spec: str | os.PathLike, base: Path | None = None,
            origin: Origin | None = None) -> Path:
    """The YAML file of a bundled name or a path (relative to `base` if given, else the cwd)."""
    text = os.fspath(spec)
    where = {"file": origin.file, "line": origin.line, "key": "extends"} if origin else {}
    path = Path(text).expanduser()
    if base is not None and not path.is_absolute():
        path = base / path
    looks_like_path = isinstance(spec, os.PathLike) or text.endswith(YAML_SUFFIXES) or \
        "/" in text or os.sep in text
    if not looks_like_path and (text in bundled_configs() or not path.is_file()):
        return _bundled(text, where)
    if not path.is_file():
        if origin is None:
            raise ConfigError("no such file", file=text)
        raise ConfigError(f"no such file {text!r} (looked in {path.parent})", **where)
    return path.resolve()


def _bundled(name: str, where: dict) -> Path:
    """The bundled YAML named `name`; an unknown name suggests the closest ones."""
    paths = bundled_configs().get(name)
    if not paths:
        hint = did_you_mean(name, bundled_configs(), n=3)
        raise ConfigError(f"unknown device {name!r}{hint}; `accelsim list devices` shows the "
                          "bundled ones, or give a path to a YAML file", **where)
    if len(paths) > 1:
        listed = ", ".join(display(path) for path in paths)
        raise ConfigError(f"device name {name!r} is ambiguous: {listed}", **where)
    return paths[0].resolve()


def display(path: Path) -> str:
    """How a file is named in messages: hw_configs/<rel> if bundled, else relative to the cwd."""
    root = hw_configs_dir().resolve()
    if path.is_relative_to(root):
        return f"{root.name}/{path.relative_to(root).as_posix()}"
    relative = os.path.relpath(path)
    return str(path) if relative.startswith("..") else relative
