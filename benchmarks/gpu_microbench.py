"""GPU microbenchmarks for calibrating accelsim: GEMMs, attention, copy bandwidth, launch overhead.

Times each case with CUDA events and samples the board power with NVML (pynvml, else
`nvidia-smi --query-gpu=power.draw`) in a thread while the case runs for a fixed time; writes one
CSV in accelsim's measurements format (workload,device,mode,batch,precision,metric,value,unit,
source) that `accelsim calibrate` reads.

    python benchmarks/gpu_microbench.py --quick --out gpu.csv     # < 3 minutes on one GPU
    python benchmarks/gpu_microbench.py --dry-run --out cpu.csv   # tiny shapes on the CPU, no NVML

Needs PyTorch (imported only when cases run). Workloads: "gemm:MxNxK" ((M x K) @ (K x N)),
"attention:BxHxSxD" (scaled_dot_product_attention, B batch, H heads, S tokens, D head size,
non-causal), "copy:BYTES" (device-to-device copy; throughput counts bytes read plus written) and
"launch:empty" (an empty-kernel launch). `--only gemm` keeps the rows a GEMM-only reader takes.
"""

from __future__ import annotations

import argparse
import csv
import shutil
import subprocess
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

COLUMNS = ("workload", "device", "mode", "batch", "precision", "metric", "value", "unit", "source")
SUITES = ("gemm", "attention", "copy", "launch")
BUNDLED = (("H100", "h100"), ("A100", "a100"), ("V100", "v100"), ("Orin", "jetson_orin"))
FULL_SIZES = (1024, 2048, 4096, 8192, 16384)
QUICK_SIZES = (2048, 8192)
DRY_SIZES = (64,)
THIN_SHAPES = ((1, 8192, 8192), (16, 8192, 8192))      # GEMV-like, memory-bound (M, N, K)
PRECISIONS = ("fp32", "tf32", "fp16", "bf16", "int8", "fp8")


@dataclass(frozen=True)
class Measured:
    """One case's result: seconds per call, work per call, and the board power while it ran."""

    workload: str
    precision: str
    latency_s: float
    work: float = 0.0               # FLOPs (gemm, attention) or bytes moved (copy) per call
    work_unit: str = ""             # "TFLOP/s" or "GB/s": the unit its throughput row takes
    power_w: float | None = None
    batch: int = 1


def rows_for(measured: Measured, device: str, source: str) -> list[dict]:
    """The measurements-CSV rows of one case: latency, throughput (if it has work) and power."""
    base = {"workload": measured.workload, "device": device, "mode": "inference",
            "batch": measured.batch, "precision": measured.precision, "source": source}
    rows = [{**base, "metric": "latency", "value": f"{measured.latency_s * 1e3:.6g}", "unit": "ms"}]
    if measured.work and measured.latency_s > 0:
        scale = 1e12 if measured.work_unit == "TFLOP/s" else 1e9
        rate = measured.work / measured.latency_s / scale
        rows.append({**base, "metric": "throughput", "value": f"{rate:.6g}",
                     "unit": measured.work_unit})
    if measured.power_w is not None:
        rows.append({**base, "metric": "power", "value": f"{measured.power_w:.4g}", "unit": "W"})
    return rows


def write_csv(rows: Iterable[dict], path: str) -> int:
    """Write measurement rows under the COLUMNS header; returns how many were written."""
    count = 0
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        writer.writeheader()
        for row in rows:
            writer.writerow({column: row[column] for column in COLUMNS})
            count += 1
    return count


def bundled_name(gpu_name: str) -> str:
    """accelsim's bundled device name for a CUDA device name ("NVIDIA A100-SXM4-80GB" -> "a100"),
    else the name itself."""
    for marker, name in BUNDLED:
        if marker.lower() in gpu_name.lower():
            return name
    return gpu_name


