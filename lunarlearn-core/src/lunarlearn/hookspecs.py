"""Hook specifications: the points where plugins and callbacks take part.

Implementations are plain methods or functions named like the specs; a
callback is any object with some of them. Every argument is passed by keyword,
so an implementation may accept only the ones it uses.
"""

import pluggy

hookspec = pluggy.HookspecMarker("lunarlearn")
hookimpl = pluggy.HookimplMarker("lunarlearn")


# Training lifecycle ------------------------------------------------------------


@hookspec
def lunarlearn_train_begin(trainer):
    """Called once before the first epoch.

    :param trainer: the running :class:`~lunarlearn.trainer.Trainer`.
    """


@hookspec
def lunarlearn_train_end(trainer, history):
    """Called once after the last epoch, also when training stopped early.

    :param history: the :class:`~lunarlearn.history.History` of the run.
    """


@hookspec
def lunarlearn_epoch_begin(trainer, epoch):
    """Called before each epoch; ``epoch`` counts from 0."""


@hookspec
def lunarlearn_epoch_end(trainer, epoch, logs):
    """Called after each epoch, validation included.

    :param logs: the epoch's figures (``loss``, ``val_loss``, metrics, ``lr``,
        ``epoch_time``); implementations may add entries, which reach the history.
    """


@hookspec
def lunarlearn_batch_begin(trainer, batch):
    """Called before each training batch; ``batch`` counts from 0 in each epoch."""


@hookspec
def lunarlearn_batch_end(trainer, batch, logs):
    """Called after each training step.

    :param logs: the epoch's running mean ``loss`` and metrics so far.
    """


@hookspec
def lunarlearn_validation_end(trainer, epoch, logs):
    """Called after each validation pass with its figures (``val_`` keys)."""


@hookspec
def lunarlearn_checkpoint_save(trainer, path, state):
    """Called before a checkpoint is written to the directory ``path``.

    :param state: a dict of JSON-serialisable values saved with the checkpoint;
        implementations may add their own entries.
    """


@hookspec
def lunarlearn_checkpoint_load(trainer, path, state):
    """Called after a checkpoint was read, with the ``state`` that was saved."""


@hookspec
def lunarlearn_exception(trainer, error):
    """Called when training fails with ``error``, before it propagates."""


# Registration ------------------------------------------------------------------


@hookspec
def lunarlearn_register_components(registry):
    """Register components at run time with ``registry.register(kind, name, obj)``.

    :param registry: the :mod:`lunarlearn.registry` module.
    """


@hookspec
def lunarlearn_add_commands(subparsers):
    """Add sub-commands to the ``lunarlearn`` command line.

    :param subparsers: the :mod:`argparse` sub-parsers action. A command sets
        ``func`` with ``parser.set_defaults(func=...)``; it receives the parsed
        arguments and returns the exit status.
    """
