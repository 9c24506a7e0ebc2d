"""Energy and money: a whole training run, or serving per million tokens or images.

Training run of F FLOPs on N devices of peak P FLOP/s (dense, at the run's precision):
  time   = F / (N x P x MFU)
  energy = N x power x time            (kWh = J / 3.6e6)
  money  = N x time / 3600 x price_per_hour
MFU is the modelled utilisation of one simulated training step of the workload on one device
(the step's FLOPs, forward + backward + optimizer, over latency x P) unless given. The step's batch
is the given one, else DEFAULT_BATCH (256 images for CNNs, 8 sequences otherwise) halved until the
step fits the device's memory. Power per device
is the step's modelled average power (its energy / latency) unless given ("tdp": power.tdp from the
device YAML, or a power like "300 W"). The price is the YAML's price_per_hour unless given. F comes
from `flops`, or from `tokens` / `samples` x the simulated step's FLOPs per token / sample.

Serving at R items/s (decoder LLMs: generated tokens in serve mode, prompt cost included; encoders:
tokens; CNNs: images; from one simulated step at the given batch) with power W per device:
  per million items: device-seconds = 1e6 / R, energy = W x 1e6 / R, money = 1e6 / R / 3600 x price.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

from accelsim.errors import UsageError
from accelsim.devices import run_precision
from accelsim.queries.common import envelope

JOULES_PER_KWH = 3.6e6
SECONDS_PER_HOUR = 3600.0
MILLION = 1e6
DEFAULT_BATCH = {"cnn": 256, None: 8}     # per-device training batch by workload family (None: other)


@dataclass(frozen=True)
class TrainingCost:
    """A training run's time, energy and money; *_source says where each input came from."""

    workload: str
    device: str
    precision: str
    flops: float
    devices: int
    peak_flops: float          # per device, dense, at `precision`
    mfu: float
    mfu_source: str            # "modelled" or "given"
    power_w: float             # per device
    power_source: str          # "modelled", "tdp" or "given"
    price_per_hour: float | None
    price_source: str          # "config", "given" or "none"
    batch: int = 1             # per device, of the simulated step
    batch_source: str = "given"   # "given" or "default"
    stack: str | None = None   # software stack of the simulated step (None: no step simulated)

    @property
    def time_s(self) -> float:
        """Wall-clock time of the run."""
        return self.flops / (self.devices * self.peak_flops * self.mfu)

    @property
    def device_hours(self) -> float:
        """Devices x hours."""
        return self.devices * self.time_s / SECONDS_PER_HOUR

    @property
    def energy_j(self) -> float:
        """Energy of all devices over the run."""
        return self.devices * self.power_w * self.time_s

    @property
    def energy_kwh(self) -> float:
        """Energy in kilowatt-hours."""
        return self.energy_j / JOULES_PER_KWH

    @property
    def cost_usd(self) -> float | None:
        """Device-hours x price (None without a price)."""
        return None if self.price_per_hour is None else self.device_hours * self.price_per_hour

    def to_dict(self) -> dict:
        """The versioned JSON object of the query."""
        return envelope("cost", {"kind": "training", **asdict(self), "time_s": self.time_s,
                                 "device_hours": self.device_hours, "energy_j": self.energy_j,
                                 "energy_kwh": self.energy_kwh, "cost_usd": self.cost_usd})


@dataclass(frozen=True)
class ServingCost:
    """Serving cost per million items (tokens or images) on one device."""

    workload: str
    device: str
    precision: str
    mode: str
    batch: int
    item: str                  # "tokens", "images" or "samples"
    items_per_s: float
    power_w: float
    power_source: str
    price_per_hour: float | None
    price_source: str
    stack: str = ""            # software stack of the simulated run

    @property
    def energy_per_item_j(self) -> float:
        """Energy of one item."""
        return self.power_w / self.items_per_s

    @property
    def seconds_per_million(self) -> float:
        """Device-seconds to serve a million items."""
        return MILLION / self.items_per_s

    @property
    def kwh_per_million(self) -> float:
        """Energy of a million items in kWh."""
        return MILLION * self.energy_per_item_j / JOULES_PER_KWH

    @property
    def usd_per_million(self) -> float | None:
        """Money for a million items (None without a price)."""
        if self.price_per_hour is None:
            return None
        return self.seconds_per_million / SECONDS_PER_HOUR * self.price_per_hour

    def to_dict(self) -> dict:
        """The versioned JSON object of the query."""
        return envelope("cost", {"kind": "serving", **asdict(self),
                                 "energy_per_item_j": self.energy_per_item_j,
                                 "seconds_per_million": self.seconds_per_million,
                                 "kwh_per_million": self.kwh_per_million,
                                 "usd_per_million": self.usd_per_million})


