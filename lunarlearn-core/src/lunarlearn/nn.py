"""Modules: Parameters and sub-modules organised into models.

A :class:`Module` registers the Parameters, sub-Modules and buffers assigned
to it as attributes, in definition order, so ``named_parameters()`` yields
dotted names such as ``"block.conv.weight"``. Layers may create their
Parameters lazily in :meth:`Module.build`, which runs once with the shape of
the first input, so a model needs no input sizes beyond the data's.
"""

import contextlib
import fnmatch
import re
from collections import OrderedDict, namedtuple
from collections.abc import Mapping

import numpy as np

from lunarlearn import backend
from lunarlearn.autograd import no_grad
from lunarlearn.errors import ConfigError, ShapeError
from lunarlearn.tensor import Tensor


class Parameter(Tensor):
    """A trainable float32 leaf Tensor owned by a Module."""

    __slots__ = ()

    def __init__(self, data, requires_grad=True, dtype=None):
        if isinstance(data, Tensor):
            data = data.data
        xp = backend.get_array_module(data)
        if dtype is None:
            dtype = backend.DEFAULT_DTYPE
        super().__init__(xp.array(data, dtype=dtype), requires_grad=requires_grad)

    def __repr__(self):
        return f"Parameter(shape={self.shape}, dtype={self.dtype})"


IncompatibleKeys = namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])


class HookHandle:
    """Handle returned by the ``register_*_hook`` methods; ``remove()`` undoes it."""

    def __init__(self, hooks, hook):
        self._hooks = hooks
        self._hook = hook

    def remove(self):
        if self._hook in self._hooks:
            self._hooks.remove(self._hook)


def _snake_case(name):
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).lower()


def _layer_name(cls):
    """Return the registered layer name of ``cls``, else its snake_case class name.

    Naming layers by their registered name makes a Sequential built from
    modules and one built from a config produce the same parameter names.
    """
    from lunarlearn import registry

    value = f"{cls.__module__}:{cls.__qualname__}"
    for component in registry.components("layers"):
        if component.value == value:
            return component.name
    return _snake_case(cls.__name__)


