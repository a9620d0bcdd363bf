"""The one registry of initialization methods, the user's own initializers among them.

An initializer is a function `fn(model, *, seed, **options)` that changes the model's
parameters in place (it may return the model or None). A study names it in one of two ways:
- a registered name: the package's methods register in the `inits/` module of their kind, and
  a user registers a function with `@register("myinit")` in a notebook or a module;
- `"module.path:function"`: imported when first asked for, so a command line, a notebook's
  parameters or a job process can name a function nobody registered there. Modules are looked
  up where Python looks (installed packages, PYTHONPATH) and in the project root, the working
  folder of the notebooks' kernels and of their jobs, so every process finds the same module.

A run names its init with an `InitSpec`: the name, its options and, for a user's function, a
hash of the function's source (`fingerprint`), so editing the function names new runs instead
of reusing runs of the old code. Every random draw takes a `seed`, so a study gives all methods
the same start for what a method leaves alone (a paired comparison). An initializer that needs
data declares a `data` parameter and the study passes a batch of training inputs there.

The package's methods are listed by name in `names` (no torch); their modules are imported on
the first lookup of a function, so settings that only check names never import torch.
"""

from __future__ import annotations

import functools
import hashlib
import importlib
import inspect
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Mapping, Sequence

from initlab import paths
from initlab.inits.names import BUILTINS, DATA_METHODS, METHODS
from initlab.inits.options import (  # noqa: F401  (part of this module's API)
    RESERVED,
    InitOptions,
    check_options,
    options_for,
    parse_options,
)
from initlab.registry import Registry

if TYPE_CHECKING:
    from torch import nn

    from initlab.data import ImageSet

DATA_BATCH = 256  # training images a data-dependent init (LSUV) sees

Initializer = Callable[..., "nn.Module | None"]
INITIALIZERS: Registry[Initializer] = Registry(
    "init method", modules=tuple(f"initlab.inits.{module}" for module in METHODS))
SPELLING = "name a function as 'module.path:function'"


def register(name: str) -> Callable[[Initializer], Initializer]:
    """Decorator: `@register("myinit")` makes a function known to `initialize` by that name.

    Registering a name again replaces the earlier function (a notebook cell run twice); a
    function from outside the package cannot take a built-in's name, so `kaiming_normal`
    always means the package's own. A method of `initlab.inits` must be listed under its
    module in `names.METHODS` (what settings check names against without importing it)."""
    if not isinstance(name, str) or not name or ":" in name or name != name.strip():
        raise ValueError(f"init name {name!r}: use a plain name, without ':' or spaces")

    def wrap(function: Initializer) -> Initializer:
        module = getattr(function, "__module__", None) or ""
        if module.startswith("initlab.inits."):
            if name not in METHODS.get(module.rpartition(".")[2], ()):
                raise ValueError(f"init {name!r} of {module} is not listed under its module "
                                 "in initlab.inits.names.METHODS")
        elif name in BUILTINS and not is_builtin(function):
            raise ValueError(f"init name {name!r} is one of the package's methods; register "
                             "yours under another name")
        return INITIALIZERS.register(name)(function)

    return wrap


def methods() -> tuple[str, ...]:
    return INITIALIZERS.names()


def is_builtin(function: Callable) -> bool:
    """Whether `function` is one of the package's methods (their changes bump a study's
    PROTOCOL, so their runs are not named by a source hash)."""
    module = getattr(function, "__module__", None) or ""
    return module.startswith("initlab.")


def resolve(method: str) -> Callable:
    """The function a method name stands for: a registered one, or `module.path:function`
    imported now. ValueError with one line saying what is wrong otherwise."""
    if not isinstance(method, str):
        raise ValueError(f"init method {method!r}: give a name or 'module.path:function'")
    if method in INITIALIZERS.names():
        return INITIALIZERS.get(method)
    if ":" not in method:
        raise ValueError(f"unknown init method {method!r}; choose one of {', '.join(methods())}, "
                         f"or {SPELLING} (a name registered in a notebook is known only to "
                         "that notebook's process)")
    module_name, _, attribute = (part.strip() for part in method.partition(":"))
    if not module_name or not attribute:
        raise ValueError(f"init method {method!r}: write it as 'module.path:function'")
    function: Any = _import(module_name, method)
    for part in attribute.split("."):
        if not hasattr(function, part):
            raise ValueError(f"init method {method!r}: module {module_name!r} has no "
                             f"{attribute!r}")
        function = getattr(function, part)
    if not callable(function):
        raise ValueError(f"init method {method!r} is a {type(function).__name__}, not a function")
    return function


def _import(module_name: str, method: str):
    root = str(paths.project_root())
    if root not in sys.path:
        sys.path.append(root)  # last: an installed package of the same name comes first
    if module_name not in sys.modules:
        importlib.invalidate_caches()  # a module written since this process started
    try:
        return importlib.import_module(module_name)
    except Exception as error:  # noqa: BLE001 - any failure of the user's module, in one line
        reason = " ".join(str(error).split()) or "no message"
        raise ValueError(f"init method {method!r}: cannot import module {module_name!r} "
                         f"({type(error).__name__}: {reason})") from None


def initialize(model: nn.Module, method: str, **options) -> nn.Module:
    """Initialize `model` in place with `method` (a registered name or
    'module.path:function'); returns the model, also when the function returned None."""
    result = resolve(method)(model, **options)
    if result is not None and result is not model:
        raise ValueError(f"init method {method!r} returned another module; an initializer "
                         "changes the model it is given in place (return it or None)")
    return model


def wants_data(method: str) -> bool:
    """Whether `method` declares a `data` parameter (a batch of training inputs: LSUV)."""
    try:
        return "data" in inspect.signature(resolve(method)).parameters
    except (TypeError, ValueError):  # no signature (a builtin): it takes no data
        return False


