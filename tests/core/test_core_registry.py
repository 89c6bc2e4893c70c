"""Registry: finding components by name, errors for unknown and duplicate names."""

import subprocess
import sys
import textwrap
import warnings
from importlib import metadata
from types import SimpleNamespace

import pytest

from lunarlearn import registry
from lunarlearn.callbacks import EarlyStopping, ModelCheckpoint
from lunarlearn.errors import ConfigError, PluginError, PluginLoadWarning
from lunarlearn.plugins import PluginManager


@pytest.fixture
def fresh_registry():
    """Drop cached entry points before and after a test that fakes them."""
    registry.refresh()
    yield registry
    registry.refresh()


class FakeEntryPoint:
    """An entry point of a distribution that is not installed."""

    def __init__(self, name, value, group, dist_name, version="1.0", error=None):
        self.name = name
        self.value = value
        self.group = group
        self.dist = SimpleNamespace(name=dist_name, version=version)
        self.error = error

    def load(self):
        if self.error is not None:
            raise self.error
        return metadata.EntryPoint(self.name, self.value, self.group).load()


def fake_entry_points(monkeypatch, extra):
    """Add ``extra`` entry points to the groups they name."""
    real = metadata.entry_points

    def entry_points(**selection):
        found = list(real(**selection))
        group = selection.get("group")
        return found + [ep for ep in extra if ep.group == group]

    monkeypatch.setattr(metadata, "entry_points", entry_points)


def run_python(code):
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


# Lookup ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    ["adamw", "AdamW", "ADAMW", "lunarlearn-optim:adamw", "lunarlearn_optim:AdamW"],
)
def test_get_accepts_name_forms(name):
    from lunarlearn_optim import AdamW

    assert registry.get("optimizers", name) is AdamW


def test_canonical_name_is_snake_case():
    assert registry.canonical_name("layers", "Conv2d") == "conv2d"
    assert registry.canonical_name("losses", "CrossEntropy") == "cross_entropy"
    assert registry.canonical_name("callbacks", "EarlyStopping") == "early_stopping"


def test_resolve_reports_distribution():
    component = registry.resolve("optimizers", "sgd")
    assert component.distribution == "lunarlearn-optim"
    assert component.version == "0.1.0"
    assert component.value == "lunarlearn_optim.optimizers.sgd:SGD"
    assert component.class_name == "SGD"


def test_names_lists_installed_components():
    assert registry.names("optimizers") == ["adam", "adamw", "sgd"]
    assert "early_stopping" in registry.names("callbacks")


def test_unknown_kind_raises():
    with pytest.raises(ConfigError, match="unknown component kind 'optimizer'"):
        registry.get("optimizer", "sgd")


def test_non_string_name_raises():
    with pytest.raises(ConfigError, match="must be a string, got 3"):
        registry.get("optimizers", 3)


# Unknown names --------------------------------------------------------------------


def test_unknown_name_suggests_close_names():
    with pytest.raises(PluginError) as raised:
        registry.get("optimizers", "adamww")
    message = str(raised.value)
    assert "unknown optimizers name 'adamww'" in message
    assert "did you mean 'adamw', 'adam'?" in message
    assert "'Adam'" not in message  # class names map to their snake_case name
    assert message.endswith("installed: adam, adamw, sgd")


def test_unknown_name_lists_installed():
    with pytest.raises(PluginError) as raised:
        registry.get("layers", "xyzzy")
    message = str(raised.value)
    assert "did you mean" not in message
    assert "installed: batchnorm1d" in message


def test_unknown_qualified_name_raises():
    with pytest.raises(PluginError, match="'lunarlearn-layers:adamw'"):
        registry.get("optimizers", "lunarlearn-layers:adamw")


def hide_distribution(monkeypatch, name):
    """Make importlib.metadata report the distribution ``name`` as missing."""
    real = registry.metadata.distribution

    def distribution(requested):
        if requested == name:
            raise registry.metadata.PackageNotFoundError(requested)
        return real(requested)

    monkeypatch.setattr(registry.metadata, "distribution", distribution)


def test_empty_kind_names_the_extra(monkeypatch):
    real = registry.components
    monkeypatch.setattr(
        registry,
        "components",
        lambda kind: [] if kind == "optimizers" else real(kind),
    )
    hide_distribution(monkeypatch, "lunarlearn-optim")
    with pytest.raises(PluginError) as raised:
        registry.get("optimizers", "sgd")
    message = str(raised.value)
    assert "no optimizers are installed" in message
    assert "pip install 'lunarlearn[optim]'" in message


def test_empty_kind_of_installed_extra():
    # lunarlearn-optim is installed but provides no schedulers.
    with pytest.raises(PluginError) as raised:
        registry.get("schedulers", "cosine")
    message = str(raised.value)
    assert "no schedulers are installed" in message
    assert "no installed distribution provides them" in message
    assert "'lunarlearn.schedulers' entry-point group" in message
    assert "pip install" not in message


# Names registered twice ----------------------------------------------------------