class Module:
    """Base class of layers and models.

    Subclasses call ``super().__init__()`` first, assign Parameters and
    sub-Modules as attributes, and implement :meth:`forward`. A layer that
    needs the input size overrides :meth:`build` to create its Parameters.
    """

    def __init__(self):
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_forward_pre_hooks", [])
        object.__setattr__(self, "_forward_hooks", [])
        object.__setattr__(self, "_backward_hooks", [])
        object.__setattr__(self, "training", True)
        object.__setattr__(self, "built", type(self).build is Module.build)

    # Registration ------------------------------------------------------------

    def __setattr__(self, name, value):
        if "_parameters" not in self.__dict__:
            raise AttributeError(
                f"cannot assign {name!r} before Module.__init__() has run; call "
                "super().__init__() first in the subclass's __init__"
            )
        if isinstance(value, Parameter):
            target = self._parameters
        elif isinstance(value, Module):
            target = self._modules
        elif name in self._buffers:
            # A new array assigned to a buffer's name keeps it a buffer; the
            # registry stores only the name (the array lives in __dict__).
            target = self._buffers
        else:
            target = None
        for registry in (self._parameters, self._modules, self._buffers):
            if registry is not target:
                registry.pop(name, None)
        if target is self._parameters or target is self._modules:
            target[name] = value
        object.__setattr__(self, name, value)

    def __delattr__(self, name):
        for registry in (self._parameters, self._modules, self._buffers):
            registry.pop(name, None)
        object.__delattr__(self, name)

    def register_buffer(self, name, array):
        """Store an array that is state but not trained (saved in ``state_dict``)."""
        self.__setattr__(name, array)
        self._buffers[name] = None
        return array

    def add_module(self, name, module):
        """Register ``module`` under ``name`` (for names that are not identifiers)."""
        if not isinstance(module, Module):
            raise TypeError(f"{name!r} is a {type(module).__name__}, not a Module")
        self._modules[name] = module
        object.__setattr__(self, name, module)

    # Calling -----------------------------------------------------------------

    def build(self, input_shape):
        """Create the Parameters that depend on the input shape (batch axis first)."""

    def forward(self, *inputs):
        raise NotImplementedError(f"{type(self).__name__} does not implement forward()")

    def __call__(self, *inputs):
        if not self.built:
            first = inputs[0]
            self.build(tuple(first.shape))
            object.__setattr__(self, "built", True)
        for hook in self._forward_pre_hooks:
            replaced = hook(self, inputs)
            if replaced is not None:
                inputs = replaced if isinstance(replaced, tuple) else (replaced,)
        output = self.forward(*inputs)
        for hook in self._forward_hooks:
            replaced = hook(self, inputs, output)
            if replaced is not None:
                output = replaced
        if self._backward_hooks and isinstance(output, Tensor) and output.requires_grad:
            for hook in self._backward_hooks:
                output.register_hook(lambda grad, hook=hook: hook(self, grad))
        return output

    def register_forward_pre_hook(self, hook):
        """Call ``hook(module, inputs)`` before forward; it may return new inputs."""
        self._forward_pre_hooks.append(hook)
        return HookHandle(self._forward_pre_hooks, hook)

    def register_forward_hook(self, hook):
        """Call ``hook(module, inputs, output)`` after forward to inspect or replace it.

        Returns a handle whose ``remove()`` unregisters the hook.
        """
        self._forward_hooks.append(hook)
        return HookHandle(self._forward_hooks, hook)

    def register_backward_hook(self, hook):
        """Call ``hook(module, grad_output)`` when the output's gradient is computed.

        The hook may return a replacement for ``grad_output``.
        """
        self._backward_hooks.append(hook)
        return HookHandle(self._backward_hooks, hook)

    # Traversal -----------------------------------------------------------------

    def named_children(self):
        yield from self._modules.items()

    def children(self):
        for _, module in self.named_children():
            yield module

    def named_modules(self, prefix=""):
        """Yield ``(dotted_name, module)`` for this module and all below it."""
        seen = set()
        stack = [(prefix, self)]
        while stack:
            name, module = stack.pop(0)
            if id(module) in seen:
                continue
            seen.add(id(module))
            yield name, module
            children = [
                (f"{name}.{child_name}" if name else child_name, child)
                for child_name, child in module._modules.items()
            ]
            stack[0:0] = children

    def modules(self):
        for _, module in self.named_modules():
            yield module

    def named_parameters(self, prefix="", recurse=True):
        """Yield ``(dotted_name, parameter)`` in definition order, each once."""
        seen = set()
        modules = self.named_modules(prefix) if recurse else [(prefix, self)]
        for module_name, module in modules:
            for name, param in module._parameters.items():
                if param is None or id(param) in seen:
                    continue
                seen.add(id(param))
                yield (f"{module_name}.{name}" if module_name else name), param

    def parameters(self, recurse=True):
        for _, param in self.named_parameters(recurse=recurse):
            yield param

    def named_buffers(self, prefix=""):
        for module_name, module in self.named_modules(prefix):
            for name in module._buffers:
                value = module.__dict__.get(name)
                if value is not None:
                    yield (f"{module_name}.{name}" if module_name else name), value

    def buffers(self):
        for _, value in self.named_buffers():
            yield value

    def apply(self, fn):
        """Call ``fn(module)`` on every sub-module, then on this one."""
        for module in self.children():
            module.apply(fn)
        fn(self)
        return self

    # Modes and state -------------------------------------------------------------

    def train(self, mode=True):
        """Set training mode (dropout active, batch statistics) here and below."""
        for module in self.modules():
            object.__setattr__(module, "training", bool(mode))
        return self

    def eval(self):
        """Set evaluation mode; the same as ``train(False)``."""
        return self.train(False)

    def zero_grad(self):
        for param in self.parameters():
            param.grad = None

    def freeze(self, pattern="*"):
        """Stop training the parameters whose dotted name matches the glob ``pattern``.

        Returns the names frozen; a pattern that matches nothing raises.
        """
        return self._set_trainable(pattern, False)

    def unfreeze(self, pattern="*"):
        """Train again the parameters whose dotted name matches ``pattern``."""
        return self._set_trainable(pattern, True)

    def _set_trainable(self, pattern, trainable):
        names = []
        for name, param in self.named_parameters():
            if fnmatch.fnmatchcase(name, pattern) or fnmatch.fnmatchcase(
                name, f"{pattern}.*"
            ):
                param.requires_grad = trainable
                if not trainable:
                    param.grad = None
                names.append(name)
        if not names:
            available = [name for name, _ in self.named_parameters()]
            raise ValueError(
                f"no parameter name matches {pattern!r}; parameters: {available}"
            )
        return names

    def to(self, device):
        """Move every Parameter and buffer to ``device`` ("cpu" or "cuda") in place."""
        for param in self.parameters():
            param.data = backend.to_device(param.data, device)
            if param.grad is not None:
                param.grad = backend.to_device(param.grad, device)
        for module in self.modules():
            for name in module._buffers:
                value = module.__dict__.get(name)
                if value is not None:
                    object.__setattr__(module, name, backend.to_device(value, device))
        return self

    def state_dict(self):
        """Return an ordered mapping from dotted names to parameter and buffer arrays.

        The arrays are the live data, not copies.
        """
        state = OrderedDict()
        for name, param in self.named_parameters():
            state[name] = param.data
        for name, value in self.named_buffers():
            state[name] = value
        return state

    def load_state_dict(self, state, strict=True):
        """Copy arrays from ``state`` into the parameters and buffers with those names.

        With ``strict``, missing or unexpected names raise; a shape mismatch
        always raises. Returns the missing and unexpected names.
        """
        if not isinstance(state, Mapping):
            raise TypeError(
                "state must be a mapping from names to arrays, got "
                f"{type(state).__name__}"
            )
        targets = {}
        for name, param in self.named_parameters():
            targets[name] = ("param", param)
        for module_name, module in self.named_modules():
            for name in module._buffers:
                full = f"{module_name}.{name}" if module_name else name
                targets[full] = ("buffer", (module, name))
        missing = [name for name in targets if name not in state]
        unexpected = [name for name in state if name not in targets]
        if strict and (missing or unexpected):
            unbuilt = [
                name or "(root)" for name, m in self.named_modules() if not m.built
            ]
            hint = (
                f"; layers {unbuilt} are not built yet, so run one batch through the "
                "model (or call summary(input_shape)) before loading"
                if unbuilt
                else ""
            )
            raise KeyError(
                f"state does not match the model: missing {missing}, unexpected "
                f"{unexpected}{hint}"
            )
        for name, (kind, target) in targets.items():
            if name not in state:
                continue
            value = state[name]
            dtype = getattr(value, "dtype", None)
            if dtype is None or np.dtype(dtype).kind not in "fiub":
                raise TypeError(f"{name}: expected a numeric array, got {value!r:.80}")
            if kind == "param" and np.dtype(dtype).kind != "f":
                raise TypeError(
                    f"{name}: saved dtype {dtype} is not a float type; parameters "
                    "are floating point"
                )
            if kind == "param":
                if tuple(value.shape) != target.shape:
                    raise ShapeError(
                        f"{name}: saved shape {tuple(value.shape)} does not match the "
                        f"parameter's shape {target.shape}"
                    )
                xp = backend.get_array_module(target.data)
                target.data = xp.array(value, dtype=target.dtype)
            else:
                module, attr = target
                current = module.__dict__.get(attr)
                if current is not None and tuple(value.shape) != current.shape:
                    raise ShapeError(
                        f"{name}: saved shape {tuple(value.shape)} does not match the "
                        f"buffer's shape {current.shape}"
                    )
                xp = backend.get_array_module(current) if current is not None else np
                dtype = current.dtype if current is not None else None
                object.__setattr__(module, attr, xp.array(value, dtype=dtype))
        return IncompatibleKeys(missing, unexpected)

    # Description -------------------------------------------------------------

    def get_config(self):
        """Return the constructor arguments as plain values (for configs)."""
        return {}

    def extra_repr(self):
        config = self.get_config()
        return ", ".join(f"{k}={v!r}" for k, v in config.items())

    def __repr__(self):
        lines = [f"{type(self).__name__}({self.extra_repr()}"]
        if self._modules:
            lines[0] = lines[0].rstrip("(") + "("
            for name, module in self._modules.items():
                child = repr(module).replace("\n", "\n  ")
                lines.append(f"  ({name}): {child}")
            return "\n".join(lines) + "\n)"
        return lines[0] + ")"

    def summary(self, input_shape, batch_size=1):
        """Return a table of each sub-module's output shape and parameter count.

        ``input_shape`` excludes the batch axis. Running the summary builds
        lazy layers with a zero input in evaluation mode, without gradients.
        """
        rows = []
        hooks = []
        for name, module in self.named_modules():
            if module is self:
                continue
            if any(True for _ in module.children()):
                continue

            def record(mod, inputs, output, name=name):
                count = sum(p.size for p in mod.parameters())
                rows.append((name, type(mod).__name__, tuple(output.shape), count))

            hooks.append(module.register_forward_hook(record))
        try:
            with evaluation_mode(self), no_grad():
                dummy = np.zeros(
                    (batch_size, *input_shape), dtype=backend.DEFAULT_DTYPE
                )
                output = self(Tensor(dummy))
        finally:
            for hook in hooks:
                hook.remove()
        if not rows:
            count = sum(p.size for p in self.parameters())
            rows.append(("", type(self).__name__, tuple(output.shape), count))
        return _format_summary(self, rows)