class PowerSampler:
    """Average board power over a `with` block: NVML's energy counter where the GPU has one, else the
    mean of power readings taken every `period_s` by a thread (pynvml or nvidia-smi)."""

    def __init__(self, index: int = 0, period_s: float = 0.02):
        self.index, self.period_s = index, period_s
        self.read_mw, self.energy_mj = self._backend()
        self.samples: list[float] = []
        self.average_w: float | None = None

    def _backend(self) -> tuple[Callable[[], float] | None, Callable[[], float] | None]:
        """(power reader in mW, energy counter in mJ or None); (None, None) when neither works."""
        try:
            import pynvml

            pynvml.nvmlInit()
            handle = pynvml.nvmlDeviceGetHandleByIndex(self.index)
            pynvml.nvmlDeviceGetPowerUsage(handle)
        except Exception:                       # no pynvml, no driver: fall back to nvidia-smi
            return (self._smi_reader(), None)
        try:
            pynvml.nvmlDeviceGetTotalEnergyConsumption(handle)
            energy = lambda: float(pynvml.nvmlDeviceGetTotalEnergyConsumption(handle))  # noqa: E731
        except Exception:                       # pre-Volta parts have no energy counter
            energy = None
        return (lambda: float(pynvml.nvmlDeviceGetPowerUsage(handle)), energy)

    def _smi_reader(self) -> Callable[[], float] | None:
        """A reader that asks nvidia-smi for the board power (mW), if nvidia-smi is there."""
        if shutil.which("nvidia-smi") is None:
            return None
        query = ["nvidia-smi", f"--id={self.index}", "--query-gpu=power.draw",
                 "--format=csv,noheader,nounits"]
        return lambda: 1e3 * float(subprocess.check_output(query, text=True).split()[0])

    def _sample(self) -> None:
        """Poll the power reader until the block ends."""
        while not self._stop.is_set():
            self.samples.append(self.read_mw() / 1e3)
            self._stop.wait(self.period_s)

    def __enter__(self) -> PowerSampler:
        self.samples, self.average_w = [], None
        self._stop = threading.Event()
        self._start = (time.perf_counter(), self.energy_mj() if self.energy_mj else None)
        self._thread = threading.Thread(target=self._sample, daemon=True) if self.read_mw else None
        if self._thread:
            self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        elapsed = time.perf_counter() - self._start[0]
        if self._thread:
            self._stop.set()
            self._thread.join()
        if self.energy_mj and elapsed > 0:
            self.average_w = (self.energy_mj() - self._start[1]) / 1e3 / elapsed
        elif self.samples:
            self.average_w = sum(self.samples) / len(self.samples)


class Runner:
    """Times callables on one torch device and measures the power they draw when run for a while."""

    def __init__(self, torch, device: str, power_s: float, sampler: PowerSampler | None):
        self.torch, self.device, self.power_s, self.sampler = torch, device, power_s, sampler

    def sync(self) -> None:
        """Wait for queued GPU work (no-op on the CPU)."""
        if self.device == "cuda":
            self.torch.cuda.synchronize()

    def seconds_per_call(self, fn: Callable[[], object], calls: int) -> float:
        """Mean seconds per call of `fn` over `calls` calls after two warm-up calls."""
        for _ in range(2):
            fn()
        self.sync()
        if self.device != "cuda":
            start = time.perf_counter()
            for _ in range(calls):
                fn()
            return (time.perf_counter() - start) / calls
        begin, end = (self.torch.cuda.Event(enable_timing=True) for _ in range(2))
        begin.record()
        for _ in range(calls):
            fn()
        end.record()
        end.synchronize()
        return begin.elapsed_time(end) / 1e3 / calls

    def measure(self, workload: str, precision: str, fn: Callable[[], object], work: float = 0.0,
                work_unit: str = "", batch: int = 1) -> Measured:
        """Latency of `fn` (calls sized to ~0.1 s) and its average power over ~power_s seconds."""
        probe = self.seconds_per_call(fn, 3)
        latency = self.seconds_per_call(fn, max(3, min(10_000, int(0.1 / max(probe, 1e-7)))))
        power = None
        if self.sampler is not None:
            calls = max(1, int(self.power_s / max(latency, 1e-7)))
            with self.sampler:
                for _ in range(calls):
                    fn()
                self.sync()
            power = self.sampler.average_w
        return Measured(workload, precision, latency, work, work_unit, power, batch)


def gemm_fn(torch, precision: str, m: int, n: int, k: int, device: str) -> Callable[[], object]:
    """A call computing one (m x k) @ (k x n) GEMM at `precision`; raises if it cannot run here."""
    if precision == "int8":
        a = torch.randint(-8, 8, (m, k), dtype=torch.int8, device=device)
        b = torch.randint(-8, 8, (k, n), dtype=torch.int8, device=device)
        return lambda: torch._int_mm(a, b)
    if precision == "fp8":
        a = torch.randn(m, k, device=device).to(torch.float8_e4m3fn)
        b = torch.randn(n, k, device=device).to(torch.float8_e4m3fn).t()   # column-major B
        one = torch.ones((), device=device)
        return lambda: torch._scaled_mm(a, b, scale_a=one, scale_b=one, out_dtype=torch.bfloat16)
    dtype = {"fp32": torch.float32, "tf32": torch.float32, "fp16": torch.float16,
             "bf16": torch.bfloat16}[precision]
    a = torch.randn(m, k, dtype=dtype, device=device)
    b = torch.randn(k, n, dtype=dtype, device=device)
    return lambda: torch.matmul(a, b)


def gemm_cases(runner: Runner, sizes: Iterable[int], precisions: Iterable[str]) -> list[Measured]:
    """Square GEMMs at each size and precision plus the thin (GEMV-like) shapes at 16 bits."""
    torch = runner.torch
    shapes = [(s, s, s) for s in sizes] + ([] if runner.device != "cuda" else list(THIN_SHAPES))
    results = []
    for precision in precisions:
        torch.backends.cuda.matmul.allow_tf32 = precision == "tf32"
        for m, n, k in shapes:
            if (m, n, k) in THIN_SHAPES and precision not in ("fp16", "bf16"):
                continue
            try:
                fn = gemm_fn(torch, precision, m, n, k, runner.device)
                fn()
            except (RuntimeError, AttributeError, TypeError, NotImplementedError) as exc:
                print(f"skip gemm {m}x{n}x{k} {precision}: {str(exc).splitlines()[0][:80]}")
                continue
            results.append(runner.measure(f"gemm:{m}x{n}x{k}", precision, fn, 2.0 * m * n * k,
                                          "TFLOP/s"))
    torch.backends.cuda.matmul.allow_tf32 = False
    return results


