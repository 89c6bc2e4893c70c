"""Components found by name through entry points.

Each component kind has one entry-point group, ``lunarlearn.<kind>``. Listing
reads distribution metadata only; resolving a name imports only the module
that defines that component. Names are snake_case (``adamw``); the class name
(``AdamW``) and the qualified form ``distribution:name`` also resolve.
"""

import difflib
import inspect
from collections.abc import Mapping
from importlib import metadata
from typing import Any, NamedTuple

from lunarlearn.errors import ConfigError, PluginError

#: Component kind -> the extra of the ``lunarlearn`` distribution that provides it.
KINDS = {
    "layers": "layers",
    "initializers": "layers",
    "activations": "layers",
    "losses": "layers",
    "regularizers": "layers",
    "metrics": "layers",
    "optimizers": "optim",
    "schedulers": "optim",
    "datasets": "data",
    "transforms": "data",
    "callbacks": None,
    "visualizers": "viz",
}

#: Distribution name used for components registered at run time.
DYNAMIC = "<registered>"


class Component(NamedTuple):
    """One named component: where it comes from and how to load it."""

    kind: str
    name: str
    #: ``module:attribute`` for entry points, the object's qualified name otherwise.
    value: str
    distribution: str
    version: str
    loader: Any

    @property
    def class_name(self):
        return self.value.rpartition(":")[2].rpartition(".")[2]

    def load(self):
        if self.distribution == DYNAMIC:
            return self.loader
        return self.loader.load()


_cache = {}
_dynamic = {kind: {} for kind in KINDS}


def group(kind):
    """Return the entry-point group of ``kind``."""
    _check_kind(kind)
    return f"lunarlearn.{kind}"


def _check_kind(kind):
    if kind not in KINDS:
        raise ConfigError(f"unknown component kind {kind!r}; kinds: {', '.join(KINDS)}")


def refresh():
    """Forget cached metadata, for distributions installed while running."""
    _cache.clear()


def components(kind):
    """Return every installed and registered component of ``kind``, by name."""
    _check_kind(kind)
    if kind not in _cache:
        found = []
        for entry_point in metadata.entry_points(group=group(kind)):
            dist = entry_point.dist
            found.append(
                Component(
                    kind,
                    entry_point.name,
                    entry_point.value,
                    dist.name if dist is not None else "<unknown>",
                    dist.version if dist is not None else "",
                    entry_point,
                )
            )
        _cache[kind] = found
    dynamic = list(_dynamic[kind].values())
    return sorted([*_cache[kind], *dynamic], key=lambda c: (c.name, c.distribution))


def names(kind):
    """Return the sorted names of the components of ``kind``."""
    return sorted({component.name for component in components(kind)})


def register(kind, name, obj):
    """Register ``obj`` under ``name`` at run time, beside the entry points."""
    _check_kind(kind)
    value = f"{getattr(obj, '__module__', '')}:{getattr(obj, '__qualname__', name)}"
    _dynamic[kind][name] = Component(kind, name, value, DYNAMIC, "", obj)


def unregister(kind, name):
    """Remove a component registered with :func:`register`."""
    _check_kind(kind)
    _dynamic[kind].pop(name, None)


def _normalize(text):
    return text.replace("_", "").replace("-", "").lower()


def _normalize_dist(text):
    return text.replace("_", "-").replace(".", "-").lower()


def _matches(kind, name):
    candidates = components(kind)
    if ":" in name:
        dist, _, short = name.partition(":")
        return [
            c
            for c in candidates
            if _normalize_dist(c.distribution) == _normalize_dist(dist)
            and short in (c.name, c.class_name)
        ]
    for test in (
        lambda c: c.name == name,
        lambda c: c.class_name == name,
        lambda c: _normalize(name) in (_normalize(c.name), _normalize(c.class_name)),
    ):
        found = [c for c in candidates if test(c)]
        if found:
            return found
    return []


def resolve(kind, name):
    """Return the one :class:`Component` that ``name`` denotes, without importing it."""
    if not isinstance(name, str):
        raise ConfigError(f"{kind} name must be a string, got {name!r}")
    found = _matches(kind, name)
    if not found:
        # Behaviour plugins may register components at run time: load them once.
        from lunarlearn.plugins import get_plugin_manager

        get_plugin_manager()
        found = _matches(kind, name)
    if not found:
        raise _unknown_name_error(kind, name)
    distinct = {(c.distribution, c.value): c for c in found}
    if len(distinct) > 1:
        options = ", ".join(
            f"'{c.distribution}:{c.name}' ({c.value})" for c in distinct.values()
        )
        raise PluginError(
            f"{kind} name {name!r} is registered by more than one distribution: "
            f"{options}; use one of the qualified names to choose"
        )
    return found[0]