@contextlib.contextmanager
def evaluation_mode(module):
    """Put ``module`` in evaluation mode for a block.

    Afterwards each sub-module gets back its own mode, so a layer that was
    in evaluation mode alone (a frozen batch norm) stays so.
    """
    modes = [(child, child.training) for child in module.modules()]
    module.eval()
    try:
        yield module
    finally:
        for child, training in modes:
            object.__setattr__(child, "training", training)


def _format_summary(model, rows):
    header = ("Layer", "Type", "Output shape", "Params")
    body = [
        (name, kind, "(" + ", ".join(["N", *map(str, shape[1:])]) + ")", f"{count:,}")
        for name, kind, shape, count in rows
    ]
    widths = [max(len(r[i]) for r in [header, *body]) for i in range(4)]
    rule = "-" * (sum(widths) + 6)

    def line(row):
        return (
            f"{row[0]:<{widths[0]}}  {row[1]:<{widths[1]}}  "
            f"{row[2]:<{widths[2]}}  {row[3]:>{widths[3]}}"
        )

    total = sum(p.size for p in model.parameters())
    trainable = sum(p.size for p in model.parameters() if p.requires_grad)
    return "\n".join(
        [
            line(header),
            rule,
            *(line(row) for row in body),
            rule,
            f"Total params: {total:,}",
            f"Trainable params: {trainable:,}",
            f"Non-trainable params: {total - trainable:,}",
        ]
    )


