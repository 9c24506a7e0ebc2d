"""The device contract: every kind in config.KINDS has a DeviceModel, and every bundled device
costs ops through it."""

from __future__ import annotations

import inspect

import pytest

from accelsim.config import KINDS
from accelsim.config.loader import list_devices, load_device
from accelsim.devices import model, run_precision
from accelsim.devices.base import BOUNDS, DeviceModel
from accelsim.workload.ir import OpKind
from accelsim.workload.training import training_trace
from accelsim.workload.zoo._builder import NetBuilder


def small_ops(precision: str):
    """A 3x3 conv on a 16x16 image and its ReLU."""
    b = NetBuilder("t", 1, precision)
    x = b.conv2d("conv", b.input((1, 8, 16, 16)), 16, 3, padding=1)
    b.activation("relu", x, "relu")
    return b.graph().ops


@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_implements_the_contract(kind):
    cost_model = model(kind)
    assert isinstance(cost_model, DeviceModel)
    assert list(inspect.signature(cost_model.cost).parameters)[:2] == ["op", "device"]
    assert list(inspect.signature(cost_model.costs).parameters)[:2] == ["ops", "device"]


@pytest.mark.parametrize("name", [row[0] for row in list_devices()])
def test_every_bundled_device_costs_small_ops_through_the_contract(name):
    device = load_device(name)
    cost_model = model(device.kind)
    ops = small_ops(run_precision(device, None))
    alone = [cost_model.cost(op, device) for op in ops]
    assert cost_model.costs(ops[:1], device) == alone[:1]     # a run of one op: the op alone
    for op, cost in zip(ops, cost_model.costs(ops, device)):
        assert (cost.flops, cost.macs) == (op.flops, op.macs)
        assert cost.latency_s >= 0 and cost.energy.total >= 0 and cost.bound in BOUNDS
    assert alone[0].latency_s > 0 and alone[0].energy.total > 0


def every_kind_ops(precision: str):
    """A training step of a tiny network that has an op of every kind (the MoE and embedding too)."""
    b = NetBuilder("t", 2, precision)
    x = b.embedding("emb", b.input((2, 4), "ids", "int32"), 32, 16)
    x = b.softmax("softmax", b.norm("norm", b.moe("moe", x, experts=4, top_k=2, ffn=32)))
    image = b.view(x, (2, 2, 4, 8))
    b.pool("pool", b.activation("relu", b.conv2d("conv", image, 4, 3, padding=1), "relu"), "max", 2)
    return training_trace(b.graph()).ops


@pytest.mark.parametrize("name", [row[0] for row in list_devices()])
def test_every_bundled_device_costs_every_op_kind(name):
    device = load_device(name)
    ops = every_kind_ops(run_precision(device, None))
    assert {op.kind for op in ops} == set(OpKind)
    for op, cost in zip(ops, model(device.kind).costs(ops, device)):
        assert 0 <= cost.latency_s < float("inf") and cost.bound in BOUNDS, op.name
