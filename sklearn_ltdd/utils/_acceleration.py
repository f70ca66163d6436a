"""Precision and compilation: the ``precision`` and ``compile`` options of every estimator."""

from __future__ import annotations

import contextlib
import functools
import shutil
import types
import warnings

import torch

PRECISIONS = ("fp32", "bf16")
COMPILE_OPTIONS = ("auto", True, False)


def check_precision(precision) -> str:
    if not (isinstance(precision, str) and precision in PRECISIONS):
        raise ValueError(f"precision must be one of {list(PRECISIONS)}, got {precision!r}.")
    return precision


def check_compile(value):
    if not any(
        value is option or (isinstance(value, str) and value == option)
        for option in COMPILE_OPTIONS
    ):
        raise ValueError(f"compile must be one of {list(COMPILE_OPTIONS)}, got {value!r}.")
    return value


@functools.lru_cache(maxsize=None)
def native_bf16(device_type: str) -> bool:
    """Whether bfloat16 matrix products and convolutions run natively on ``device_type``.

    On the CPU that takes AVX512-BF16 or AMX-BF16 (recent Xeons, AMD Zen 4);
    without them bfloat16 is emulated: one epoch of ConvNet3 (width 128)
    trained at 30 images/s in bf16 (compiled, compilation included) against
    266 in float32 on a 2-core AMD EPYC with AVX2 only
    (``benchmarks/results/cpu_without_bf16/``). On CUDA,
    :func:`torch.cuda.is_bf16_supported`. Where the CPU's features cannot be
    read, True (the user's choice is trusted).
    """
    if device_type == "cuda":
        return bool(torch.cuda.is_available() and torch.cuda.is_bf16_supported())
    if device_type != "cpu":
        return True
    try:
        features = torch._C._cpu._get_cpu_capability()
        return bool(features.get("avx512_bf16") or features.get("amx_bf16"))
    except (AttributeError, RuntimeError):
        try:
            with open("/proc/cpuinfo") as info:
                flags = info.read()
        except OSError:
            return True
        return "avx512_bf16" in flags or "amx_bf16" in flags


@functools.lru_cache(maxsize=None)
def _warn_emulated_bf16(device_type: str) -> None:
    """Once per process and device type: bf16 asked for where it is emulated."""
    warnings.warn(
        f"precision='bf16' on a {device_type.upper()} without native bfloat16 "
        f"(no AVX512-BF16 or AMX-BF16): bfloat16 is emulated and training runs many "
        f"times slower than in float32. Use precision='fp32' on this machine.",
        UserWarning,
        stacklevel=3,
    )


def autocast(precision: str, device):
    """bfloat16 autocast on ``device`` for ``precision="bf16"``, else nothing.

    Matrix products and convolutions run in bfloat16 (AMX on recent x86
    CPUs, tensor cores on GPUs); reductions, norms and losses stay in
    float32, and parameters and their gradients remain float32. Where the
    device has no native bfloat16 (:func:`native_bf16`), one warning per
    process says so and names the fix; the work still runs in bfloat16, as
    asked.
    """
    if precision != "bf16":
        return contextlib.nullcontext()
    device_type = torch.device(device).type
    if not native_bf16(device_type):
        _warn_emulated_bf16(device_type)
    return torch.autocast(device_type=device_type, dtype=torch.bfloat16)


@functools.lru_cache(maxsize=None)
def compiler_available(device_type: str) -> bool:
    """Whether ``torch.compile`` can build kernels for ``device_type`` here.

    On the CPU inductor needs a C++ compiler; a tiny function is compiled
    once per process to find out (a user's machine may have none). On CUDA
    it needs Triton.
    """
    if device_type == "cpu":
        configured = torch._inductor.config.cpp.cxx
        names = [c for c in (configured if isinstance(configured, tuple) else (configured,)) if c]
        if not any(shutil.which(name) for name in names):
            return False
    elif device_type == "cuda":
        try:
            import triton  # noqa: F401
        except ImportError:
            return False
    try:
        probe = torch.compile(lambda x: torch.relu(x) * 2.0 + 1.0, dynamic=False)
        probe(torch.zeros(4, device=device_type))
    except Exception:  # noqa: BLE001 (any failure means: not here)
        return False
    return True