def check_methods(names: Sequence[str] | str, allowed: Sequence[str] | None = None, *,
                  setting: str = "inits") -> None:
    """For a settings' `__post_init__`: each name is a registered method, one of `allowed`
    (names a study handles itself), or an importable 'module.path:function'."""
    extra = tuple(allowed or ())
    for name in (names,) if isinstance(names, str) else names:
        if name in BUILTINS or name in extra:  # without importing the methods (torch)
            continue
        if isinstance(name, str) and ":" not in name and name in INITIALIZERS.names():
            continue  # a user's, registered in this process
        if isinstance(name, str) and ":" in name:
            try:
                resolve(name)
            except ValueError as error:
                raise ValueError(f"{setting}: {error}") from None
            continue
        valid = ", ".join(sorted(set(methods()) | set(extra)))
        raise ValueError(f"{setting}: unknown init {name!r}; choose from {valid}, or {SPELLING}")


def check_keywords(method: str, function: Callable, options: Mapping[str, Any]) -> None:
    """`function` takes a `seed` and each of `options` as keywords (or has **options)."""
    try:
        parameters = inspect.signature(function).parameters
    except (TypeError, ValueError):  # no signature to read: the call will tell
        return
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()):
        return
    takes = [p for p in list(parameters)[1:] if p not in RESERVED]
    if "seed" not in parameters:
        raise ValueError(f"init {method!r} takes no `seed`, so it cannot be one of a study's "
                         "inits (write it as fn(model, *, seed, **options))")
    unknown = [key for key in options if key not in takes]
    if unknown:
        raise ValueError(f"init {method!r} has no option {', '.join(map(repr, unknown))}; its "
                         f"options: {', '.join(takes) or 'none'}")


def fingerprint(method: str) -> str:
    """16 hex digits of sha256 over the function's qualified name and source (its code
    object where there is no source): a new value whenever the function's text changes.
    Only the function's own text counts, not the helpers it calls."""
    function = resolve(method)
    owner = function if hasattr(function, "__qualname__") else type(function)
    name = f"{getattr(owner, '__module__', '')}.{owner.__qualname__}"
    return hashlib.sha256(name.encode() + b"\0" + _source(function)).hexdigest()[:16]


def _source(function: Callable) -> bytes:
    if isinstance(function, functools.partial):
        bound = repr((function.args, sorted(function.keywords.items())))
        return _source(function.func) + bound.encode()
    target = function if inspect.isroutine(function) or inspect.isclass(function) \
        else type(function)  # a callable object: its class's text
    try:
        return inspect.getsource(target).encode()
    except (OSError, TypeError):
        code = getattr(inspect.unwrap(target), "__code__", None)
        return _code_bytes(code) if code is not None else b""


def _code_bytes(code) -> bytes:
    """A code object's instructions, names and constants, without line numbers or ids."""
    parts = [code.co_code, repr(code.co_names).encode(), repr(code.co_varnames).encode()]
    for const in code.co_consts:
        if inspect.iscode(const):
            parts.append(_code_bytes(const))
        elif isinstance(const, frozenset):  # its order varies with the hash seed
            parts.append(repr(sorted(map(repr, const))).encode())
        else:
            parts.append(repr(const).encode())
    return b"\0".join(parts)


@dataclass(frozen=True)
class InitSpec:
    """One init as a run's settings hold it (frozen, hashable): its name as written, its
    options, and for a user's function the `fingerprint` of its source ("" for built-ins)."""

    name: str
    options: tuple[tuple[str, Any], ...] = ()
    source: str = ""

    @classmethod
    def of(cls, name: str, options: Mapping[str, Any] | None = None) -> InitSpec:
        """The spec of init `name` with `options`, checked against the function's keywords
        now (a misspelt option fails here, not in a run an hour later)."""
        frozen = parse_options({name: dict(options or {})})[name]
        function = resolve(name)
        check_keywords(name, function, frozen)
        source = "" if is_builtin(function) else fingerprint(name)
        return cls(name, tuple(sorted(frozen.items())), source)

    @classmethod
    def for_run(cls, name: str, options: Mapping[str, Any] | None = None) -> InitSpec | None:
        """The spec a run's settings hold for init `name`: None for a built-in given neither
        options nor data (its runs keep the names they had before specs existed), else `of`.
        That None is known from `names` alone, so listing runs (`initlab plan`) needs no torch."""
        if name in BUILTINS and not options and name not in DATA_METHODS:
            return None
        spec = cls.of(name, options)
        return spec if spec.source or spec.options or wants_data(name) else None

    def apply(self, model: nn.Module, seed: int | None, *, data: Any = None,
              images: ImageSet | None = None, batch_seed: int = 0, **extra) -> nn.Module:
        """Initialize `model` in place; `data` (a batch of training inputs, or one drawn from
        `images` with `batch_seed` by `training_batch`, only when needed) reaches only an
        initializer that declares it. Fails if the function changed since the run was named."""
        if self.source and (now := fingerprint(self.name)) != self.source:
            raise ValueError(f"init {self.name!r} changed since this run was named (source "
                             f"{self.source} -> {now}); run the command again")
        if wants_data(self.name):
            if data is None and images is not None:
                data = training_batch(images, batch_seed)
            extra["data"] = data
        return initialize(model, self.name, seed=seed, **dict(self.options), **extra)


def training_batch(images: ImageSet, seed: int) -> Any:
    """`DATA_BATCH` images of `images` (all, if fewer) drawn with `seed`, as float inputs
    normalized the way the network is trained: what a data-dependent init sees."""
    return images.chunks(1, min(DATA_BATCH, len(images)), seed)[0].to_float()
