"""The `chainrule` command: train and evaluate the MNIST-1D reference models, derive, grad.

    chainrule train --data mnist1d --model mlp --out runs/mlp
    chainrule evaluate runs/mlp
    chainrule derive "x**10 - 2*x**8 + 4/x**2 + 10" --wrt x
    chainrule grad "x**3 + 3*x**2*y + y**3 + 2*x" --at x=1,y=2

The models mirror the reference models of the mnist1d repository (notebooks/models.py),
and the defaults its training script (Adam, lr 1e-2, batch 100, 6000 steps).
"""
from __future__ import annotations

import argparse
import json
import pathlib
import sys
import time


PAPER = {"logreg": 0.32, "mlp": 0.68, "cnn": 0.94, "gru": 0.91}  # Greydanus, "Scaling down deep learning"
# Per-model defaults; every model in the paper's table trained with Adam, lr 1e-2, batch 100, 6000 steps.
MODEL_DEFAULTS = {
    "logreg": dict(lr=1e-2, batch_size=100, steps=6000),
    "mlp": dict(lr=1e-2, batch_size=100, steps=6000, hidden="100,100"),
    "cnn": dict(lr=1e-2, batch_size=100, steps=6000, channels=25),
    "gru": dict(lr=1e-2, batch_size=100, steps=6000, hidden="6"),
}
ACTIVATIONS = ("relu", "tanh", "sigmoid", "gelu", "leaky_relu", "elu", "silu")
OPTIMIZERS = {"sgd": "SGD", "adam": "Adam", "adamw": "AdamW", "rmsprop": "RMSprop", "adagrad": "Adagrad"}


# ----- the reference models -----

def _models():
    """Build the model classes on first use, so `import chainrule.cli` stays light."""
    from . import nn
    from .ops.shape import cat, flip, reshape

    def activation(name):
        return {"relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid, "gelu": nn.GELU,
                "leaky_relu": nn.LeakyReLU, "elu": nn.ELU, "silu": nn.SiLU}[name]()

    class MLP(nn.Module):
        """Linear layers with an activation between them.

        With ``residual`` (the mnist1d reference MLPBase), a hidden layer whose input and
        output widths match adds its input: h = h + act(W h + b).
        """

        def __init__(self, sizes, act="relu", residual=True):
            super().__init__()
            self.layers = nn.ModuleList([nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:])])
            self.act = activation(act)
            self.residual = residual

        def forward(self, x):
            h = reshape(x, (x.shape[0], -1))
            for i, layer in enumerate(self.layers):
                if i == len(self.layers) - 1:
                    return layer(h)
                z = self.act(layer(h))
                h = h + z if self.residual and i > 0 and z.shape == h.shape else z

        def extra_repr(self):
            return f"residual={self.residual}"

    class ConvNet(nn.Module):
        """The mnist1d reference ConvBase: three Conv1d (kernel 5, 3, 3; stride 2; padding 1)
        with ReLU, then a linear classifier on the flattened features."""

        def __init__(self, length, num_classes, channels=25):
            super().__init__()
            self.conv1 = nn.Conv1d(1, channels, 5, stride=2, padding=1)
            self.conv2 = nn.Conv1d(channels, channels, 3, stride=2, padding=1)
            self.conv3 = nn.Conv1d(channels, channels, 3, stride=2, padding=1)
            out = length
            for k in (5, 3, 3):
                out = (out + 2 - k) // 2 + 1
            if out < 1:
                raise ValueError(f"cnn: inputs of length {length} are too short for three stride-2 convolutions")
            self.linear = nn.Linear(channels * out, num_classes)

        def forward(self, x):
            h = reshape(x, (x.shape[0], 1, -1))
            h = self.conv1(h).relu()
            h = self.conv2(h).relu()
            h = self.conv3(h).relu()
            return self.linear(reshape(h, (h.shape[0], -1)))

    class BiGRU(nn.Module):
        """The mnist1d reference GRUBase: a bidirectional GRU over the signal (one feature per
        time step), then a linear classifier on all time steps' states, flattened."""

        def __init__(self, length, num_classes, hidden=6):
            super().__init__()
            self.forward_gru = nn.GRU(1, hidden, batch_first=True)
            self.backward_gru = nn.GRU(1, hidden, batch_first=True)
            self.linear = nn.Linear(2 * hidden * length, num_classes)

        def forward(self, x):
            seq = reshape(x, (x.shape[0], -1, 1))
            ahead, _ = self.forward_gru(seq)
            behind, _ = self.backward_gru(flip(seq, (1,)))
            # torch's bidirectional layout: [forward_t, backward_t] at each time step t
            h = cat([ahead, flip(behind, (1,))], dim=2)
            return self.linear(reshape(h, (h.shape[0], -1)))

    return MLP, ConvNet, BiGRU


