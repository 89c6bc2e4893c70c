"""Adam and AdamW, each with the optional AMSGrad variant."""

from lunarlearn.backend import get_array_module

from .._validation import (
    check_betas,
    check_bool,
    check_gradient,
    check_non_negative,
)
from ._base import CheckedOptimizer


class Adam(CheckedOptimizer):
    r"""Adam: adaptive moment estimation, with an L2 penalty on the gradient.

    With gradient :math:`g_t`, learning rate :math:`\gamma`, weight decay
    :math:`\lambda` and ``betas`` :math:`(\beta_1, \beta_2)`, step :math:`t`
    (counted from 1 per parameter) updates each parameter :math:`\theta` as:

    .. math::

        g_t &\leftarrow g_t + \lambda \theta_{t-1} \\
        m_t &\leftarrow \beta_1 m_{t-1} + (1 - \beta_1) g_t \\
        v_t &\leftarrow \beta_2 v_{t-1} + (1 - \beta_2) g_t^2 \\
        \hat v_t &\leftarrow \begin{cases}
            \max(\hat v_{t-1}, v_t) & \text{amsgrad} \\
            v_t & \text{otherwise}
        \end{cases} \\
        \theta_t &\leftarrow \theta_{t-1} - \frac{\gamma}{1 - \beta_1^t}
            \frac{m_t}{\sqrt{\hat v_t} / \sqrt{1 - \beta_2^t} + \epsilon}

    with :math:`m_0 = v_0 = \hat v_0 = 0`. The bias corrections are computed
    in Python floats and ``eps`` is added after the second-moment correction,
    as in PyTorch's ``torch.optim.Adam``.

    References: Kingma and Ba, "Adam: A Method for Stochastic Optimization"
    (2014), https://arxiv.org/abs/1412.6980; for ``amsgrad``, Reddi et al.,
    "On the Convergence of Adam and Beyond" (2018),
    https://openreview.net/forum?id=ryQu7f-RZ.

    Args:
        params: Parameters to update, or dicts with a ``"params"`` list plus
            any of the options below, which then override them for that group.
        lr (float): Learning rate, ``>= 0``. Defaults to 1e-3.
        betas (tuple[float, float]): Decay rates of the first and second
            moment averages, each in ``[0, 1)``. Defaults to (0.9, 0.999).
        eps (float): Term added to the denominator, ``>= 0``. Defaults to 1e-8.
        weight_decay (float): L2 penalty coefficient added to the gradient,
            ``>= 0``. Defaults to 0. See :class:`AdamW` for decoupled decay.
        amsgrad (bool): Divide by the running maximum of the second moment.
            Defaults to False.

    State per parameter: ``step`` (int), ``exp_avg`` and ``exp_avg_sq``
    (float32 arrays), and ``max_exp_avg_sq`` (float32 array) with ``amsgrad``.
    Each parameter also keeps one work array of its own size between steps,
    which :meth:`state_dict` does not save.

    Example:
        >>> optimizer = Adam(model.parameters(), lr=1e-3)
        >>> loss.backward()
        >>> optimizer.step()
        >>> optimizer.zero_grad()
    """

    #: Whether ``weight_decay`` shrinks the parameter directly (AdamW) instead
    #: of adding an L2 term to the gradient (Adam).
    decoupled_weight_decay = False

    def __init__(
        self,
        params,
        lr=1e-3,
        betas=(0.9, 0.999),
        eps=1e-8,
        weight_decay=0.0,
        amsgrad=False,
    ):
        defaults = {
            "lr": lr,
            "betas": betas,
            "eps": eps,
            "weight_decay": weight_decay,
            "amsgrad": amsgrad,
        }
        super().__init__(params, defaults)
        # One work array per parameter, reused by every step. It is kept out of
        # self.state, so state_dict() does not save it.
        self._scratch = {}

    @staticmethod
    def check_options(options, where=""):
        """Validate ``options`` in place, storing each as a plain Python value."""
        options["lr"] = check_non_negative("lr", options["lr"], where)
        options["betas"] = check_betas(options["betas"], where)
        options["eps"] = check_non_negative("eps", options["eps"], where)
        options["weight_decay"] = check_non_negative(
            "weight_decay", options["weight_decay"], where
        )
        options["amsgrad"] = check_bool("amsgrad", options["amsgrad"], where)

    def step(self):
        """Update every parameter whose ``grad`` is not None."""
        for group in self.param_groups:
            # float() keeps NumPy scalars set by a scheduler from promoting
            # the float32 updates to float64.
            options = {
                "lr": float(group["lr"]),
                "beta1": float(group["betas"][0]),
                "beta2": float(group["betas"][1]),
                "eps": float(group["eps"]),
                "weight_decay": float(group["weight_decay"]),
                "amsgrad": bool(group["amsgrad"]),
            }
            for param in group["params"]:
                if param.grad is None:
                    continue
                check_gradient(param, param.grad)
                self._update(param, **options)

    def _init_state(self, param, amsgrad):
        """Return the state of ``param``, creating the moment arrays if missing."""
        xp = get_array_module(param.data)
        state = self.state.setdefault(param, {})
        if "step" not in state:
            state["step"] = 0
            state["exp_avg"] = xp.zeros_like(param.data)
            state["exp_avg_sq"] = xp.zeros_like(param.data)
        if amsgrad and "max_exp_avg_sq" not in state:
            state["max_exp_avg_sq"] = xp.zeros_like(param.data)
        return state

    def _scratch_for(self, param):
        """Return the work array of ``param``, reallocated if its data changed."""
        data = param.data
        scratch = self._scratch.get(param)
        if (
            scratch is None
            or type(scratch) is not type(data)
            or scratch.shape != data.shape
            or scratch.dtype != data.dtype
        ):
            scratch = get_array_module(data).empty_like(data)
            self._scratch[param] = scratch
        return scratch

    def _update(self, param, lr, beta1, beta2, eps, weight_decay, amsgrad):
        data = param.data
        xp = get_array_module(data)
        state = self._init_state(param, amsgrad)
        # int() keeps the count a Python int after a load from 0-d arrays.
        step = int(state["step"]) + 1
        state["step"] = step

        grad = param.grad
        if weight_decay != 0:
            if self.decoupled_weight_decay:
                data *= 1.0 - lr * weight_decay
            else:
                # A new array, because p.grad may be shared.
                grad = xp.multiply(data, weight_decay, dtype=data.dtype)
                grad += param.grad

        exp_avg = state["exp_avg"]
        exp_avg_sq = state["exp_avg_sq"]
        scratch = self._scratch_for(param)

        # m = beta1 * m + (1 - beta1) * g, computed as m += (1 - beta1) * (g - m).
        xp.subtract(grad, exp_avg, out=scratch)
        scratch *= 1.0 - beta1
        exp_avg += scratch

        # v = beta2 * v + (1 - beta2) * g * g
        exp_avg_sq *= beta2
        xp.multiply(grad, grad, out=scratch)
        scratch *= 1.0 - beta2
        exp_avg_sq += scratch

        second_moment = exp_avg_sq
        if amsgrad:
            second_moment = state["max_exp_avg_sq"]
            xp.maximum(second_moment, exp_avg_sq, out=second_moment)

        # The bias corrections are Python floats, computed in double precision.
        step_size = lr / (1.0 - beta1**step)
        bias_correction2_sqrt = (1.0 - beta2**step) ** 0.5

        # m / (sqrt(v) / c + eps) equals m * c / (sqrt(v) + eps * c) with
        # c = sqrt(1 - beta2^t), which saves one pass over the parameter.
        xp.sqrt(second_moment, out=scratch)
        scratch += eps * bias_correction2_sqrt
        xp.divide(exp_avg, scratch, out=scratch)
        scratch *= step_size * bias_correction2_sqrt
        data -= scratch