class ModuleList(Module):
    """A list of sub-modules, registered under their positions "0", "1", ..."""

    def __init__(self, modules=()):
        super().__init__()
        for module in modules:
            self.append(module)

    def append(self, module):
        self.add_module(str(len(self._modules)), module)
        return self

    def __getitem__(self, index):
        modules = list(self._modules.values())
        if isinstance(index, slice):
            return ModuleList(modules[index])
        return modules[index]

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())


class ModuleDict(Module):
    """A mapping from names to sub-modules, in insertion order."""

    def __init__(self, modules=None):
        super().__init__()
        for name, module in dict(modules or {}).items():
            self[name] = module

    def __setitem__(self, name, module):
        self.add_module(name, module)

    def __getitem__(self, name):
        return self._modules[name]

    def __contains__(self, name):
        return name in self._modules

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules)

    def keys(self):
        return self._modules.keys()

    def values(self):
        return self._modules.values()

    def items(self):
        return self._modules.items()


class Sequential(Module):
    """Modules applied one after the other.

    Items are Modules, or layer configs resolved through the plugin registry:
    a name (``"relu"``) or a dict with ``"type"`` and the layer's options, plus
    an optional ``"name"``. Layers are named after their type (``conv2d``,
    ``dense``, ``dense_1``) unless a name is given.
    """

    def __init__(self, *layers):
        super().__init__()
        object.__setattr__(self, "_types", {})
        if len(layers) == 1 and isinstance(layers[0], list | tuple):
            layers = tuple(layers[0])
        for layer in layers:
            self.append(layer)

    def append(self, layer, name=None):
        """Add a Module or a layer config at the end."""
        module, name, kind = self._resolve(layer, name)
        self.add_module(name, module)
        self._types[name] = kind
        return self

    def _resolve(self, layer, name):
        from lunarlearn import registry

        if isinstance(layer, Module):
            base = _layer_name(type(layer))
        elif isinstance(layer, str | dict):
            spec = dict(layer) if isinstance(layer, dict) else {"type": layer}
            name = spec.pop("name", name)
            module = registry.create("layers", spec)
            if not isinstance(module, Module):
                raise ConfigError(
                    f"layer {spec.get('type')!r} resolved to {type(module).__name__}, "
                    "which is not a Module"
                )
            base, layer = spec["type"], module
            base = registry.canonical_name("layers", base)
        else:
            raise TypeError(
                f"Sequential items must be Modules, layer names or config dicts, "
                f"got {type(layer).__name__}"
            )
        if name is None:
            name = base
            suffix = 1
            while name in self._modules:
                name = f"{base}_{suffix}"
                suffix += 1
        elif name in self._modules:
            raise ConfigError(f"duplicate layer name {name!r} in Sequential")
        return layer, name, base

    def forward(self, x):
        for module in self._modules.values():
            x = module(x)
        return x

    def __getitem__(self, key):
        if isinstance(key, str):
            return self._modules[key]
        if isinstance(key, slice):
            # The slice shares the layers and keeps their names.
            part = Sequential()
            for name in list(self._modules)[key]:
                part.append(self._modules[name], name=name)
                part._types[name] = self._types.get(name, part._types[name])
            return part
        return list(self._modules.values())[key]

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def extra_repr(self):
        return ""

    def get_config(self):
        layers = []
        for name, module in self._modules.items():
            kind = self._types.get(name, _snake_case(type(module).__name__))
            layers.append({"type": kind, "name": name, **module.get_config()})
        return {"layers": layers}
