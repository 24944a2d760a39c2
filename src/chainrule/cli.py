"""The `chainrule` command: train and evaluate the MNIST-1D reference models, derive, grad.

This module only reads arguments and dispatches: the models are `chainrule.models`, training is
`chainrule.train`, and derive/grad are `chainrule.cli_derive` (on `chainrule.expression`).

    chainrule train --data mnist1d --model mlp --out runs/mlp
    chainrule evaluate runs/mlp
    chainrule derive "x**10 - 2*x**8 + 4/x**2 + 10" --wrt x
    chainrule grad "x**3 + 3*x**2*y + y**3 + 2*x" --at x=1,y=2

Every refusal is one line naming the value and the fix (a misspelled option gets the closest valid
one suggested); no input prints a Python traceback.

NOTE: a little over 500 lines: most of it is the option definitions with their help texts and the
checks that make a resumed run's options agree with the run it continues (all-or-nothing).
"""

from __future__ import annotations

import argparse
import difflib
import json
import math
import os
import pathlib
import re
import sys
import time

from .models.mnist1d import ACTIVATIONS as _ACTIVATIONS
from .models.mnist1d import MODEL_DEFAULTS, PAPER, build_model, parse_hidden

ACTIVATIONS = tuple(_ACTIVATIONS)
OPTIMIZERS = {"sgd": "SGD", "adam": "Adam", "adamw": "AdamW", "rmsprop": "RMSprop", "adagrad": "Adagrad"}
# The models `chainrule train` runs through chainrule.jit by default: those whose replayed step is
# bit for bit the eager one (tests/test_cli.py trains each both ways and compares every loss).
JIT_MODELS = frozenset(("logreg", "mlp", "cnn", "gru"))
MAX_WIDTH = 4096  # --hidden and --channels: a 4096-wide MLP layer already holds 16.8 million weights
CONFIG_KEYS = (
    "data",
    "model",
    "activation",
    "optimizer",
    "lr",
    "weight_decay",
    "momentum",
    "seed",
    "residual",
    "batch_size",
)


# ----- train -----

# The train flags whose parser default is None so that a resumed run can tell a value given on the
# command line from one left out; their defaults are applied here. config key -> (flag, default).
_TRAIN_FLAGS = {
    "data": ("--data", "mnist1d"),
    "model": ("--model", "mlp"),
    "activation": ("--activation", "relu"),
    "optimizer": ("--optimizer", "adam"),
    "weight_decay": ("--weight-decay", 0.0),
    "momentum": ("--momentum", 0.0),
    "seed": ("--seed", 0),
    "lr": ("--lr", None),
    "batch_size": ("--batch-size", None),
    "hidden": ("--hidden", None),
    "channels": ("--channels", None),
    "residual": ("--no-residual", None),
}


def _given(args) -> dict:
    """The run settings given on the command line, as config entries."""
    given = {key: getattr(args, key, None) for key in _TRAIN_FLAGS if key != "residual"}
    given = {key: value for key, value in given.items() if value is not None}
    if getattr(args, "no_residual", False):
        given["residual"] = False
    return given


def _resolve(args) -> dict:
    """The run's full configuration: the model's defaults, overridden by what was given."""
    given = _given(args)
    model = given.get("model", _TRAIN_FLAGS["model"][1])
    config = dict(MODEL_DEFAULTS[model])
    config.update({key: default for key, (_, default) in _TRAIN_FLAGS.items() if default is not None}, residual=True)
    config.update(given)
    if getattr(args, "steps", None) is not None:
        config["steps"] = args.steps
    if getattr(args, "epochs", None) is not None:
        config.pop("steps", None)
        config["epochs"] = args.epochs
    return config


def _same_setting(key, saved, given) -> bool:
    """Whether a flag given on resume agrees with the run's value; --data compares the files (data/x.csv,
    ./data/x.csv, an absolute path or a link to the same file are one data set), not the strings."""
    if saved == given:
        return True
    if key != "data" or not isinstance(saved, str) or not isinstance(given, str):
        return False
    a, b = pathlib.Path(saved).expanduser(), pathlib.Path(given).expanduser()
    try:
        if a.exists() and b.exists():
            return os.path.samefile(a, b)
        return a.resolve() == b.resolve()
    except OSError:
        return False


