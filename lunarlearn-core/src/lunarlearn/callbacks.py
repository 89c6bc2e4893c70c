"""Callbacks: objects whose ``lunarlearn_*`` methods are hook implementations.

A callback implements any of the hooks in :mod:`lunarlearn.hookspecs`, taking
only the keyword arguments it needs. The built-in callbacks below are
registered by entry point like third-party ones, so configs name them.
"""

import inspect
import math
import warnings

import numpy as np

from lunarlearn import backend
from lunarlearn.errors import ConfigError, LunarLearnWarning
from lunarlearn.history import History


class GradientWarning(LunarLearnWarning):
    """Gradients grew too large or shrank towards zero during training."""


class Callback:
    """Optional base class; subclasses define the ``lunarlearn_*`` hooks they use."""


def _mode_for(monitor, mode):
    if mode not in ("auto", "min", "max"):
        raise ConfigError(f"invalid mode {mode!r}; expected 'auto', 'min' or 'max'")
    if mode == "auto":
        return "max" if "acc" in monitor else "min"
    return mode


class _Monitor(Callback):
    """Tracks the best value of one figure of the epoch logs."""

    def __init__(self, monitor, mode, min_delta):
        self.monitor = monitor
        self.mode = _mode_for(monitor, mode)
        self.min_delta = abs(float(min_delta))
        self.best = math.inf if self.mode == "min" else -math.inf

    def _improved(self, logs):
        if self.monitor not in logs:
            raise ConfigError(
                f"{type(self).__name__} monitors {self.monitor!r}, which the epoch "
                f"figures lack; available: {', '.join(sorted(logs))}"
            )
        value = float(logs[self.monitor])
        if self.mode == "min":
            better = value < self.best - self.min_delta
        else:
            better = value > self.best + self.min_delta
        if better:
            self.best = value
        return better


class EarlyStopping(_Monitor):
    """Stop training when ``monitor`` stops improving.

    Training stops after ``patience`` epochs in a row without improvement,
    as in Keras; ``patience=0`` stops at the first such epoch, like 1.

    With ``restore_best_weights`` the model gets back the weights of its best
    epoch when this callback stops training. A run that uses all its epochs
    keeps the last weights, as in Keras.
    """

    def __init__(
        self,
        monitor="val_loss",
        patience=3,
        min_delta=0.0,
        mode="auto",
        restore_best_weights=False,
    ):
        super().__init__(monitor, mode, min_delta)
        if isinstance(patience, bool) or not isinstance(patience, int) or patience < 0:
            raise ConfigError(
                f"invalid patience {patience!r}; expected an integer >= 0"
            )
        self.patience = patience
        self.restore_best_weights = restore_best_weights
        self.wait = 0
        self.stopped_epoch = None
        self._best_state = None

    def lunarlearn_train_begin(self, trainer):
        self.wait = 0
        self.best = math.inf if self.mode == "min" else -math.inf
        self.stopped_epoch = None
        self._best_state = None

    def lunarlearn_epoch_end(self, trainer, epoch, logs):
        if self._improved(logs):
            self.wait = 0
            if self.restore_best_weights:
                self._best_state = {
                    k: v.copy() for k, v in trainer.model.state_dict().items()
                }
            return
        self.wait += 1
        if self.wait >= self.patience:
            self.stopped_epoch = epoch
            trainer.stop_training = True
            if self._best_state is not None:
                trainer.model.load_state_dict(self._best_state)


class ModelCheckpoint(_Monitor):
    """Save a checkpoint into ``<out>/<directory>`` whenever ``monitor`` improves.

    With ``save_best_only=False`` it saves after every epoch.
    """

    def __init__(
        self,
        directory="best",
        monitor="val_loss",
        mode="auto",
        save_best_only=True,
        min_delta=0.0,
    ):
        super().__init__(monitor, mode, min_delta)
        self.directory = directory
        self.save_best_only = save_best_only
        self.saved_epochs = []

    def lunarlearn_epoch_end(self, trainer, epoch, logs):
        if self.save_best_only and not self._improved(logs):
            return
        if trainer.out is None:
            raise ConfigError("ModelCheckpoint needs the trainer's output directory")
        # The trainer records this epoch after the hook, so add it here.
        history = History(trainer.history.figures)
        history.append(logs)
        trainer.save_checkpoint(
            trainer.out / self.directory,
            epoch=epoch + 1,
            history=history.to_dict(),
        )
        self.saved_epochs.append(epoch)


