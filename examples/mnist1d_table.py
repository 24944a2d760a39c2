"""Reproduce the MNIST-1D table (Greydanus, "Scaling down deep learning"): all four models.

    python examples/mnist1d_table.py                 # full runs: the CLI defaults, 6000 steps each
    python examples/mnist1d_table.py --steps 500     # a quick look
    python examples/mnist1d_table.py --jit           # the same runs through chainrule.jit (faster)

Each model trains with `chainrule train`'s defaults (Adam, lr 1e-2, batch 100, 6000 steps,
the mnist1d repository's reference architectures); runs go to runs/mnist1d-table/MODEL and
the measured test accuracies print beside the paper's.
"""

import argparse
import json
import pathlib
import platform
import time

from chainrule import cli


def main(
    steps=None, models=("logreg", "mlp", "cnn", "gru"), out="runs/mnist1d-table", seed=0, progress=True, jit=False
):
    rows = []
    for model in models:
        run = pathlib.Path(out) / model
        argv = ["train", "--data", "mnist1d", "--model", model, "--out", str(run), "--seed", str(seed), "--overwrite"]
        if steps is not None:
            argv += ["--steps", str(steps), "--log-every", str(max(1, steps // 4))]
        if not progress:
            argv.append("--no-progress")
        if jit:
            argv.append("--jit")
        if cli.main(argv) != 0:
            raise SystemExit(f"training {model} failed")
        metrics = json.loads((run / "metrics.json").read_text())
        rows.append((model, cli.PAPER[model], metrics["test_accuracy"], metrics["steps"], metrics["seconds"]))
    print(f"\nMNIST-1D test accuracy ({platform.machine()}, {time.strftime('%Y-%m-%d')}):\n")
    print("| model | paper | chainrule | steps | seconds |")
    print("|---|---|---|---|---|")
    for model, paper, ours, n, seconds in rows:
        print(f"| {model} | {paper:.0%} | {ours:.1%} | {n} | {seconds:.0f} |")
    return rows


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, help="steps per model (default: the CLI's 6000)")
    parser.add_argument("--models", default="logreg,mlp,cnn,gru")
    parser.add_argument("--out", default="runs/mnist1d-table")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--jit", action="store_true", help="train through chainrule.jit")
    args = parser.parse_args()
    main(args.steps, tuple(args.models.split(",")), args.out, args.seed, jit=args.jit)