def _resumed_config(args, saved: dict, path) -> dict:
    """The configuration of a resumed run: the saved one, where the command line may only change its length.

    A flag that disagrees with the run is an error rather than silently ignored (the optimizer's
    checkpoint carries its lr, as torch's load_state_dict does) or silently applied (the model would
    not match its checkpoint, the data order would change).
    """
    conflicts = [
        f"{_TRAIN_FLAGS[key][0]} {value} (the run has {key}={saved.get(key)!r})"
        for key, value in _given(args).items()
        if not _same_setting(key, saved.get(key), value)
    ]
    if conflicts:
        raise ValueError(
            f"train --resume: {'; '.join(conflicts)} in {path}. A resumed run keeps the settings it "
            "was started with; drop these flags to resume, or start a new run with another --out "
            "(to change the learning rate mid-run, load the checkpoint in Python and set "
            "optimizer.param_groups[i]['lr'])"
        )
    config = dict(saved)
    if args.steps is not None:
        config.pop("epochs", None)
        config["steps"] = args.steps
    if args.epochs is not None:
        config.pop("steps", None)
        config["epochs"] = args.epochs
    return config


def limit_blas_threads(threads: int | None) -> None:
    """Cap the BLAS thread pool (via threadpoolctl, when installed).

    The reference models multiply matrices of about 100 x 100, where threads cost more
    than they save; on a busy machine OpenBLAS's spinning threads can make a step 100x
    slower. One thread is the default for `chainrule train`; --threads 0 leaves BLAS alone.
    """
    if not threads:
        return
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - threadpoolctl comes with scikit-learn
        return
    threadpool_limits(limits=threads, user_api="blas")


