"""SCALE-Sim v2 .cfg files, read without the device schemas (`accelsim scalesim` needs no pydantic)."""

from __future__ import annotations

import configparser
import re
from pathlib import Path
from typing import NamedTuple

from accelsim.errors import ConfigError
from accelsim.text_files import read_text


class ScalesimCfg(NamedTuple):
    """A SCALE-Sim v2 .cfg file: the run name, the array and its memory system (sizes in words)."""

    run_name: str
    rows: int
    cols: int
    dataflow: str
    ifmap_sram: int
    filter_sram: int
    ofmap_sram: int
    user_bandwidth: int               # words per cycle per buffer; 0 for InterfaceBandwidth CALC


# the offsets are checked but not kept: addresses are counted from each operand's first
CFG_KEYS = {"ArrayHeight": 1, "ArrayWidth": 1, "IfmapSramSzkB": 1, "FilterSramSzkB": 1,
            "OfmapSramSzkB": 1, "IfmapOffset": 0, "FilterOffset": 0, "OfmapOffset": 0}


def read_scalesim_cfg(path: str | Path) -> ScalesimCfg:
    """Read a SCALE-Sim .cfg ([general] run_name, [architecture_presets], [run_presets])."""
    name = str(path)
    parser = configparser.ConfigParser()
    try:
        text = read_text(path, name, ConfigError)
        parser.read_string(text, source=name)
        run_name = parser.get("general", "run_name").strip()
        arch = parser["architecture_presets"]
        mode = parser.get("run_presets", "InterfaceBandwidth").strip().upper()
        numbers = {key: _cfg_int(arch, key, low, (name, text)) for key, low in CFG_KEYS.items()}
        dataflow = arch["Dataflow"].strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read SCALE-Sim config: {exc}", file=name) from None
    except configparser.Error as exc:
        raise ConfigError(str(exc).splitlines()[0], file=name) from None
    except KeyError as exc:
        raise ConfigError(f"missing section or option {exc.args[0]!r}", file=name) from None
    if dataflow not in ("os", "ws", "is"):
        raise ConfigError(f"Dataflow must be os, ws or is, got {dataflow!r}", file=name,
                          key="Dataflow")
    if mode not in ("USER", "CALC"):
        raise ConfigError(f"InterfaceBandwidth must be USER or CALC, got {mode!r}", file=name,
                          key="InterfaceBandwidth")
    bandwidth = _cfg_int(arch, "Bandwidth", 1, (name, text), first=True) if mode == "USER" else 0
    if not run_name:
        raise ConfigError("run_name is empty", file=name, key="run_name")
    kb = 1024
    return ScalesimCfg(run_name, numbers["ArrayHeight"], numbers["ArrayWidth"], dataflow,
                       numbers["IfmapSramSzkB"] * kb, numbers["FilterSramSzkB"] * kb,
                       numbers["OfmapSramSzkB"] * kb, bandwidth)


def _cfg_int(section, key: str, low: int, source: tuple[str, str], first: bool = False) -> int:
    """An integer option >= low (`first`: the first of a comma-separated list, as SCALE-Sim);
    `source`: the file's name and text, to name the line of a bad value."""
    text = section[key].strip()
    if first:
        text = text.split(",")[0].strip()
    if not text.isdigit() or int(text) < low:
        name, lines = source
        option = re.compile(rf"\s*{key}\s*[:=]", re.IGNORECASE)
        line = next((i for i, row in enumerate(lines.splitlines(), 1) if option.match(row)), None)
        raise ConfigError(f"expected an integer >= {low}, got {text!r}", file=name, line=line,
                          key=key)
    return int(text)
