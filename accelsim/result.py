"""Results as plain data with a documented, versioned JSON form.

JSON contract (schema_version 1):
  {"schema_version": 1, "workload": str, "device": str (the device's full name),
   "device_id": str (the bundled name or YAML file stem the run was asked for, e.g. "a100"),
   "device_kind": str, "mode": str, "precision": str, "batch": int,
   "stack": str (the software stack modelled: "eager", every op its own kernel, or "compiled",
             fused as inference compilers and XLA run it; see accelsim.workload.stack),
   "totals": {"params", "flops", "macs", "dram_bytes", "latency_s", "energy_j", "peak_memory_bytes",
              "throughput" (samples/s), "flops_per_s" (achieved FLOP/s),
              "samples_per_step", "average_power_w", "energy_breakdown_j",
              "sequence_lengths" (a transformer built from a seq_len distribution,
              accelsim.workload.seqlen: {"spec", "mean" E[L], "mean_square" E[L^2],
              "attention_ratio" E[L^2]/E[L]^2, "padded", "padded_length", "tokens" and "keys"
              per sequence as built}), ... mode-specific entries; on a device with a
              `calibration:` block (accelsim calibrate) also "latency_s_lo"/"latency_s_hi", "throughput_lo"/"throughput_hi" (and
              the same for ttft_s, tpot_s and token rates when serving) and "interval" (how the
              bounds were made)},
   "memory": {"weights", "gradients", "optimizer_state", "activations", ...} (bytes),
   "layers": [{"name", "phase", "kind", "flops", "macs", "dram_bytes", "latency_s", "energy_j",
               "bound", "cycles" (compute cycles, where the device model counts them; SCALE-Sim's
               "compute cycles" on systolic arrays), "stall_cycles" (memory stalls, where counted),
               "unit", "start_s",
               "compute_s", "memory_s",
               os/ws/is systolic array GEMMs only (absent elsewhere): "traffic" {"sram"|"dram":
               {"ifmap"|"filter"|"ofmap": {"reads", "writes"}}} (bytes; dram sums to dram_bytes;
               sram: the array's accesses, plus DRAM bytes passing through under the accelsim
               memory model), "mapping_efficiency" (used PEs / all, averaged
               over the folds), "compute_utilization" (busy PE-cycles / all, averaged over the folds);
               row-stationary GEMMs always, os/ws/is ones under `--mapping search`: "mapping"
               {"objective", "source" (search only: "search", or "fixed" where the device's own
               mapping scored best), and the mapping:
               os/ws/is "unroll", "tile" {"m", "n", "k"}, "loop_order" (outer to inner); rs the
               row-stationary parameters "e", "n", "m", "p", "q", "r", "t", "resident"}}],
   "provenance": {"accelsim_version", "created_utc", "command" (the CLI line, or null),
                  "workload", "params", "device", "device_file", "overrides", "mode", "batch",
                  "precision" (as asked; null: the device's default), "engine", "stack" (as
                  asked; null: the default for the device kind and mode), ... every other
                  option of the run}}
FLOPs = 2 x MACs (+ non-MAC vector FLOPs); bytes are bytes; seconds, joules and watts throughout.
"""

from __future__ import annotations

import json
import shlex
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime, timezone

from accelsim._version import __version__

SCHEMA_VERSION = 1
DYNAMIC_ENERGY = ("compute", "onchip", "offchip")    # energy_breakdown_j keys that scale with work
ENERGY_PARTS = (*DYNAMIC_ENERGY, "static")
COMMAND: ContextVar[tuple[str, ...] | None] = ContextVar("accelsim_command", default=None)


def provenance(**how) -> dict:
    """How a result was made: accelsim version, UTC time, the CLI line (set by the CLI) and `how`."""
    argv = COMMAND.get()
    return {"accelsim_version": __version__,
            "created_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "command": None if argv is None else shlex.join(("accelsim", *argv)), **how}


OPTIONAL = ("cycles", "stall_cycles", "traffic", "mapping_efficiency", "compute_utilization",
            "mapping")


@dataclass(slots=True)
class LayerResult:
    """One op's cost in the context of a run (slotted, not frozen: runs build thousands of them)."""

    name: str
    phase: str
    kind: str
    flops: int
    macs: int
    dram_bytes: float
    latency_s: float
    energy_j: float
    bound: str
    cycles: int | None = None
    stall_cycles: int | None = None
    unit: str = ""
    start_s: float = 0.0
    compute_s: float = 0.0
    memory_s: float = 0.0
    traffic: dict | None = None
    mapping_efficiency: float | None = None
    compute_utilization: float | None = None
    mapping: dict | None = None

    def to_dict(self) -> dict:
        """JSON-ready dict (sharing the traffic dict); the optional counts only where the model
        makes them."""
        values = ((key, getattr(self, key)) for key in self.__slots__)
        return {key: value for key, value in values if value is not None or key not in OPTIONAL}


@dataclass(frozen=True)
class Result:
    """A whole run: per-layer results, totals and the memory breakdown."""

    workload: str
    device: str
    device_kind: str
    mode: str
    precision: str
    batch: int
    layers: tuple[LayerResult, ...]
    totals: dict
    memory: dict = field(default_factory=dict)
    device_id: str = ""
    provenance: dict = field(default_factory=dict)
    stack: str = ""              # software stack the run models: "eager" or "compiled"

    def to_dict(self) -> dict:
        """The versioned JSON object (see module docstring)."""
        return {"schema_version": SCHEMA_VERSION, "workload": self.workload, "device": self.device,
                "device_id": self.device_id, "device_kind": self.device_kind, "mode": self.mode,
                "precision": self.precision, "batch": self.batch, "stack": self.stack,
                "totals": self.totals,
                "memory": self.memory, "layers": [layer.to_dict() for layer in self.layers],
                "provenance": self.provenance}

    @classmethod
    def from_dict(cls, data: dict) -> Result:
        """The Result of a to_dict() object (the inverse of to_dict)."""
        fields = {key: data[key] for key in ("workload", "device", "device_kind", "mode",
                                             "precision", "batch", "totals")}
        return cls(**fields, memory=data.get("memory", {}), device_id=data.get("device_id", ""),
                   provenance=data.get("provenance", {}), stack=data.get("stack", ""),
                   layers=tuple(LayerResult(**layer) for layer in data["layers"]))

    @property
    def short_device(self) -> str:
        """The device as tables show it: its bundled name or file stem, else its full name."""
        return self.device_id or self.device

    def to_json(self, indent: int | None = 2) -> str:
        """Serialize with to_dict()."""
        return json.dumps(self.to_dict(), indent=indent)

    def __getitem__(self, key: str):
        """Shortcut to a total: result["latency_s"]."""
        return self.totals[key]