class GradientMonitor(Callback):
    """Warn when the global gradient norm explodes or vanishes; log its mean.

    After every training step it computes the L2 norm over all gradients.
    Above ``max_norm``, or non-finite, it warns that gradients explode; below
    ``min_norm`` that they vanish. Each kind of warning is given once per
    epoch. The epoch's mean norm is added to the logs as ``grad_norm``.
    """

    def __init__(self, max_norm=1e3, min_norm=1e-7):
        if not 0 <= min_norm < max_norm:
            raise ConfigError(
                f"invalid norms: min_norm={min_norm!r}, max_norm={max_norm!r}; "
                "expected 0 <= min_norm < max_norm"
            )
        self.max_norm = float(max_norm)
        self.min_norm = float(min_norm)

    def lunarlearn_epoch_begin(self, trainer, epoch):
        self._norms = []
        self._warned = set()

    def lunarlearn_batch_end(self, trainer, batch, logs):
        # Sum on the device and convert once, so a GPU run syncs once per batch.
        squares = [
            backend.get_array_module(p.grad).vdot(p.grad, p.grad)
            for p in trainer.model.parameters()
            if p.grad is not None
        ]
        norm = math.sqrt(float(sum(squares))) if squares else 0.0
        self._norms.append(norm)
        if not math.isfinite(norm) or norm > self.max_norm:
            self._warn(
                trainer,
                "explode",
                f"gradient norm {norm:.3g} exceeds {self.max_norm:g}; "
                "lower the learning rate or clip gradients",
            )
        elif norm < self.min_norm:
            self._warn(
                trainer,
                "vanish",
                f"gradient norm {norm:.3g} is below {self.min_norm:g}; "
                "check the initialisation, activations and learning rate",
            )

    def _warn(self, trainer, kind, message):
        if kind in self._warned:
            return
        self._warned.add(kind)
        warnings.warn(
            f"gradients {kind} at epoch {trainer.epoch + 1}: {message}",
            GradientWarning,
            stacklevel=2,
        )

    def lunarlearn_epoch_end(self, trainer, epoch, logs):
        if self._norms:
            logs["grad_norm"] = float(np.mean(self._norms))


class LambdaCallback(Callback):
    """Wrap plain functions as hooks: ``LambdaCallback(epoch_end=fn)``.

    Each keyword is a hook name without the ``lunarlearn_`` prefix. The
    function is a ``def``, a ``lambda`` or a bound method whose parameters are
    named after some of the hook's arguments, and it gets only those.
    """

    def __init__(self, **hooks):
        from lunarlearn import hookspecs

        for name, function in hooks.items():
            hook_name = f"lunarlearn_{name}"
            spec = getattr(hookspecs, hook_name, None)
            if spec is None:
                known = sorted(
                    hook[len("lunarlearn_") :]
                    for hook in dir(hookspecs)
                    if hook.startswith("lunarlearn_")
                )
                raise ConfigError(
                    f"LambdaCallback: unknown hook {name!r}; hooks: {', '.join(known)}"
                )
            # pluggy calls hooks by parameter name and binds only these kinds.
            if not (inspect.isfunction(function) or inspect.ismethod(function)):
                raise ConfigError(
                    f"LambdaCallback: {name} must be a function or a bound method, "
                    f"got {type(function).__name__}; wrap it in a lambda that "
                    f"takes some of: {', '.join(inspect.signature(spec).parameters)}"
                )
            _check_hook_parameters(name, function, spec)
            setattr(self, hook_name, function)


def _check_hook_parameters(name, function, spec):
    arguments = list(inspect.signature(spec).parameters)
    for parameter in inspect.signature(function).parameters.values():
        required = parameter.default is parameter.empty and parameter.kind in (
            parameter.POSITIONAL_ONLY,
            parameter.POSITIONAL_OR_KEYWORD,
            parameter.KEYWORD_ONLY,
        )
        if required and parameter.name not in arguments:
            raise ConfigError(
                f"LambdaCallback: the {name} function takes {parameter.name!r}, "
                f"but the hook passes only: {', '.join(arguments)}"
            )