def build_model(model: str, num_features: int, num_classes: int, hidden=None, activation="relu", residual=True,
                channels=25):
    """A model of the CLI's zoo: 'logreg', 'mlp', 'cnn' or 'gru' (see MODEL_DEFAULTS)."""
    MLP, ConvNet, BiGRU = _models()
    sizes = [int(h) for h in str(hidden).split(",") if h.strip()] if hidden else []
    if model == "logreg":
        return MLP([num_features, num_classes], activation, residual=False)
    if model == "mlp":
        return MLP([num_features, *(sizes or [100, 100]), num_classes], activation, residual=residual)
    if model == "cnn":
        return ConvNet(num_features, num_classes, channels=channels)
    if model == "gru":
        return BiGRU(num_features, num_classes, hidden=sizes[0] if sizes else 6)
    raise ValueError(f"unknown model {model!r}; choose one of {', '.join(MODEL_DEFAULTS)}")


# ----- train -----

# The train flags whose parser default is None so that a resumed run can tell a value given on the
# command line from one left out; their defaults are applied here. config key -> (flag, default).
_TRAIN_FLAGS = {"data": ("--data", "mnist1d"), "model": ("--model", "mlp"), "activation": ("--activation", "relu"),
                "optimizer": ("--optimizer", "adam"), "weight_decay": ("--weight-decay", 0.0),
                "momentum": ("--momentum", 0.0), "seed": ("--seed", 0), "lr": ("--lr", None),
                "batch_size": ("--batch-size", None), "hidden": ("--hidden", None),
                "channels": ("--channels", None), "residual": ("--no-residual", None)}


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


def _resumed_config(args, saved: dict, path) -> dict:
    """The configuration of a resumed run: the saved one, where the command line may only change its length.

    A flag that disagrees with the run is an error rather than silently ignored (the optimizer's
    checkpoint carries its lr, as torch's load_state_dict does) or silently applied (the model would
    not match its checkpoint, the data order would change).
    """
    conflicts = [f"{_TRAIN_FLAGS[key][0]} {value} (the run has {key}={saved.get(key)!r})"
                 for key, value in _given(args).items() if saved.get(key) != value]
    if conflicts:
        raise ValueError(f"train --resume: {'; '.join(conflicts)} in {path}. A resumed run keeps the settings it "
                         "was started with; drop these flags to resume, or start a new run with another --out "
                         "(to change the learning rate mid-run, load the checkpoint in Python and set "
                         "optimizer.param_groups[i]['lr'])")
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


def _load_data(name):
    from . import data
    return data.get(name)


def _make_run(config, data):
    import chainrule as cr
    from . import optim

    cr.manual_seed(config["seed"])
    model = build_model(config["model"], data.num_features, data.num_classes, hidden=config.get("hidden"),
                        activation=config["activation"], residual=config["residual"],
                        channels=config.get("channels", 25))
    kwargs = dict(lr=config["lr"], weight_decay=config["weight_decay"])
    if config["optimizer"] in ("sgd", "rmsprop"):
        kwargs["momentum"] = config["momentum"]
    opt = getattr(optim, OPTIMIZERS[config["optimizer"]])(model.parameters(), **kwargs)
    return model, opt


