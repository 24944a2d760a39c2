"""Reproduce the MNIST-1D table (Greydanus, "Scaling down deep learning"): all four models.

    python examples/mnist1d_table.py                 # full runs: the CLI defaults, 6000 steps each
    python examples/mnist1d_table.py --steps 500     # a quick look
    python examples/mnist1d_table.py --jit           # the same runs through chainrule.jit (faster)
    python examples/mnist1d_table.py --models gru --seeds 0,1,2,3,4   # mean and spread over seeds

Each model trains with `chainrule train`'s defaults (Adam, lr 1e-2, batch 100, 6000 steps,
the mnist1d repository's reference architectures); runs go to runs/mnist1d-table/MODEL
(MODEL/seed-N with several seeds) and the measured test accuracies print beside the paper's.
The paper's figures are single runs' test accuracy after the last step; one seed's figure
moves by a few points with the seed (the GRU's most), so compare means over several seeds.
"""

import argparse
import json
import pathlib
import platform
import statistics
import time

from chainrule import cli


def train(model, run, seed, steps, progress, jit):
    """One `chainrule train` run; returns its metrics.json."""
    argv = ["train", "--data", "mnist1d", "--model", model, "--out", str(run), "--seed", str(seed), "--overwrite"]
    if steps is not None:
        argv += ["--steps", str(steps), "--log-every", str(max(1, steps // 4))]
    if not progress:
        argv.append("--no-progress")
    if jit:
        argv.append("--jit")
    if cli.main(argv) != 0:
        raise SystemExit(f"training {model} (seed {seed}) failed")
    return json.loads((run / "metrics.json").read_text())


def main(
    steps=None,
    models=("logreg", "mlp", "cnn", "gru"),
    out="runs/mnist1d-table",
    seed=0,
    progress=True,
    jit=False,
    seeds=None,
):
    """Rows (model, paper, test accuracy, steps, seconds); with several seeds, the mean accuracy and
    seconds, and a sixth item: the per-seed accuracies."""
    seeds = list(seeds) if seeds else [seed]
    rows = []
    for model in models:
        runs = [
            train(model, pathlib.Path(out) / model / (f"seed-{s}" if len(seeds) > 1 else ""), s, steps, progress, jit)
            for s in seeds
        ]
        accs = [m["test_accuracy"] for m in runs]
        row = (model, cli.PAPER[model], statistics.mean(accs), runs[0]["steps"])
        rows.append((*row, statistics.mean(m["seconds"] for m in runs), *([accs] if len(seeds) > 1 else [])))
    print(f"\nMNIST-1D test accuracy ({platform.machine()}, {time.strftime('%Y-%m-%d')}):\n")
    if len(seeds) == 1:
        print("| model | paper | chainrule | steps | seconds |")
        print("|---|---|---|---|---|")
        for model, paper, ours, n, seconds in rows:
            print(f"| {model} | {paper:.0%} | {ours:.1%} | {n} | {seconds:.0f} |")
        return rows
    print(f"| model | paper | chainrule, mean of {len(seeds)} seeds (sd) | per seed | steps | seconds |")
    print("|---|---|---|---|---|---|")
    for model, paper, ours, n, seconds, accs in rows:
        each = ", ".join(f"{a:.1%}" for a in accs)
        print(f"| {model} | {paper:.0%} | {ours:.1%} ({statistics.stdev(accs):.1%}) | {each} | {n} | {seconds:.0f} |")
    return rows


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, help="steps per model (default: the CLI's 6000)")
    parser.add_argument("--models", default="logreg,mlp,cnn,gru")
    parser.add_argument("--out", default="runs/mnist1d-table")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--seeds", help="several seeds, e.g. 0,1,2,3,4: report each model's mean and spread")
    parser.add_argument("--jit", action="store_true", help="train through chainrule.jit")
    args = parser.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")] if args.seeds else None
    main(args.steps, tuple(args.models.split(",")), args.out, args.seed, jit=args.jit, seeds=seeds)
