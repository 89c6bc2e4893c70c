"""Stochastic gradient descent with optional momentum and Nesterov momentum."""

from lunarlearn.backend import get_array_module
from lunarlearn.errors import ConfigError

from .._validation import (
    check_bool,
    check_closed_unit_interval,
    check_gradient,
    check_non_negative,
)
from ._base import CheckedOptimizer


class SGD(CheckedOptimizer):
    r"""Stochastic gradient descent, with momentum and Nesterov momentum.

    With gradient :math:`g_t`, learning rate :math:`\gamma`, weight decay
    :math:`\lambda`, momentum :math:`\mu` and dampening :math:`\tau`, one step
    updates each parameter :math:`\theta` as:

    .. math::

        g_t &\leftarrow g_t + \lambda \theta_{t-1} \\
        b_t &\leftarrow \begin{cases}
            g_t & t = 1 \\
            \mu b_{t-1} + (1 - \tau) g_t & t > 1
        \end{cases} \\
        d_t &\leftarrow \begin{cases}
            g_t + \mu b_t & \text{nesterov} \\
            b_t & \text{otherwise}
        \end{cases} \\
        \theta_t &\leftarrow \theta_{t-1} - \gamma d_t

    With ``momentum=0`` the buffer :math:`b` is not kept and :math:`d_t = g_t`.
    The first momentum step copies the gradient into the buffer, undamped, and
    the learning rate multiplies the whole step rather than the buffer, as in
    PyTorch's ``torch.optim.SGD``. Nesterov momentum follows Sutskever et al.,
    "On the importance of initialization and momentum in deep learning" (2013),
    http://www.cs.toronto.edu/~hinton/absps/momentum.pdf.

    Args:
        params: Parameters to update, or dicts with a ``"params"`` list plus
            any of the options below, which then override them for that group.
        lr (float): Learning rate, ``>= 0``. Defaults to 0.01.
        momentum (float): Momentum factor, ``>= 0``. Defaults to 0.
        dampening (float): Share of each new gradient removed before it is
            added to the momentum buffer, in ``[0, 1]``. Defaults to 0.
        weight_decay (float): L2 penalty coefficient added to the gradient,
            ``>= 0``. Defaults to 0.
        nesterov (bool): Use Nesterov momentum; needs ``momentum > 0`` and
            ``dampening == 0``. Defaults to False.

    State per parameter: ``momentum_buffer`` (float32 array, created on the
    parameter's first step when ``momentum > 0``).

    Example:
        >>> optimizer = SGD(model.parameters(), lr=0.1, momentum=0.9)
        >>> loss.backward()
        >>> optimizer.step()
        >>> optimizer.zero_grad()
    """

    def __init__(
        self,
        params,
        lr=0.01,
        momentum=0.0,
        dampening=0.0,
        weight_decay=0.0,
        nesterov=False,
    ):
        defaults = {
            "lr": lr,
            "momentum": momentum,
            "dampening": dampening,
            "weight_decay": weight_decay,
            "nesterov": nesterov,
        }
        super().__init__(params, defaults)

    @staticmethod
    def check_options(options, where=""):
        """Validate ``options`` in place, storing each as a plain Python value."""
        options["lr"] = check_non_negative("lr", options["lr"], where)
        for name in ("momentum", "weight_decay"):
            options[name] = check_non_negative(name, options[name], where)
        options["dampening"] = check_closed_unit_interval(
            "dampening", options["dampening"], where
        )
        options["nesterov"] = check_bool("nesterov", options["nesterov"], where)
        if options["nesterov"] and (
            options["momentum"] <= 0 or options["dampening"] != 0
        ):
            raise ConfigError(
                f"invalid nesterov=True{where} with momentum={options['momentum']} "
                f"and dampening={options['dampening']} (Nesterov momentum needs "
                "momentum > 0 and dampening == 0)"
            )

    def step(self):
        """Update every parameter whose ``grad`` is not None."""
        for group in self.param_groups:
            # float() keeps NumPy scalars set by a scheduler from promoting
            # the float32 updates to float64.
            lr = float(group["lr"])
            momentum = float(group["momentum"])
            dampening = float(group["dampening"])
            weight_decay = float(group["weight_decay"])
            nesterov = bool(group["nesterov"])
            for param in group["params"]:
                if param.grad is None:
                    continue
                check_gradient(param, param.grad)
                self._update(param, lr, momentum, dampening, weight_decay, nesterov)

    def _update(self, param, lr, momentum, dampening, weight_decay, nesterov):
        data = param.data
        xp = get_array_module(data)

        # The gradient with the L2 term goes into a new array because p.grad
        # may be shared. "owned" marks arrays that this step may overwrite.
        grad = param.grad
        owned = False
        if weight_decay != 0:
            grad = xp.multiply(data, weight_decay, dtype=data.dtype)
            grad += param.grad
            owned = True

        direction = grad
        if momentum != 0:
            state = self.state.setdefault(param, {})
            buffer = state.get("momentum_buffer")
            if buffer is None:
                buffer = xp.array(grad, dtype=data.dtype, copy=True)
                state["momentum_buffer"] = buffer
            else:
                buffer *= momentum
                if dampening == 0:
                    buffer += grad
                else:
                    buffer += xp.multiply(grad, 1.0 - dampening, dtype=data.dtype)
            if nesterov:
                direction = xp.multiply(buffer, momentum, dtype=data.dtype)
                direction += grad
                owned = True
            else:
                direction = buffer
                owned = False

        if owned:
            direction *= lr
            data -= direction
        else:
            data -= xp.multiply(direction, lr, dtype=data.dtype)