def train_command(args) -> int:
    from .train import evaluate, fit

    limit_blas_threads(args.threads)
    from .train import CHECKPOINT

    config = _resolve(args)
    out = pathlib.Path(args.out or f"runs/{pathlib.Path(str(config['data'])).stem}-{config['model']}")
    config_path = out / "config.json"
    resuming = args.resume and (out / CHECKPOINT).exists() and config_path.exists()
    if resuming:
        config = _resumed_config(args, json.loads(config_path.read_text()), out)
    out.mkdir(parents=True, exist_ok=True)
    data = _load_data(config["data"])
    model, opt = _make_run(config, data)
    print(f"chainrule train: {config['model']} on {config['data']} ({len(data.x_train)} train / "
          f"{len(data.x_test)} test, {data.num_classes} classes), {model.num_parameters()} parameters -> {out}")
    if not resuming:
        config_path.write_text(json.dumps(config, indent=2) + "\n")
    start = time.perf_counter()
    history = fit(model, data.train, optimizer=opt, steps=config.get("steps"), epochs=config.get("epochs"),
                  batch_size=config["batch_size"], seed=config["seed"], eval_data=data.test,
                  log_every=args.log_every, eval_every=args.eval_every, progress=not args.no_progress,
                  checkpoint_dir=out, checkpoint_every=args.checkpoint_every, resume=args.resume, jit=args.jit)
    if resuming:
        # Only after fit accepted the checkpoint: a refused resume leaves config.json as it was, so the
        # run can still be evaluated. Only the length (--steps/--epochs) can differ from before.
        config_path.write_text(json.dumps(config, indent=2) + "\n")
    seconds = time.perf_counter() - start
    test = evaluate(model, data.test)
    train = evaluate(model, data.train)
    metrics = {"data": str(config["data"]), "model": config["model"], "test_accuracy": test.accuracy,
               "test_loss": test.loss, "train_accuracy": train.accuracy, "train_loss": train.loss,
               "steps": len(history), "seconds": round(seconds, 3),
               "seconds_total": round(history.rows[-1]["seconds"], 3) if len(history) else 0.0,
               "parameters": model.num_parameters()}
    if config["model"] in PAPER and config["data"] == "mnist1d":
        metrics["paper_test_accuracy"] = PAPER[config["model"]]
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    history.to_csv(out / "history.csv")
    if not args.no_plot:
        history.plot(out / "curves.png", title=f"{config['model']} on {config['data']}")
    print(f"test accuracy {test.accuracy:.4f} (loss {test.loss:.4f}), train accuracy {train.accuracy:.4f}, "
          f"{len(history)} steps in {seconds:.1f}s")
    return 0


def evaluate_command(args) -> int:
    from .train import evaluate, load_checkpoint

    limit_blas_threads(args.threads)
    run = pathlib.Path(args.dir)
    config_path = run / "config.json"
    if not config_path.is_file():
        print(f"error: {config_path} not found; expected a directory written by `chainrule train --out DIR`",
              file=sys.stderr)
        return 2
    config = json.loads(config_path.read_text())
    data = _load_data(args.data or config["data"])
    model, _ = _make_run(config, data)
    ckpt = load_checkpoint(run, model)
    for name, split in (("train", data.train), ("test", data.test)):
        result = evaluate(model, split)
        print(f"{name}: J={result.loss:.6f}, accu={result.accuracy:.4f}")
    print(f"({config['model']} on {args.data or config['data']}, checkpoint at step {ckpt['step']})")
    return 0


def _derive(args) -> int:
    from . import symbolic
    return symbolic.derive_command(args) or 0


