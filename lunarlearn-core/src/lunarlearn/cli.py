"""The ``lunarlearn`` command: train, eval, summary, plot and plugins."""

import argparse
import os
import sys
import traceback
import warnings
from pathlib import Path

import lunarlearn
from lunarlearn import registry
from lunarlearn.errors import LunarLearnError

#: Errors reported as one line; set LUNARLEARN_DEBUG=1 to see the traceback.
USER_ERRORS = (
    LunarLearnError,
    OSError,
    ValueError,
    TypeError,
    KeyError,
    FloatingPointError,
    ImportError,
)


def _debug_enabled():
    return os.environ.get("LUNARLEARN_DEBUG", "").strip().lower() not in (
        "",
        "0",
        "false",
        "no",
    )


def _show_warning(message, category, filename, lineno, file=None, line=None):
    """Print warnings as one line each, without the source line."""
    print(f"lunarlearn: warning: {message} ({category.__name__})", file=sys.stderr)


def _train(args):
    from lunarlearn.trainer import Trainer

    trainer = Trainer.from_config(args.config, overrides=args.set, out=args.out)
    trainer.run()
    print(f"run saved to {trainer.out}")
    return 0


def _summary(args):
    from lunarlearn.config import apply_overrides, load_config, validate
    from lunarlearn.trainer import build_model

    config = validate(apply_overrides(load_config(args.config), args.set))
    if "input_shape" not in config["model"]:
        from lunarlearn.trainer import _build_data

        _, _, dataset = _build_data(config)
    else:
        dataset = None
    model = build_model(config, dataset)
    shape = config["model"].get("input_shape") or list(dataset.sample_shape)
    print(model.summary(tuple(shape)))
    return 0


def _eval(args):
    from lunarlearn.trainer import Trainer

    trainer = Trainer.from_checkpoint(args.run_dir, overrides=args.set)
    data = trainer.val_data if trainer.val_data is not None else trainer.train_data
    split_name = "validation" if trainer.val_data is not None else "training"
    logs = trainer.evaluate(data)
    figures = "  ".join(f"{name}: {value:.4f}" for name, value in logs.items())
    print(f"{split_name} data ({len(data.dataset)} samples): {figures}")
    return 0


def _plot(args):
    from lunarlearn.history import History

    history = History.load(args.run_dir)
    spec = {"type": args.visualizer}
    visualizer = registry.create("visualizers", spec)
    run_dir = Path(args.run_dir)
    if run_dir.is_file():  # the history.json path itself
        run_dir = run_dir.parent
    target = Path(args.output) if args.output else run_dir / "history.png"
    path = visualizer.save(history.to_dict(), target)
    print(f"plot saved to {path}")
    return 0


def _plugins(args):
    from lunarlearn.plugins import get_plugin_manager

    manager = get_plugin_manager()
    for kind in registry.KINDS:
        found = registry.components(kind)
        print(f"{kind}:")
        if not found:
            print(f"  (none installed: {registry.install_hint(kind)})")
        for component in found:
            print(
                f"  {component.name:<22} {component.distribution} {component.version}"
                f"  {component.value}"
            )
    print("plugins:")
    plugins = [(n, p) for n, p in manager.list_name_plugin() if p is not None]
    if not plugins and not manager.load_errors:
        print("  (none installed)")
    for name, plugin in plugins:
        print(f"  {name:<22} {getattr(plugin, '__name__', type(plugin).__name__)}")
    for name, error in manager.load_errors.items():
        print(f"  {name:<22} FAILED: {type(error).__name__}: {error}")
    return 0


def build_parser():
    parser = argparse.ArgumentParser(
        prog="lunarlearn", description="Train and inspect LunarLearn models."
    )
    parser.add_argument(
        "--version", action="version", version=f"%(prog)s {lunarlearn.__version__}"
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    set_help = "override a config value, e.g. --set epochs=3 --set optimizer.lr=0.01"
    train = commands.add_parser("train", help="train a model from a TOML config")
    train.add_argument("config", help="path of the TOML config")
    train.add_argument("--out", help="output directory (default: the config's 'out')")
    train.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE", help=set_help
    )
    train.set_defaults(func=_train)

    summary = commands.add_parser(
        "summary", help="print the layers of a config's model"
    )
    summary.add_argument("config", help="path of the TOML config")
    summary.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE", help=set_help
    )
    summary.set_defaults(func=_summary)

    evaluate = commands.add_parser(
        "eval", help="report a saved run's validation figures"
    )
    evaluate.add_argument("run_dir", help="run directory or checkpoint directory")
    evaluate.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE", help=set_help
    )
    evaluate.set_defaults(func=_eval)

    plot = commands.add_parser("plot", help="plot a run's history.json to a PNG")
    plot.add_argument("run_dir", help="run directory or history.json path")
    plot.add_argument("--output", help="PNG path (default: RUN_DIR/history.png)")
    plot.add_argument("--visualizer", default="history", help="visualizer name")
    plot.set_defaults(func=_plot)

    plugins = commands.add_parser(
        "plugins", help="list installed components and plugins"
    )
    plugins.set_defaults(func=_plugins)

    from lunarlearn.plugins import get_plugin_manager

    get_plugin_manager().hook.lunarlearn_add_commands(subparsers=commands)
    return parser


def main(argv=None):
    original_showwarning = warnings.showwarning
    if not _debug_enabled():
        warnings.showwarning = _show_warning
    try:
        return _run(argv)
    finally:
        warnings.showwarning = original_showwarning


def _run(argv):
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except KeyboardInterrupt:
        print("lunarlearn: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader of stdout went away (as with `| head`): stop quietly.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141
    except USER_ERRORS as exc:
        if _debug_enabled():
            traceback.print_exc()
        message = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        print(f"lunarlearn: error: {message}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