def attention_cases(runner: Runner, shapes: Iterable[tuple[int, int, int, int]],
                    precision: str) -> list[Measured]:
    """scaled_dot_product_attention (non-causal) at (batch, heads, tokens, head size) shapes."""
    torch = runner.torch
    dtype = torch.float32 if runner.device != "cuda" else torch.float16
    results = []
    for b, h, s, d in shapes:
        q, k, v = (torch.randn(b, h, s, d, dtype=dtype, device=runner.device) for _ in range(3))
        fn = lambda q=q, k=k, v=v: torch.nn.functional.scaled_dot_product_attention(q, k, v)  # noqa: E731
        flops = 4.0 * b * h * s * s * d                 # QK^T and PV: 2 x (2 s^2 d) per head
        results.append(runner.measure(f"attention:{b}x{h}x{s}x{d}",
                                      "fp32" if runner.device != "cuda" else precision, fn, flops,
                                      "TFLOP/s", batch=b))
    return results


def copy_cases(runner: Runner, sizes_bytes: Iterable[int]) -> list[Measured]:
    """Device-to-device copies; throughput counts the bytes read plus written."""
    torch = runner.torch
    results = []
    for size in sizes_bytes:
        src = torch.empty(size, dtype=torch.uint8, device=runner.device)
        dst = torch.empty_like(src)
        results.append(runner.measure(f"copy:{size}", "int8", lambda s=src, t=dst: t.copy_(s),
                                      2.0 * size, "GB/s"))
    return results


def launch_cases(runner: Runner) -> list[Measured]:
    """The time of launching one tiny kernel (an add on one element), back to back."""
    x = runner.torch.zeros(1, device=runner.device)
    return [runner.measure("launch:empty", "fp32", lambda: x.add_(0.0))]


def run(args) -> list[dict]:
    """Run the selected suites and return their CSV rows."""
    import torch

    cuda = torch.cuda.is_available() and not args.dry_run
    if not cuda and not args.dry_run:
        raise SystemExit("no CUDA device: run with --dry-run to exercise the script on the CPU")
    device = "cuda" if cuda else "cpu"
    runner = Runner(torch, device, power_s=0.5 if args.quick or args.dry_run else 3.0,
                    sampler=PowerSampler(torch.cuda.current_device()) if cuda else None)
    name = args.device or (bundled_name(torch.cuda.get_device_name(0)) if cuda else "cpu")
    sizes = DRY_SIZES if args.dry_run else QUICK_SIZES if args.quick else FULL_SIZES
    precisions = ("fp32", "bf16") if args.dry_run else PRECISIONS
    big = 1 << (20 if args.dry_run else 30)
    suites = {
        "gemm": lambda: gemm_cases(runner, sizes, precisions),
        "attention": lambda: attention_cases(
            runner, [(1, 2, 64, 32)] if args.dry_run else [(8, 32, 2048, 128)] +
            ([] if args.quick else [(1, 32, 8192, 128), (32, 16, 1024, 64)]), "fp16"),
        "copy": lambda: copy_cases(runner, [big] if args.quick or args.dry_run else [big >> 4, big]),
        "launch": lambda: launch_cases(runner),
    }
    version = f"torch {torch.__version__}" + (f", CUDA {torch.version.cuda}" if cuda else ", CPU")
    source = f"benchmarks/gpu_microbench.py ({version}; {'dry run' if args.dry_run else 'measured'})"
    rows = []
    for suite in args.only:
        for measured in suites[suite]():
            rows.extend(rows_for(measured, name, source))
    return rows


def parse_args(argv=None):
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="gpu_microbench.csv", help="CSV to write")
    parser.add_argument("--quick", action="store_true", help="fewer shapes, 0.5 s power windows")
    parser.add_argument("--dry-run", action="store_true", help="tiny shapes on the CPU, no NVML")
    parser.add_argument("--device", help="device column (default: the bundled name of GPU 0)")
    parser.add_argument("--only", default=",".join(SUITES),
                        type=lambda text: [s for s in text.split(",") if s],
                        help=f"comma-separated suites among {', '.join(SUITES)}")
    args = parser.parse_args(argv)
    unknown = [s for s in args.only if s not in SUITES]
    if unknown:
        parser.error(f"unknown suite {unknown[0]!r}; expected some of {', '.join(SUITES)}")
    return args


def main(argv=None) -> int:
    """Run, write the CSV, print where it went."""
    args = parse_args(argv)
    count = write_csv(run(args), args.out)
    print(f"wrote {count} rows to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
