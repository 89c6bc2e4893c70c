"""Exception and warning classes shared by LunarLearn and its plugins."""


class LunarLearnError(Exception):
    """Base class of the errors that LunarLearn raises on purpose."""


class ConfigError(LunarLearnError, ValueError):
    """A configuration names an unknown key or component, or has a bad value."""


class ShapeError(LunarLearnError, ValueError):
    """Arrays with incompatible shapes met in an operation or a layer."""


class PluginError(LunarLearnError):
    """A component name cannot be resolved to exactly one installed plugin."""


class CheckpointError(LunarLearnError):
    """A checkpoint directory is missing files or contains inconsistent data."""


class LunarLearnWarning(UserWarning):
    """Base class of the warnings that LunarLearn emits."""


class PluginLoadWarning(LunarLearnWarning):
    """A plugin failed to import; the other plugins keep working.

    Reinstall the plugin's distribution or uninstall it to silence the warning.
    """