def _read_config(path: pathlib.Path) -> dict:
    """A run's config.json, checked: a JSON object with the keys `chainrule train` writes."""
    try:
        config = json.loads(path.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ValueError(f"{path} is not valid JSON ({e}); was it written by `chainrule train`?") from None
    missing = [key for key in CONFIG_KEYS if not isinstance(config, dict) or key not in config]
    if missing:
        raise ValueError(f"{path} lacks {', '.join(missing)}; expected the config.json that `chainrule train` writes")
    if (
        config["model"] not in MODEL_DEFAULTS
        or config["activation"] not in ACTIVATIONS
        or config["optimizer"] not in OPTIMIZERS
    ):
        raise ValueError(
            f"{path}: model {config['model']!r}, activation {config['activation']!r} or optimizer "
            f"{config['optimizer']!r} is not one chainrule knows"
        )
    return config


def _load_data(name):
    from . import data

    return data.get(name)


def _make_run(config, data):
    import chainrule as cr

    from . import optim

    cr.manual_seed(config["seed"])
    model = build_model(
        config["model"],
        data.num_features,
        data.num_classes,
        hidden=config.get("hidden"),
        activation=config["activation"],
        residual=config["residual"],
        channels=config.get("channels", 25),
    )
    kwargs = dict(lr=config["lr"], weight_decay=config["weight_decay"])
    if config["optimizer"] in ("sgd", "rmsprop"):
        kwargs["momentum"] = config["momentum"]
    opt = getattr(optim, OPTIMIZERS[config["optimizer"]])(model.parameters(), **kwargs)
    return model, opt


def train_command(args) -> int:
    from .train import CHECKPOINT, evaluate, fit

    limit_blas_threads(args.threads)
    config = _resolve(args)
    out = pathlib.Path(args.out or f"runs/{pathlib.Path(str(config['data'])).stem}-{config['model']}")
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out {out} is a file; give a directory for the run's outputs")
    config_path = out / "config.json"
    resuming = args.resume and (out / CHECKPOINT).exists() and config_path.exists()
    held = [name for name in ("config.json", CHECKPOINT) if (out / name).exists()]
    if held and not resuming and not args.resume and not args.overwrite:
        raise ValueError(
            f"--out {out} already holds a run ({' and '.join(held)}); pass --resume to continue it, "
            "--overwrite to start again over it, or choose another --out"
        )
    if resuming:
        config = _resumed_config(args, _read_config(config_path), out)
    out.mkdir(parents=True, exist_ok=True)
    data = _load_data(config["data"])
    model, opt = _make_run(config, data)
    print(
        f"chainrule train: {config['model']} on {config['data']} ({len(data.x_train)} train / "
        f"{len(data.x_test)} test, {data.num_classes} classes), {model.num_parameters()} parameters -> {out}"
    )
    if not resuming:
        config_path.write_text(json.dumps(config, indent=2) + "\n")
    start = time.perf_counter()
    history = fit(
        model,
        data.train,
        optimizer=opt,
        steps=config.get("steps"),
        epochs=config.get("epochs"),
        batch_size=config["batch_size"],
        seed=config["seed"],
        eval_data=data.test,
        log_every=args.log_every,
        eval_every=args.eval_every,
        progress=not args.no_progress,
        checkpoint_dir=out,
        checkpoint_every=args.checkpoint_every,
        resume=args.resume,
        jit=config["model"] in JIT_MODELS if args.jit is None else args.jit,
        overwrite=args.overwrite,
    )
    if resuming:
        # Only after fit accepted the checkpoint: a refused resume leaves config.json as it was, so the
        # run can still be evaluated. Only the length (--steps/--epochs) can differ from before.
        config_path.write_text(json.dumps(config, indent=2) + "\n")
    seconds = time.perf_counter() - start
    test = evaluate(model, data.test)
    train = evaluate(model, data.train)
    metrics = {
        "data": str(config["data"]),
        "model": config["model"],
        "test_accuracy": test.accuracy,
        "test_loss": test.loss,
        "train_accuracy": train.accuracy,
        "train_loss": train.loss,
        "steps": len(history),
        "seconds": round(seconds, 3),
        "seconds_total": round(history.rows[-1]["seconds"], 3) if len(history) else 0.0,
        "parameters": model.num_parameters(),
    }
    if config["model"] in PAPER and config["data"] == "mnist1d":
        metrics["paper_test_accuracy"] = PAPER[config["model"]]
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    history.to_csv(out / "history.csv")
    if not args.no_plot:
        history.plot(out / "curves.png", title=f"{config['model']} on {config['data']}")
    print(
        f"test accuracy {test.accuracy:.4f} (loss {test.loss:.4f}), train accuracy {train.accuracy:.4f}, "
        f"{len(history)} steps in {seconds:.1f}s"
    )
    return 0


def evaluate_command(args) -> int:
    from .train import evaluate, load_checkpoint

    limit_blas_threads(args.threads)
    run = pathlib.Path(args.dir)
    config_path = run / "config.json"
    if not config_path.is_file():
        print(
            f"error: {config_path} not found; expected a directory written by `chainrule train --out DIR`",
            file=sys.stderr,
        )
        return 2
    config = _read_config(config_path)
    data = _load_data(args.data or config["data"])
    model, _ = _make_run(config, data)
    try:
        ckpt = load_checkpoint(run, model)
        step = ckpt["step"]
    except (KeyError, TypeError, IndexError, AttributeError, RuntimeError) as e:
        # a file that loads but is not this run's checkpoint (another model's, or edited by hand)
        fix = (
            f"--data {args.data} must have the features and classes of {config['data']}, the run's data"
            if args.data
            else f"was it written by `chainrule train --out {run}`?"
        )
        raise ValueError(
            f"{run}: the checkpoint does not fit the {config['model']} model built for "
            f"{args.data or config['data']} ({type(e).__name__}: {e}); {fix}"
        ) from None
    for name, split in (("train", data.train), ("test", data.test)):
        result = evaluate(model, split)
        print(f"{name}: J={result.loss:.6f}, accu={result.accuracy:.4f}")
    print(f"({config['model']} on {args.data or config['data']}, checkpoint at step {step})")
    return 0


def _derive(args) -> int:
    from . import cli_derive

    return cli_derive.derive_command(args)


def _grad(args) -> int:
    from . import cli_derive

    return cli_derive.grad_command(args)


# ----- argument types: each refusal names the value and the expected range -----


def _number(kind, low, what, high=math.inf, strict=False):
    def convert(text):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not {'an integer' if kind is int else 'a number'}") from None
        if not (math.isfinite(value) and (value > low if strict else value >= low) and value <= high):
            bound = f"{'>' if strict else '>='} {low:g}" + (f" and <= {high:g}" if high < math.inf else "")
            raise argparse.ArgumentTypeError(f"{text} is out of range: expected {what} {bound}")
        return value

    convert.__name__ = what  # argparse names the type in some messages
    return convert


_positive_int = _number(int, 0, "an integer", strict=True)
_steps = _number(int, 0, "an integer", high=10**9, strict=True)  # 10**9 steps is years of training
_count = _number(int, 0, "an integer")
_threads = _number(int, 0, "a number of threads", high=1024)
_rate = _number(float, 0, "a finite number")
_width = _number(int, 0, "a width", high=MAX_WIDTH, strict=True)
_seconds = _number(float, 0, "a number of seconds", high=3600, strict=True)


def _hidden(text):
    try:
        sizes = parse_hidden(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None
    if not sizes:
        raise argparse.ArgumentTypeError("give at least one width, e.g. --hidden 100,100")
    if max(sizes) > MAX_WIDTH:
        raise argparse.ArgumentTypeError(f"{max(sizes)} is out of range: widths must be <= {MAX_WIDTH}")
    return text


class _ArgumentParser(argparse.ArgumentParser):
    """argparse with one-line errors and a suggestion for a misspelled option or choice."""

    def error(self, message):
        match = re.search(r"invalid choice: '([^']*)' \(choose from (.*)\)", message)
        if match:
            choices = re.findall(r"'([^']*)'", match.group(2))
            close = difflib.get_close_matches(match.group(1), choices, n=1, cutoff=0.5)
            if close:
                message += f"; did you mean {close[0]!r}?"
        if message.endswith("required: EXPR"):
            message += " (an expression that starts with '-' goes after `--`: chainrule derive -- \"-x**2\")"
        self.exit(2, f"{self.prog}: error: {message} (`{self.prog} --help` lists the options)\n")

    def unknown(self, extras):
        """Report the first unrecognized argument, suggesting the closest option."""
        first = extras[0]
        if not first.startswith("-") or first == "-":
            self.error(f"unexpected argument {first!r}")
        name = first.split("=", 1)[0]
        options = [o for action in self._actions for o in action.option_strings if o.startswith("--")]
        if name in options:  # a known option is left over only when it came after `--`
            self.error(
                f"{name} came after `--`, which ends the options; put the options first: {self.prog} {name} ... -- EXPR"
            )
        close = difflib.get_close_matches(name, options, n=1, cutoff=0.5)
        self.error(f"unknown option {name}" + (f"; did you mean {close[0]}?" if close else ""))


class _TopParser(_ArgumentParser):
    subcommands: dict

    def parse_args(self, args=None, namespace=None):
        parsed, extras = self.parse_known_args(args, namespace)
        if extras:
            self.subcommands.get(getattr(parsed, "command", None), self).unknown(extras)
        return parsed


def make_parser() -> argparse.ArgumentParser:
    parser = _TopParser(
        prog="chainrule", description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(
        dest="command", metavar="{train,evaluate,derive,grad,explore}", parser_class=_ArgumentParser
    )
    sub.required = True

    t = sub.add_parser(
        "train",
        help="train a model and write metrics, history, curves and a checkpoint",
        description="Train a model. Defaults reproduce the MNIST-1D table (Greydanus 2020): Adam, "
        "lr 1e-2, batch 100, 6000 steps; paper test accuracy logreg 32%, mlp 68%, "
        "cnn 94%, gru 91%.",
    )
    t.add_argument(
        "--data",
        help="mnist1d, digits, xor, or a PATH (.csv, .npz, or a directory of MNIST IDX files) (default: mnist1d)",
    )
    t.add_argument("--model", choices=list(MODEL_DEFAULTS), help="model (default: mlp)")
    t.add_argument("--hidden", type=_hidden, help="hidden sizes, e.g. 100,100 (mlp) or 6 (gru)")
    t.add_argument("--channels", type=_width, help="cnn channels (default 25)")
    t.add_argument("--activation", choices=ACTIVATIONS, help="mlp activation (default: relu)")
    t.add_argument(
        "--no-residual",
        action="store_true",
        help="plain mlp (the reference mlp adds a skip connection around its second layer)",
    )
    t.add_argument("--optimizer", choices=list(OPTIMIZERS), help="(default: adam)")
    t.add_argument("--lr", type=_rate, help="learning rate (default: 1e-2)")
    t.add_argument("--weight-decay", type=_rate, help="(default: 0)")
    t.add_argument("--momentum", type=_rate, help="for sgd and rmsprop (default: 0)")
    t.add_argument("--batch-size", type=_positive_int, help="(default: 100)")
    length = t.add_mutually_exclusive_group()
    length.add_argument("--steps", type=_steps, help="optimizer steps (default: 6000)")
    length.add_argument("--epochs", type=_steps, help="passes over the training set (instead of --steps)")
    t.add_argument("--seed", type=_count, help="seeds the initialization and the data order (default: 0)")
    t.add_argument("--out", help="output directory (default: runs/DATA-MODEL)")
    t.add_argument("--resume", action="store_true", help="continue from the checkpoint in --out")
    t.add_argument(
        "--overwrite",
        action="store_true",
        help="start a new run in an --out that already holds one (its checkpoint and config are replaced)",
    )
    t.add_argument(
        "--log-every", type=_positive_int, default=1000, help="print `iter, J, accu` every N steps (default 1000)"
    )
    t.add_argument(
        "--eval-every", type=_positive_int, help="evaluate on the test set every N steps (default: --log-every)"
    )
    t.add_argument("--checkpoint-every", type=_positive_int, help="also checkpoint every N steps (default: at the end)")
    t.add_argument("--no-progress", action="store_true", help="no progress bar")
    t.add_argument(
        "--jit",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="trace the training step once and replay it (chainrule.jit); the default for "
        f"{', '.join(sorted(JIT_MODELS))}, whose replay is bit for bit the eager step (--no-jit: eager)",
    )
    t.add_argument("--no-plot", action="store_true", help="don't write curves.png")
    t.add_argument(
        "--threads",
        type=_threads,
        default=1,
        help="BLAS threads (default 1: fastest for these small models; 0 leaves the BLAS default)",
    )
    t.set_defaults(handler=train_command)

    e = sub.add_parser(
        "evaluate",
        help="evaluate a trained run's checkpoint on its train and test data",
        description="Rebuild the model of a `chainrule train` run, load its checkpoint, and print "
        "train and test loss and accuracy.",
    )
    e.add_argument("dir", help="the run's --out directory")
    e.add_argument("--data", help="evaluate on other data with the same shapes (default: the run's)")
    e.add_argument("--threads", type=_threads, default=1, help="BLAS threads (default 1; 0 leaves the BLAS default)")
    e.set_defaults(handler=evaluate_command)

    budget = "seconds of symbolic work before a 'too large' error (default 10)"
    d = sub.add_parser(
        "derive",
        help="symbolic derivative of an expression",
        description="Differentiate EXPR symbolically (SymPy) and check it with autodiff.",
    )
    d.add_argument("expr", metavar="EXPR", help='e.g. "x**10 - 2*x**8 + 4/x**2 + 10"')
    d.add_argument("--wrt", help="the variable to differentiate by (default: the only one)")
    d.add_argument("--at", help="a point, e.g. x=1, to evaluate the derivative at")
    d.add_argument("--time-limit", type=_seconds, help=budget)
    d.set_defaults(handler=_derive)

    g = sub.add_parser(
        "grad",
        help="gradient of an expression, symbolically and at a point",
        description="All partial derivatives of EXPR, and their values at --at.",
    )
    g.add_argument("expr", metavar="EXPR", help='e.g. "x**3 + 3*x**2*y + y**3 + 2*x"')
    g.add_argument("--at", help="the point, e.g. x=1,y=2")
    g.add_argument("--time-limit", type=_seconds, help=budget)
    g.set_defaults(handler=_grad)

    from .viz.explore import add_command as add_explore_command

    add_explore_command(sub)
    parser.subcommands = dict(sub.choices)  # name -> subparser, for suggesting a misspelled option
    return parser


def main(argv=None) -> int:
    args = make_parser().parse_args(argv)
    try:
        return args.handler(args)
    except (ValueError, OSError) as e:
        # OSError: a path that cannot be created or read (--out inside a file, no permission, disk full)
        print(f"error: {e}", file=sys.stderr)
        return 2
    except MemoryError:
        print("error: out of memory; try a smaller model, batch or data set", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