def device_power(device, power: str | float | None, modelled: float | None) -> tuple[float, str]:
    """(watts per device, source): `power` as "tdp" or a power value, else the modelled power."""
    from accelsim.units import UnitError, parse

    if power is None:
        return modelled, "modelled"
    if power == "tdp":
        if device.power.tdp is None:
            raise UsageError(f"{device.name} has no power.tdp; give --power in watts", key="power")
        return device.power.tdp, "tdp"
    try:
        watts = parse(power, "power")
    except UnitError as exc:
        raise UsageError(f"{exc} (or 'tdp')", key="power") from None
    if watts <= 0:
        raise UsageError(f"must be positive, got {power!r}", key="power")
    return watts, "given"


def device_price(device, price: float | None) -> tuple[float | None, str]:
    """(USD per device-hour, source): the given price, else the YAML's price_per_hour, else none."""
    if price is not None:
        if price < 0:
            raise UsageError(f"must be >= 0, got {price!r}", key="price")
        return price, "given"
    return (device.price_per_hour, "config") if device.price_per_hour is not None else (None, "none")


def _total_flops(flops, tokens, samples, step) -> float:
    """Training FLOPs from flops, or tokens / samples x the simulated step's FLOPs per item."""
    if flops is not None:
        return float(flops)
    per_step = step.totals.get("tokens_per_step") if tokens is not None else step.totals["samples_per_step"]
    if not per_step:
        raise UsageError(f"{step.workload} has no tokens; use --samples or --flops", key="tokens")
    return step.totals["flops"] / per_step * (tokens if tokens is not None else samples)


def training_cost(workload, device, *, devices: int = 1, flops: float | None = None,
                  tokens: float | None = None, samples: float | None = None,
                  mfu: float | None = None, power: str | float | None = None,
                  price: float | None = None, batch: int | None = None,
                  precision: str | None = None, overrides: Sequence[str] = (),
                  stack: str | None = None, **workload_params) -> TrainingCost:
    """Time, energy and money of a training run (see the module docstring for the formulas and the
    default batch)."""
    from accelsim.api import load_device, load_workload, simulate

    if sum(value is not None for value in (flops, tokens, samples)) != 1:
        raise UsageError("give exactly one of --flops, --tokens or --samples", key="cost")
    if devices < 1:
        raise UsageError(f"must be >= 1, got {devices}", key="devices")
    if mfu is not None and not 0 < mfu <= 1:
        raise UsageError(f"must be in (0, 1], got {mfu}", key="mfu")
    config = load_device(device, overrides)
    precision = run_precision(config, precision)
    needs_step = mfu is None or power is None or flops is None
    source = "given" if batch else "default"
    if batch is None:
        family = load_workload(workload, precision=precision, **workload_params).info("family")
        batch = DEFAULT_BATCH.get(family, DEFAULT_BATCH[None])
    step = None
    while needs_step:
        step = simulate(workload, config, mode="training", batch=batch, precision=precision,
                        stack=stack, **workload_params)
        if source == "given" or batch == 1 or step.totals["fits_in_memory"]:
            break
        batch //= 2
    peak = config.peak_flops(precision)
    watts, power_source = device_power(config, power,
                                       step.totals["average_power_w"] if step else None)
    price_per_hour, price_source = device_price(config, price)
    name = step.workload if step else load_workload(workload, batch=batch, precision=precision,
                                                    **workload_params).name
    return TrainingCost(
        workload=name, device=config.name, precision=precision,
        flops=_total_flops(flops, tokens, samples, step), devices=devices, peak_flops=peak,
        mfu=mfu if mfu is not None else step.totals["flops"] / (step.totals["latency_s"] * peak),
        mfu_source="given" if mfu is not None else "modelled", power_w=watts,
        power_source=power_source, price_per_hour=price_per_hour, price_source=price_source,
        batch=batch, batch_source=source, stack=step.stack if step else None)


def serving_cost(workload, device, *, batch: int = 1, power: str | float | None = None,
                 price: float | None = None, precision: str | None = None, prompt: int = 128,
                 generate: int = 128, overrides: Sequence[str] = (), stack: str | None = None,
                 **workload_params) -> ServingCost:
    """Cost per million generated tokens (decoders), tokens (encoders) or images (CNNs)."""
    from accelsim.api import load_device, load_workload, simulate

    config = load_device(device, overrides)
    precision = run_precision(config, precision)
    family = load_workload(workload, precision=precision, **workload_params).info("family")
    if family == "decoder":
        result = simulate(workload, config, mode="serve", batch=batch, precision=precision,
                          prompt=prompt, generate=generate, stack=stack, **workload_params)
        item, per_s = "tokens", result.totals["tokens_per_s"]
    else:
        result = simulate(workload, config, batch=batch, precision=precision, stack=stack,
                          **workload_params)
        tokens = result.totals.get("tokens_per_s")
        item = "tokens" if tokens else "images" if family == "cnn" else "samples"
        per_s = tokens or result.totals["throughput"]
    watts, power_source = device_power(config, power, result.totals["average_power_w"])
    price_per_hour, price_source = device_price(config, price)
    return ServingCost(workload=result.workload, device=result.device, precision=result.precision,
                       mode=result.mode, batch=batch, item=item, items_per_s=per_s, power_w=watts,
                       power_source=power_source, price_per_hour=price_per_hour,
                       price_source=price_source, stack=result.stack)
