"""The pluggy PluginManager that loads behaviour plugins and drives callbacks."""

import inspect
import warnings
from importlib import metadata

import pluggy

from lunarlearn import hookspecs, registry
from lunarlearn.errors import PluginLoadWarning

PLUGIN_GROUP = "lunarlearn.plugins"


class PluginManager(pluggy.PluginManager):
    """A pluggy manager for the ``lunarlearn`` hooks.

    Any method whose name starts with ``lunarlearn_`` is a hook
    implementation, decorated with :data:`~lunarlearn.hookspecs.hookimpl` or
    not, so a callback class needs no pluggy import.
    """

    def __init__(self):
        super().__init__("lunarlearn")
        self.add_hookspecs(hookspecs)
        #: Plugin name -> the exception raised while importing it.
        self.load_errors = {}

    def parse_hookimpl_opts(self, plugin, name):
        options = super().parse_hookimpl_opts(plugin, name)
        if options is None and name.startswith("lunarlearn_"):
            # pluggy calls only functions and methods, not other callables.
            if inspect.isroutine(getattr(plugin, name, None)):
                options = {}
        return options

    def load_entry_points(self, group=PLUGIN_GROUP):
        """Import and register every plugin of ``group``.

        A plugin that fails to import is recorded in :attr:`load_errors` and
        reported once with a :class:`~lunarlearn.errors.PluginLoadWarning`.
        Returns the number of plugins registered.
        """
        count = 0
        for entry_point in metadata.entry_points(group=group):
            name = entry_point.name
            if self.get_plugin(name) is not None or name in self.load_errors:
                continue
            try:
                plugin = entry_point.load()
            except Exception as exc:
                self.load_errors[name] = exc
                dist = entry_point.dist.name if entry_point.dist else "unknown"
                warnings.warn(
                    f"plugin {name!r} ({entry_point.value}, from {dist}) failed to "
                    f"import and is skipped: {type(exc).__name__}: {exc}",
                    PluginLoadWarning,
                    stacklevel=2,
                )
                continue
            self.register(plugin, name=name)
            count += 1
        return count


_manager = None


def get_plugin_manager():
    """Return the process's manager, loading the installed plugins on first use."""
    global _manager
    if _manager is None:
        manager = PluginManager()
        manager.load_entry_points()
        manager.hook.lunarlearn_register_components(registry=registry)
        _manager = manager
    return _manager


def reset_plugin_manager():
    """Forget the loaded plugins, so the next use loads them again."""
    global _manager
    _manager = None
    registry.refresh()