def resolve_compile(value, device) -> bool:
    """``compile`` resolved on ``device``: "auto" compiles where a compiler works.

    ``True`` asks for it; where no compiler works it warns once and runs
    eagerly (the same arithmetic), rather than failing deep inside torch.
    """
    check_compile(value)
    if value is False:
        return False
    device_type = torch.device(device).type
    if compiler_available(device_type):
        return True
    if value is True:
        warnings.warn(
            f"compile=True, but torch.compile cannot build kernels on {device_type} here "
            f"(on the CPU it needs a C++ compiler, such as g++); running eagerly, with the "
            f"same results. Use compile='auto' to choose silently, or install a compiler.",
            RuntimeWarning,
            stacklevel=3,
        )
    return False


class Compiled:
    """``fn`` through ``torch.compile``, falling back to ``fn`` itself if compiling fails.

    Compilation happens at the first call; should it fail there (an
    operation the compiler does not support, a broken tool chain), one
    ``RuntimeWarning`` says so and every call runs ``fn`` eagerly from then
    on. With ``enabled=False`` it is ``fn``.
    """

    def __init__(self, fn, enabled: bool, name: str, **options):
        self.fn = fn
        self.name = name
        self.compiled = torch.compile(fn, **options) if enabled else None

    def __call__(self, *args, **kwargs):
        if self.compiled is None:
            return self.fn(*args, **kwargs)
        try:
            return self.compiled(*args, **kwargs)
        except Exception as exc:  # noqa: BLE001 (reported, then the eager path)
            warnings.warn(
                f"{self.name}: torch.compile failed ({type(exc).__name__}: "
                f"{str(exc).splitlines()[0][:200]}); running eagerly.",
                RuntimeWarning,
                stacklevel=2,
            )
            self.compiled = None
            return self.fn(*args, **kwargs)

    def __getstate__(self):  # compiled code does not pickle: rebuilt eagerly
        return {"fn": self.fn, "name": self.name, "compiled": None}


class _Method(torch.nn.Module):
    """``inner.<method>`` as a module's forward (for ``functional_call``)."""

    def __init__(self, inner, method):
        super().__init__()
        self.inner, self.method = inner, method

    def forward(self, x):
        return getattr(self.inner, self.method)(x)


#: One compiled functional call per architecture, method and device, shared by every
#: module of that architecture in the process (their weights are arguments).
_SHARED = {}


def compiled_functional(module: torch.nn.Module, enabled: bool, name: str, method="forward"):
    """``f(params, buffers, x)``: ``module.<method>(x)`` with the given tensors.

    Compiled (``enabled``) once per architecture, method and device in the
    process: the function runs ``torch.func.functional_call`` on a template
    of the architecture with the weights as arguments, so a fresh network
    at every distillation iteration, or at every fit of a grid search, runs
    the same compiled code instead of compiling again (past torch's limit of
    recompilations it would silently run eagerly). Unprefixed names, as
    ``module.named_parameters()`` gives them. ``module``'s mode (train or
    eval) is read at every call.
    """
    if not enabled:
        template = _Method(module, method)
    else:
        key = (type(module), repr(module), method, str(next(module.parameters()).device))
        if key not in _SHARED:
            import copy

            template = _Method(copy.deepcopy(module), method)
            _SHARED[key] = (
                template,
                {
                    grad: Compiled(_own_code(_functional(template)), True, name)
                    for grad in (False, True)
                },
            )
        template, compiled = _SHARED[key]

    def run(params, buffers, x):
        template.train(module.training)  # a guard of the compiled code: one graph per mode
        params = {f"inner.{k}": v for k, v in params.items()}
        buffers = {f"inner.{k}": v for k, v in buffers.items()}
        if not enabled:
            return torch.func.functional_call(template, (params, buffers), (x,))
        return compiled[torch.is_grad_enabled()](params, buffers, x)

    return run