class AdamW(Adam):
    r"""AdamW: Adam with weight decay decoupled from the gradient.

    The step is :class:`Adam`'s without the L2 term, preceded by shrinking each
    parameter by the learning rate times ``weight_decay``:

    .. math::

        \theta_{t-1} &\leftarrow \theta_{t-1} (1 - \gamma \lambda) \\
        m_t &\leftarrow \beta_1 m_{t-1} + (1 - \beta_1) g_t \\
        v_t &\leftarrow \beta_2 v_{t-1} + (1 - \beta_2) g_t^2 \\
        \hat v_t &\leftarrow \begin{cases}
            \max(\hat v_{t-1}, v_t) & \text{amsgrad} \\
            v_t & \text{otherwise}
        \end{cases} \\
        \theta_t &\leftarrow \theta_{t-1} - \frac{\gamma}{1 - \beta_1^t}
            \frac{m_t}{\sqrt{\hat v_t} / \sqrt{1 - \beta_2^t} + \epsilon}

    The decay scales with ``lr`` (so a schedule that lowers ``lr`` lowers the
    decay too), as in PyTorch's ``torch.optim.AdamW``. Reference: Loshchilov
    and Hutter, "Decoupled Weight Decay Regularization" (2017),
    https://arxiv.org/abs/1711.05101.

    Args:
        params: Parameters to update, or dicts with a ``"params"`` list plus
            any of the options below, which then override them for that group.
        lr (float): Learning rate, ``>= 0``. Defaults to 1e-3.
        betas (tuple[float, float]): Decay rates of the first and second
            moment averages, each in ``[0, 1)``. Defaults to (0.9, 0.999).
        eps (float): Term added to the denominator, ``>= 0``. Defaults to 1e-8.
        weight_decay (float): Decoupled weight decay coefficient, ``>= 0``.
            Defaults to 1e-2.
        amsgrad (bool): Divide by the running maximum of the second moment.
            Defaults to False.

    State per parameter: as :class:`Adam`.

    Example:
        >>> optimizer = AdamW(model.parameters(), lr=1e-3, weight_decay=0.05)
        >>> loss.backward()
        >>> optimizer.step()
        >>> optimizer.zero_grad()
    """

    decoupled_weight_decay = True

    def __init__(
        self,
        params,
        lr=1e-3,
        betas=(0.9, 0.999),
        eps=1e-8,
        weight_decay=1e-2,
        amsgrad=False,
    ):
        super().__init__(
            params,
            lr=lr,
            betas=betas,
            eps=eps,
            weight_decay=weight_decay,
            amsgrad=amsgrad,
        )
