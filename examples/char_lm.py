"""A character-level language model trained on Python's own standard library, then sampled.

    python examples/char_lm.py                  # 2,000 steps
    python examples/char_lm.py --steps 300      # a quick look

The text is the source of a few standard-library modules, read from this Python's installation,
so every machine has it and nothing is downloaded. A GRU reads 64 characters at a time and
predicts each next one: embedding (V -> 64), GRU (64 -> 256), linear (256 -> V), trained with
cross-entropy through `chainrule.train.fit` (progress, `iter N, J=..., accu=...` lines, a history
to plot). J is the mean loss per character in nats; J / ln 2 is bits per character. Sampling
feeds the model its own output one character at a time, from a prompt, at a temperature.
"""

from __future__ import annotations

import argparse
import math
import sysconfig
from pathlib import Path

import numpy as np

import chainrule as cr
from chainrule import nn, optim
from chainrule.nn import functional as F
from chainrule.train import evaluate, fit

MODULES = ("argparse.py", "difflib.py", "dataclasses.py", "textwrap.py", "pprint.py", "calendar.py", "string.py")


def stdlib_text(modules=MODULES, limit=300_000):
    """The source of `modules` from this Python's standard library, joined (at most `limit` characters)."""
    root = Path(sysconfig.get_paths()["stdlib"])
    parts = [(root / name).read_text(encoding="utf-8") for name in modules if (root / name).is_file()]
    if not parts:
        raise FileNotFoundError(f"char_lm: none of {modules} found under {root}")
    return "\n".join(parts)[:limit]


class Vocabulary:
    """Characters <-> integer codes, over the characters of one text."""

    def __init__(self, text):
        self.chars = sorted(set(text))
        self.index = {c: i for i, c in enumerate(self.chars)}

    def __len__(self):
        return len(self.chars)

    def encode(self, text):
        return np.array([self.index[c] for c in text], dtype=np.int64)

    def decode(self, codes):
        return "".join(self.chars[int(i)] for i in codes)


def windows(codes, length, stride):
    """(x, y): windows of `length` codes and the same windows shifted by one (the next characters)."""
    starts = np.arange(0, len(codes) - length - 1, stride)
    x = np.stack([codes[s : s + length] for s in starts])
    y = np.stack([codes[s + 1 : s + length + 1] for s in starts])
    return x, y


class CharModel(nn.Module):
    """Embedding -> GRU -> Linear: logits over the vocabulary for each position's next character."""

    def __init__(self, vocab_size, embed=64, hidden=256):
        super().__init__()
        self.embed = nn.Embedding(vocab_size, embed)
        self.gru = nn.GRU(embed, hidden, batch_first=True)
        self.head = nn.Linear(hidden, vocab_size)

    def forward(self, x, h=None):
        out, h = self.gru(self.embed(x), h)
        return self.head(out), h


def next_char_loss(output, target):
    """Cross-entropy over every position: output (B, T, V) logits, target (B, T) codes."""
    logits = output[0] if isinstance(output, tuple) else output
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), target.reshape(-1))


def next_char_accuracy(output, target):
    logits = output[0] if isinstance(output, tuple) else output
    return float(np.mean(logits.detach().numpy().argmax(-1) == np.asarray(target)))


def sample(model, vocab, prompt="def ", length=300, temperature=0.8, seed=0):
    """`prompt` continued by `length` characters drawn from the model at `temperature`."""
    rng = np.random.default_rng(seed)
    model.eval()
    with cr.no_grad():
        logits, h = model(cr.tensor(vocab.encode(prompt)[None, :]))
        out = []
        for _ in range(length):
            z = logits[0, -1].numpy().astype(np.float64) / temperature
            p = np.exp(z - z.max())
            code = int(rng.choice(len(p), p=p / p.sum()))
            out.append(code)
            logits, h = model(cr.tensor(np.array([[code]])), h)
    model.train()
    return prompt + vocab.decode(out)


def main(steps=2000, batch_size=32, length=64, lr=3e-3, seed=0, log_every=None, progress=True, print_fn=print):
    text = stdlib_text()
    vocab = Vocabulary(text)
    codes = vocab.encode(text)
    split = int(0.9 * len(codes))
    train, test = windows(codes[:split], length, stride=length // 2), windows(codes[split:], length, stride=length)
    print_fn(f"{len(text):,} characters of the standard library, {len(vocab)} distinct; {len(train[0]):,} windows")
    cr.manual_seed(seed)
    model = CharModel(len(vocab))
    history = fit(
        model,
        train,
        loss_fn=next_char_loss,
        optimizer=optim.Adam(model.parameters(), lr=lr),
        steps=steps,
        batch_size=batch_size,
        seed=seed,
        metrics={"accuracy": next_char_accuracy},
        log_every=log_every or max(steps // 10, 1),
        progress=progress,
        print_fn=print_fn,
    )
    held_out = evaluate(model, test, loss_fn=next_char_loss, metric=next_char_accuracy, batch_size=256)
    bits = held_out.loss / math.log(2)
    print_fn(f"held-out text: {bits:.2f} bits per character, next-character accuracy {held_out.accuracy:.2f}")
    text_out = sample(model, vocab, seed=seed)
    print_fn("sample:\n" + text_out)
    return {"history": history, "held_out": held_out, "bits_per_char": bits, "sample": text_out, "vocab": vocab}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    main(steps=args.steps, seed=args.seed)