def install_hint(kind):
    """Return what to install to get components of ``kind``."""
    extra = KINDS[kind]
    if extra is None:
        return "reinstall lunarlearn-core"
    try:
        metadata.distribution(f"lunarlearn-{extra}")
    except metadata.PackageNotFoundError:
        return f"install them with: pip install 'lunarlearn[{extra}]'"
    return (
        f"no installed distribution provides them yet; a plugin can add them in "
        f"the '{group(kind)}' entry-point group"
    )


def _unknown_name_error(kind, name):
    installed = names(kind)
    if not installed:
        return PluginError(
            f"unknown {kind} name {name!r}: no {kind} are installed; "
            f"{install_hint(kind)}"
        )
    # Class names match too, but the suggestion is the snake_case name.
    canonical = {known: known for known in installed}
    for component in components(kind):
        canonical.setdefault(component.class_name, component.name)
    close = difflib.get_close_matches(name, list(canonical), n=3, cutoff=0.5)
    close = list(dict.fromkeys(canonical[match] for match in close))
    close = close or difflib.get_close_matches(name.lower(), installed, n=3, cutoff=0.3)
    suggestion = f"did you mean {', '.join(repr(c) for c in close)}? " if close else ""
    return PluginError(
        f"unknown {kind} name {name!r}; {suggestion}installed: {', '.join(installed)}"
    )


def canonical_name(kind, name):
    """Return the snake_case name that ``name`` resolves to."""
    return resolve(kind, name).name


def get(kind, name):
    """Import and return the component (usually a class) named ``name``."""
    component = resolve(kind, name)
    try:
        return component.load()
    except Exception as exc:
        raise PluginError(
            f"{kind} {component.name!r} from {component.distribution} failed to import "
            f"({component.value}): {type(exc).__name__}: {exc}"
        ) from exc


def accepted_options(factory):
    """Return the keyword names ``factory`` accepts (None if it takes ``**kwargs``)."""
    try:
        signature = inspect.signature(factory)
    except (TypeError, ValueError):
        return None
    accepted = []
    for param in signature.parameters.values():
        if param.kind is param.VAR_KEYWORD:
            return None
        if param.kind in (param.POSITIONAL_OR_KEYWORD, param.KEYWORD_ONLY):
            accepted.append(param.name)
    return accepted


def create(kind, spec, *args, **kwargs):
    """Build a component from a name or a config dict.

    ``spec`` is a name, or a mapping with ``"type"`` and the constructor's
    options. ``args`` and ``kwargs`` are passed as well (for example an
    optimizer's parameters). Any other object is returned unchanged, so
    configs may also hold ready instances.
    """
    if isinstance(spec, str):
        name, options = spec, {}
    elif isinstance(spec, Mapping):
        options = dict(spec)
        if "type" not in options:
            raise ConfigError(
                f"{kind} config {dict(spec)!r} has no 'type'; set it to one of: "
                f"{', '.join(names(kind))}"
            )
        name = options.pop("type")
    else:
        return spec

    factory = get(kind, name)
    options.update(kwargs)
    accepted = accepted_options(factory)
    if accepted is not None:
        # Arguments passed positionally (an optimizer's parameters) are not options.
        accepted = [a for a in accepted if a != "self"][len(args) :]
        unknown = sorted(set(options) - set(accepted))
        if unknown:
            listed = ", ".join(accepted) if accepted else "none (it takes no options)"
            raise ConfigError(
                f"unknown option(s) {', '.join(map(repr, unknown))} for {kind} "
                f"{name!r}; accepted: {listed}"
            )
    _check_arguments(kind, name, factory, args, options)
    return factory(*args, **options)


def _check_arguments(kind, name, factory, args, options):
    """Raise ConfigError when ``factory`` cannot take ``args`` and ``options``."""
    try:
        signature = inspect.signature(factory)
    except (TypeError, ValueError):
        return
    try:
        signature.bind(*args, **options)
    except TypeError as exc:
        raise ConfigError(f"invalid options for {kind} {name!r}: {exc}") from None