def test_dynamic_name_colliding_with_entry_point():
    class MyAdamW:
        pass

    registry.register("optimizers", "adamw", MyAdamW)
    try:
        with pytest.raises(PluginError) as raised:
            registry.get("optimizers", "adamw")
        message = str(raised.value)
        assert "more than one distribution" in message
        assert "'lunarlearn-optim:adamw'" in message
        assert f"'{registry.DYNAMIC}:adamw'" in message
        assert "qualified names" in message

        from lunarlearn_optim import AdamW

        assert registry.get("optimizers", "lunarlearn-optim:adamw") is AdamW
        assert registry.get("optimizers", f"{registry.DYNAMIC}:adamw") is MyAdamW
    finally:
        registry.unregister("optimizers", "adamw")
    assert registry.get("optimizers", "adamw").__name__ == "AdamW"


def test_two_distributions_with_one_name(monkeypatch, fresh_registry):
    group = "lunarlearn.callbacks"
    fake_entry_points(
        monkeypatch,
        [
            FakeEntryPoint("stopper", "lunarlearn.callbacks:EarlyStopping", group, "a"),
            FakeEntryPoint(
                "stopper", "lunarlearn.callbacks:ModelCheckpoint", group, "b-plugins"
            ),
        ],
    )
    with pytest.raises(PluginError) as raised:
        registry.get("callbacks", "stopper")
    message = str(raised.value)
    assert "'a:stopper' (lunarlearn.callbacks:EarlyStopping)" in message
    assert "'b-plugins:stopper' (lunarlearn.callbacks:ModelCheckpoint)" in message
    assert registry.get("callbacks", "a:stopper") is EarlyStopping
    assert registry.get("callbacks", "b_plugins:stopper") is ModelCheckpoint


def test_broken_component_import_names_it(monkeypatch, fresh_registry):
    fake_entry_points(
        monkeypatch,
        [
            FakeEntryPoint(
                "broken",
                "missing_module:Broken",
                "lunarlearn.layers",
                "broken-layers",
                error=ImportError("No module named 'missing_module'"),
            )
        ],
    )
    with pytest.raises(PluginError) as raised:
        registry.get("layers", "broken")
    message = str(raised.value)
    assert "'broken' from broken-layers failed to import" in message
    assert "missing_module:Broken" in message
    assert registry.get("layers", "dense").__name__ == "Dense"


def test_failing_plugin_warns_once(monkeypatch):
    error = ImportError("No module named 'gone'")
    fake_entry_points(
        monkeypatch,
        [
            FakeEntryPoint(
                "gone", "gone:plugin", "lunarlearn.plugins", "gone", error=error
            )
        ],
    )
    manager = PluginManager()
    with pytest.warns(PluginLoadWarning, match="plugin 'gone'.*No module named"):
        manager.load_entry_points()
    assert manager.load_errors == {"gone": error}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        manager.load_entry_points()


# create ---------------------------------------------------------------------------


def test_create_from_name_and_dict():
    stopper = registry.create("callbacks", {"type": "early_stopping", "patience": 7})
    assert isinstance(stopper, EarlyStopping)
    assert stopper.patience == 7
    assert isinstance(registry.create("callbacks", "EarlyStopping"), EarlyStopping)


def test_create_passes_ready_objects_through():
    stopper = EarlyStopping()
    assert registry.create("callbacks", stopper) is stopper


def test_create_rejects_unknown_option():
    with pytest.raises(ConfigError) as raised:
        registry.create("callbacks", {"type": "early_stopping", "patiense": 2})
    message = str(raised.value)
    assert "unknown option(s) 'patiense'" in message
    assert "accepted: monitor, patience," in message


def test_create_rejects_missing_type():
    with pytest.raises(ConfigError, match="has no 'type'; set it to one of: adam"):
        registry.create("optimizers", {"lr": 0.1})


def test_create_reports_missing_required_option():
    with pytest.raises(ConfigError, match="missing a required argument: 'units'"):
        registry.create("layers", "dense")


# Lazy imports ---------------------------------------------------------------------


def test_resolving_sgd_imports_only_its_module():
    out = run_python(
        """
        import sys
        from lunarlearn import registry
        optimizer = registry.get("optimizers", "sgd")
        print(optimizer.__name__)
        print("lunarlearn_optim.optimizers.adam" in sys.modules)
        print("lunarlearn_optim.optimizers.sgd" in sys.modules)
        """
    )
    assert out.split() == ["SGD", "False", "True"]


def test_listing_names_imports_no_plugin():
    out = run_python(
        """
        import sys
        from lunarlearn import registry
        for kind in registry.KINDS:
            registry.names(kind)
        print(sorted(m for m in sys.modules if m.startswith("lunarlearn_")))
        """
    )
    assert out.strip() == "[]"


def test_import_loads_no_plugin():
    out = run_python(
        """
        import sys
        import lunarlearn
        loaded = [
            name
            for name in sys.modules
            if name.startswith(("lunarlearn_", "matplotlib", "sklearn"))
        ]
        print(sorted(loaded))
        """
    )
    assert out.strip() == "[]"