def _functional(template):
    def functional(params, buffers, x):
        return torch.func.functional_call(template, (params, buffers), (x,))

    return functional


def _own_code(fn):
    """``fn`` with a code object of its own.

    torch.compile keeps a function's compiled variants, and counts them
    against its recompilation limit (8), per code object, and every closure
    made by one ``def`` shares one code object. Without a copy, every
    architecture, mode and grad mode of a process would count against one
    limit, past which torch runs the function eagerly with a warning (seen
    in the benchmark, a process that distils with GM and DM and trains
    evaluators). With a copy per architecture and grad mode, each keeps its
    own few variants (train or eval, a static and a dynamic batch size).
    """
    return types.FunctionType(
        fn.__code__.replace(), fn.__globals__, fn.__name__, fn.__defaults__, fn.__closure__
    )


def compiled_method(module: torch.nn.Module, enabled: bool, name: str, method="forward"):
    """``x -> module.<method>(x)``, compiled once per architecture (``enabled``).

    :func:`compiled_functional` on ``module``'s own parameters and buffers:
    gradients flow to them, batch-norm running statistics update them.
    """
    if not enabled:
        return getattr(module, method)
    functional = compiled_functional(module, True, name, method)
    params, buffers = dict(module.named_parameters()), dict(module.named_buffers())
    return lambda x: functional(params, buffers, x)


class SpeedOptionsMixin:
    """The speed options of every estimator that trains a network, in one place.

    ``ConvNetClassifier``, the distillers and ``CoresetSampler`` take the
    same three parameters, stored unchanged by ``__init__`` and checked and
    resolved here:

    precision : {"fp32", "bf16"}, default="fp32"
        ``"bf16"`` runs the forward passes under bfloat16 autocast:
        convolutions and matrix products in bfloat16 (AMX on recent x86
        CPUs, tensor cores on GPUs); parameters, gradients, norms, losses
        and statistics stay float32. It pays only where the hardware has
        bfloat16 instructions: a CPU without AVX512-BF16 or AMX-BF16 emulates
        them, many times slower than float32, and a warning says so
        (:func:`native_bf16`).
    compile : {False, True, "auto"}, default=False
        Compile the hot loops with ``torch.compile``, once per architecture
        and process (the weights are arguments, so every network of an
        architecture shares the code; a grid search compiles once). "auto"
        compiles where a compiler works (on the CPU, a C++ compiler); True
        warns once and runs eagerly where none does, and a failure to
        compile falls back to eager code with one warning. Compiling costs
        seconds to a minute at the start of a process, so it pays off on
        long fits. What each estimator compiles, its docstring says.
    micro_batch : "auto", int or None, default="auto"
        Run a training batch through a network in passes of this many rows,
        the loss over the whole batch: the same loss and gradients up to
        rounding, and on the CPU faster (the activations fit in the caches).
        "auto": 16 rows on the CPU (64 compiled), scaled by the network's
        activation size, and the whole batch on GPUs and for networks with
        batch norm (whose statistics would change); see
        :func:`~sklearn_ltdd.utils._batching.resolve_micro_batch`.
    """

    def _check_speed_options(self):
        """The three options' errors, before any work."""
        check_precision(self.precision)
        check_compile(self.compile)
        from ._batching import resolve_micro_batch

        resolve_micro_batch(self.micro_batch, "cpu")

    def _resolve_speed(self, device, module):
        """``(compiled, rows per pass)`` for ``module`` on ``device``."""
        from ._batching import activation_size, has_batch_statistics, resolve_micro_batch

        compiled = resolve_compile(self.compile, device)
        micro = resolve_micro_batch(
            self.micro_batch,
            device,
            compiled,
            has_batch_statistics(module),
            activation_size(module),
        )
        return compiled, micro