def _grad(args) -> int:
    from . import symbolic
    return symbolic.grad_command(args) or 0


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="chainrule", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", metavar="{train,evaluate,derive,grad,explore}")
    sub.required = True

    t = sub.add_parser("train", help="train a model and write metrics, history, curves and a checkpoint",
                       description="Train a model. Defaults reproduce the MNIST-1D table (Greydanus 2020): Adam, "
                                   "lr 1e-2, batch 100, 6000 steps; paper test accuracy logreg 32%%, mlp 68%%, "
                                   "cnn 94%%, gru 91%%.")
    t.add_argument("--data", help="mnist1d, digits, xor, or a PATH (.csv, .npz, or a directory "
                                                     "of MNIST IDX files) (default: mnist1d)")
    t.add_argument("--model", choices=list(MODEL_DEFAULTS), help="model (default: mlp)")
    t.add_argument("--hidden", help="hidden sizes, e.g. 100,100 (mlp) or 6 (gru)")
    t.add_argument("--channels", type=int, help="cnn channels (default 25)")
    t.add_argument("--activation", choices=ACTIVATIONS, help="mlp activation (default: relu)")
    t.add_argument("--no-residual", action="store_true",
                   help="plain mlp (the reference mlp adds a skip connection around its second layer)")
    t.add_argument("--optimizer", choices=list(OPTIMIZERS), help="(default: adam)")
    t.add_argument("--lr", type=float, help="learning rate (default: 1e-2)")
    t.add_argument("--weight-decay", type=float, help="(default: 0)")
    t.add_argument("--momentum", type=float, help="for sgd and rmsprop (default: 0)")
    t.add_argument("--batch-size", type=int, help="(default: 100)")
    length = t.add_mutually_exclusive_group()
    length.add_argument("--steps", type=int, help="optimizer steps (default: 6000)")
    length.add_argument("--epochs", type=int, help="passes over the training set (instead of --steps)")
    t.add_argument("--seed", type=int, help="seeds the initialization and the data order (default: 0)")
    t.add_argument("--out", help="output directory (default: runs/DATA-MODEL)")
    t.add_argument("--resume", action="store_true", help="continue from the checkpoint in --out")
    t.add_argument("--log-every", type=int, default=1000, help="print `iter, J, accu` every N steps (default 1000)")
    t.add_argument("--eval-every", type=int, help="evaluate on the test set every N steps (default: --log-every)")
    t.add_argument("--checkpoint-every", type=int, help="also checkpoint every N steps (default: at the end)")
    t.add_argument("--no-progress", action="store_true", help="no progress bar")
    t.add_argument("--jit", action="store_true", help="trace the training step once and replay it (chainrule.jit)")
    t.add_argument("--no-plot", action="store_true", help="don't write curves.png")
    t.add_argument("--threads", type=int, default=1, help="BLAS threads (default 1: fastest for these small "
                                                          "models; 0 leaves the BLAS default)")
    t.set_defaults(handler=train_command)

    e = sub.add_parser("evaluate", help="evaluate a trained run's checkpoint on its train and test data",
                       description="Rebuild the model of a `chainrule train` run, load its checkpoint, and print "
                                   "train and test loss and accuracy.")
    e.add_argument("dir", help="the run's --out directory")
    e.add_argument("--data", help="evaluate on other data with the same shapes (default: the run's)")
    e.add_argument("--threads", type=int, default=1, help="BLAS threads (default 1; 0 leaves the BLAS default)")
    e.set_defaults(handler=evaluate_command)

    d = sub.add_parser("derive", help="symbolic derivative of an expression",
                       description="Differentiate EXPR symbolically (SymPy) and check it with autodiff.")
    d.add_argument("expr", metavar="EXPR", help='e.g. "x**10 - 2*x**8 + 4/x**2 + 10"')
    d.add_argument("--wrt", help="the variable to differentiate by (default: the only one)")
    d.add_argument("--at", help="a point, e.g. x=1, to evaluate the derivative at")
    d.set_defaults(handler=_derive)

    g = sub.add_parser("grad", help="gradient of an expression, symbolically and at a point",
                       description="All partial derivatives of EXPR, and their values at --at.")
    g.add_argument("expr", metavar="EXPR", help='e.g. "x**3 + 3*x**2*y + y**3 + 2*x"')
    g.add_argument("--at", help="the point, e.g. x=1,y=2")
    g.set_defaults(handler=_grad)

    from .viz.explore import add_command as add_explore_command
    add_explore_command(sub)
    return parser


def main(argv=None) -> int:
    args = make_parser().parse_args(argv)
    try:
        return args.handler(args)
    except (OSError, ValueError) as e:  # OSError: a full disk, a file we may not read or write
        print(f"error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
