"""The optimizer interface; the optimizers themselves ship in lunarlearn-optim."""

import copy

from lunarlearn import backend
from lunarlearn.tensor import Tensor


class Optimizer:
    """Base class of optimizers that update Parameters from their gradients.

    ``params`` is an iterable of Parameters, or of dicts with a ``"params"``
    list plus options that override ``defaults`` for that group. Subclasses
    implement :meth:`step`, reading each group's options from
    ``self.param_groups`` and keeping per-parameter arrays in
    ``self.state[param]``.
    """

    def __init__(self, params, defaults):
        self.defaults = dict(defaults)
        self.state = {}
        self.param_groups = []
        params = list(params)
        if not params:
            raise ValueError(
                "optimizer got an empty parameter list; a model with lazy layers has "
                "no parameters until its first call, so run one batch through it "
                "(or call model.summary(input_shape)) before creating the optimizer"
            )
        if not isinstance(params[0], dict):
            params = [{"params": params}]
        for group in params:
            self.add_param_group(group)

    def add_param_group(self, group):
        """Add a group of parameters with its own options."""
        group = dict(group)
        params = group["params"]
        params = [params] if isinstance(params, Tensor) else list(params)
        for param in params:
            if not isinstance(param, Tensor):
                raise TypeError(
                    f"optimizer parameters must be Tensors, got {type(param).__name__}"
                )
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        for param in params:
            if id(param) in seen:
                raise ValueError("a parameter appears in more than one parameter group")
        unknown = set(group) - set(self.defaults) - {"params"}
        if unknown:
            raise ValueError(
                f"unknown parameter-group options: {sorted(unknown)}; accepted: "
                f"{sorted(self.defaults)}"
            )
        for key, value in self.defaults.items():
            group.setdefault(key, value)
        group["params"] = params
        self.param_groups.append(group)

    @property
    def lr(self):
        """Learning rate of the first group; setting it sets every group's."""
        return self.param_groups[0]["lr"]

    @lr.setter
    def lr(self, value):
        for group in self.param_groups:
            group["lr"] = value

    def zero_grad(self, set_to_none=True):
        """Clear the gradients of every parameter."""
        for group in self.param_groups:
            for param in group["params"]:
                if set_to_none or param.grad is None:
                    param.grad = None
                else:
                    param.grad = param.grad * 0

    def step(self):
        """Update every parameter that has a gradient."""
        raise NotImplementedError

    def state_dict(self):
        """Return the options and per-parameter state, indexed by parameter order.

        Arrays in the state are the live buffers: copy them before the next step
        to keep a snapshot.
        """
        index = {}
        groups = []
        for group in self.param_groups:
            ids = []
            for param in group["params"]:
                index.setdefault(id(param), len(index))
                ids.append(index[id(param)])
            options = {k: copy.deepcopy(v) for k, v in group.items() if k != "params"}
            groups.append({**options, "params": ids})
        state = {
            index[id(param)]: dict(values)
            for param, values in self.state.items()
            if id(param) in index
        }
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict):
        """Restore what :meth:`state_dict` returned, for the same parameter layout."""
        groups = state_dict["param_groups"]
        if len(groups) != len(self.param_groups):
            raise ValueError(
                f"state has {len(groups)} parameter groups, the optimizer has "
                f"{len(self.param_groups)}"
            )
        params = []
        for saved, group in zip(groups, self.param_groups, strict=True):
            if len(saved["params"]) != len(group["params"]):
                raise ValueError(
                    f"a saved parameter group has {len(saved['params'])} parameters, "
                    f"the optimizer's has {len(group['params'])}"
                )
            params.extend(zip(saved["params"], group["params"], strict=True))
        by_index = dict(params)
        self.state = {}
        for key, values in state_dict["state"].items():
            param = by_index[int(key)]
            xp = backend.get_array_module(param.data)
            self.state[param] = {
                # Arrays are copied onto the parameter's device; scalars as they are.
                name: xp.array(value)
                if hasattr(value, "shape")
                else copy.deepcopy(value)
                for name, value in values.items()
            }
        for saved, group in zip(groups, self.param_groups, strict=True):
            for key, value in saved.items():
                if key != "params":
                    group[key] = copy.deepcopy(value)
