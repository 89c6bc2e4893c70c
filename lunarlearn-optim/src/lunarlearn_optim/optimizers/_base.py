"""The shared base of this package's optimizers: option checks per group."""

from lunarlearn.optim import Optimizer


class CheckedOptimizer(Optimizer):
    """An optimizer that validates its defaults and every parameter group.

    Subclasses implement :meth:`check_options`, which raises on a bad value and
    stores each option back as a plain Python value.
    """

    def __init__(self, params, defaults):
        defaults = dict(defaults)
        self.check_options(defaults)
        super().__init__(params, defaults)

    @staticmethod
    def check_options(options, where=""):
        """Validate ``options`` in place and store each as a plain Python value.

        ``where`` follows the option name in error messages, for example
        ``" in param_groups[1]"``.
        """
        raise NotImplementedError

    def add_param_group(self, group):
        """Validate the group's overrides, then add it like the base class does.

        A group with a bad option raises before anything is added.
        """
        group = dict(group)
        overrides = {key: value for key, value in group.items() if key in self.defaults}
        options = {**self.defaults, **overrides}
        self.check_options(options, f" in param_groups[{len(self.param_groups)}]")
        group.update({key: options[key] for key in overrides})
        super().add_param_group(group)
