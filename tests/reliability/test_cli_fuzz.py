"""Grammar-based fuzzing of the command line: `derive`, `grad` and the options of every subcommand.

A seeded generator writes expressions from the parser's grammar, biased to what made the command hang or
crash before (10-character literals like 1e99999999, towers of powers, big exponents, deep nesting, long
sums, points at the edge of a domain or of float64) and wraps them in argv with valid and broken --wrt
and --at values; it also misspells the options of train/evaluate/derive/grad and gives them out-of-range
numbers. Every case runs through `chainrule.cli.main` in a worker subprocess under an address-space
limit (resource.setrlimit) and a per-case time limit (the parent kills the worker). A case fails on a
crash (an exception escaping main), a raw traceback in the output, an exit code other than 0 or 2, a
refusal without an "error:" line, a misspelled option without a suggestion, a case over its time, or a
value at --at where the symbolic derivative and chainrule's backward are both finite and disagree.

    CLI_FUZZ_CASES=2000 pytest -s tests/reliability/test_cli_fuzz.py      # a longer run (default 500)
    CLI_FUZZ_SEED=7 ...                                                      # another seed (default 0)
    CLI_FUZZ_OLD=1 CLI_FUZZ_SRC=/path/to/old/src ...                          # the same cases on other code
"""

import json
import math
import os
import pathlib
import queue
import random
import re
import subprocess
import sys

import pytest

pytest.importorskip("sympy")

from _workers import line_queue, worker_env  # a sibling module: pytest puts this folder on sys.path

HERE = pathlib.Path(__file__).resolve().parent
CASES = int(os.environ.get("CLI_FUZZ_CASES", "500"))
SEED = int(os.environ.get("CLI_FUZZ_SEED", "0"))
TIME_LIMIT = 1.0  # --time-limit given to derive/grad: the symbolic work budget per case
CASE_SECONDS = 8.0  # wall time the parent allows a case (budget + parsing, printing, autodiff, a loaded machine)
MEMORY = 3 * 2**30  # address space of the worker (chainrule, NumPy and SymPy use about 0.6 GiB)

FUNCTIONS = ("exp", "log", "ln", "sqrt", "sin", "cos", "tan", "tanh", "sigmoid", "relu", "abs", "softplus")
VARIABLES = ("x", "y", "z")


# ----- the grammar -----


def literal(rng, tame=False):
    kind = rng.random()
    if tame:  # small numbers: values and derivatives stay finite, so they are compared with autodiff
        return rng.choice(["1", "2", "3", "0.5", "1.5", "10"])
    if kind < 0.45:
        return str(rng.choice([0, 1, 2, 3, 5, 10, 100, 1000]))
    if kind < 0.6:
        return rng.choice(["0.5", "2.5", ".25", "1.", "0.001"])
    if kind < 0.7:  # scientific literals, of every size the text allows
        exponent = rng.choice([rng.randint(-40, 40)] * 4 + [rng.randint(-999, 999), rng.randint(-(10**8), 10**8)])
        return f"{rng.randint(1, 9)}e{exponent}"
    return str(rng.randint(1, 9)) * rng.choice([5, 5, 12, 20, 31, 32, 45, 50, 51])  # long digit strings


def atom(rng, tame=False):
    r = rng.random()
    if r < 0.65:
        return rng.choice(VARIABLES)
    if r < 0.95:
        return literal(rng, tame)
    return "pi"


def expression(rng, depth, tame=False):
    if depth <= 0 or rng.random() < 0.25:
        return atom(rng, tame)
    r = rng.random()
    sub = lambda: expression(rng, depth - 1, tame)
    if r < 0.35:
        return f"{sub()} {rng.choice(['+', '-', '*', '/'])} {sub()}"
    if tame and r >= 0.5:
        return f"{rng.choice(FUNCTIONS)}({sub()})" if r < 0.8 else f"({sub()})**{rng.choice(['2', '3', '0.5'])}"
    if r < 0.5:
        return f"{sub()}{rng.choice(['**', '^'])}{rng.choice([atom(rng), sub(), literal(rng)])}"
    if r < 0.7:
        return f"{rng.choice(FUNCTIONS)}({sub()})"
    if r < 0.75:
        return f"-{sub()}"
    if r < 0.82:  # a tower of powers: 9**9**9**9
        return "**".join(rng.choice([literal(rng), atom(rng)]) for _ in range(rng.randint(2, 5)))
    if r < 0.88:  # a polynomial power: (x + 1)**1000
        return f"({sub()} + {atom(rng)})**{rng.choice([2, 10, 50, 200, 1000, 5000, 10**6])}"
    if r < 0.93:  # a long sum or product
        return rng.choice([" + ", " * "]).join(sub() for _ in range(rng.randint(3, 40)))
    if r < 0.97:  # deep nesting, around the depth limit
        n = rng.choice([10, 60, 99, 101, 300])
        return rng.choice(FUNCTIONS) + "(" * n + sub() + ")" * n if rng.random() < 0.5 else "(" * n + sub() + ")" * n
    return f"({sub()})"


POINT_VALUES = [
    "0",
    "1",
    "-1",
    "2",
    "0.5",
    "-0.5",
    "710",
    "-710",
    "1000",
    "1e30",
    "1e-30",
    "pi",
    "pi/2",
    "-pi",
    "exp(1)",
    "1/3",
    "1e400",
    "10^400",
    "1/0",
    "0^-1",
    "nan",
    "inf",
    "-inf",
    "",
    "abc",
    "1e99999999",
    "9**9**9",
    "x",
    "(",
    "1..2",
    "sqrt(-1)",
    "log(0)",
]


def point(rng, names):
    r = rng.random()
    chosen = list(names) if r < 0.7 else rng.sample(VARIABLES, rng.randint(0, 3))
    parts = [f"{n}={rng.choice(POINT_VALUES[:12] if rng.random() < 0.7 else POINT_VALUES)}" for n in chosen]
    if rng.random() < 0.15 and parts:
        parts.append(rng.choice(parts))  # a name twice
    if rng.random() < 0.15:
        parts.append(rng.choice(["", "=1", "x", "x=1=2", " = ", "_x=1", "1x=2", "x y=1", "é=1"]))
    return ",".join(parts)


def derive_argv(rng):
    tame = rng.random() < 0.3
    text = expression(rng, rng.randint(0, 4 if tame else 6), tame)
    present = [v for v in VARIABLES if v in text]
    command = "derive" if rng.random() < 0.7 else "grad"
    argv = [command, text]
    if command == "derive" and (len(present) > 1 or rng.random() < 0.3):
        argv += [
            "--wrt",
            rng.choice(present + ["", "q", "x,x", " x", "pi", "exp", "1x", "x y"])
            if present
            else rng.choice(["x", "", "q"]),
        ]
    if tame and present:
        argv += ["--at", ",".join(f"{n}={rng.choice(['-2', '-0.5', '0.5', '1', '2.5', 'pi/4'])}" for n in present)]
    elif rng.random() < 0.75 and (present or rng.random() < 0.2):
        argv += ["--at", point(rng, present)]
    # CLI_FUZZ_OLD=1 leaves out --time-limit, to run the cases against a version without it
    return argv + ([] if os.environ.get("CLI_FUZZ_OLD") else ["--time-limit", str(TIME_LIMIT)])


BAD_NUMBERS = ["0", "-1", "nan", "inf", "-inf", "1e400", "abc", "", "1.5", "99999999999999999999", "0x10", "1e-9"]
COMMAND_OPTIONS = {
    "train": {
        "--lr": "0.01",
        "--batch-size": "10",
        "--steps": "5",
        "--epochs": "1",
        "--hidden": "8,8",
        "--channels": "4",
        "--momentum": "0.9",
        "--weight-decay": "0",
        "--seed": "1",
        "--log-every": "1",
        "--eval-every": "1",
        "--checkpoint-every": "1",
        "--threads": "1",
        "--model": "mlp",
        "--activation": "tanh",
        "--optimizer": "sgd",
    },
    "derive": {"--wrt": "x", "--at": "x=1", "--time-limit": "1"},
    "grad": {"--at": "x=1", "--time-limit": "1"},
    "evaluate": {"--data": "xor", "--threads": "1"},
}


def option_argv(rng):
    """A subcommand with one broken option: misspelled, or given an out-of-range or malformed value."""
    command = rng.choice(sorted(COMMAND_OPTIONS))
    options = COMMAND_OPTIONS[command]
    flag = rng.choice(sorted(options))
    # a value that turns out valid trains one step on a tiny data set, in the worker's directory
    argv = [command] + {
        "derive": ["x**2"],
        "grad": ["x**2"],
        "evaluate": ["nowhere"],
        "train": ["--data", "xor", "--no-plot", "--no-progress", "--out", "run"],
    }[command]
    if command == "train" and flag not in ("--steps", "--epochs"):
        argv += ["--steps", "1"]
    if rng.random() < 0.5:
        name = flag[2:]
        i = rng.randrange(len(name) + 1)
        edit = rng.choice(["insert", "delete", "swap", "replace"])
        c = rng.choice("abcdefghijklmnopqrstuvwxyz-")
        if edit == "insert":
            name = name[:i] + c + name[i:]
        elif edit == "delete" and len(name) > 2:
            name = name[:i] + name[i + 1 :]
        elif edit == "swap" and i < len(name) - 1:
            name = name[:i] + name[i + 1] + name[i] + name[i + 2 :]
        else:
            name = name[:i] + c + name[i + 1 :]
        typo = "--" + name
        if any(o.startswith(typo) for o in options) or typo == "--help" or typo.startswith("--h"):
            typo = "--" + flag[2:] + "x"  # never a valid option nor an abbreviation argparse accepts
        return argv + [typo, options[flag]], "typo"
    bad = rng.choice(BAD_NUMBERS + ["mpl", "relu6", "adamm", "0,8", "8,,8", "-8", "100000"])
    if flag in ("--steps", "--epochs") and bad.isdigit() and 0 < int(bad) <= 10**9:
        bad = "0"  # a valid length would be a long training run, not a refusal
    return argv + [flag, bad], "value"


def generate(n, seed):
    rng = random.Random(seed)
    cases = []
    for _ in range(n):
        cases.append((derive_argv(rng), "expression") if rng.random() < 0.8 else option_argv(rng))
    return cases


# ----- running them -----


def run_cases(argvs, tmp_path):
    """Run argv lists in one worker; a case past CASE_SECONDS kills the worker and the rest run in a new one."""
    results, start = [], 0
    env = worker_env("CLI_FUZZ_SRC")
    while start < len(argvs):
        proc = subprocess.Popen(
            [sys.executable, str(HERE / "cli_fuzz_worker.py"), str(MEMORY)],
            cwd=tmp_path,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        proc.stdin.write(json.dumps(argvs[start:]))
        proc.stdin.close()
        lines = line_queue(proc.stdout)
        current, timeout = None, 120  # the first line waits for chainrule and SymPy to import
        while True:
            try:
                line = lines.get(timeout=timeout)
            except queue.Empty:
                proc.kill()
                results.append(
                    {
                        "i": current,
                        "rc": None,
                        "seconds": CASE_SECONDS,
                        "out": "",
                        "err": "",
                        "crash": f"no answer within {CASE_SECONDS} s (hang)",
                    }
                )
                break
            if line is None:
                proc.wait()
                if current is not None and (not results or results[-1]["i"] != current):
                    results.append(
                        {
                            "i": current,
                            "rc": None,
                            "seconds": 0,
                            "out": "",
                            "err": "",
                            "crash": f"worker died: exit {proc.returncode}: {proc.stderr.read()[-2000:]}",
                        }
                    )
                break
            record = json.loads(line)
            if "start" in record:
                current, timeout = start + record["start"], CASE_SECONDS
            else:
                record["i"] = current
                results.append(record)
        proc.wait()
        start = (results[-1]["i"] + 1) if results else len(argvs)
    return results


def _numbers(text):
    return [float(v) for v in text.strip("()").split(", ")]


def disagreement(argv, out):
    """Differential: the symbolic derivative's float64 value and chainrule's backward at the same point agree
    where both are finite (relu is left out: SymPy's Heaviside(0) is 1/2, torch's relu'(0) is 0)."""
    symbolic = re.search(r"^(?:at .*: df/d\w+ = |grad f\(.*\) = )(.+)$", out, re.MULTILINE)
    autodiff = re.search(r"^autodiff check \(chainrule backward\): (.+)$", out, re.MULTILINE)
    if "relu" in argv[1] or not (symbolic and autodiff):
        return None
    for v, w in zip(_numbers(symbolic.group(1)), _numbers(autodiff.group(1))):
        if math.isfinite(v) and math.isfinite(w):
            COMPARED[0] += 1
            if not math.isclose(v, w, rel_tol=1e-6, abs_tol=1e-9):
                return f"symbolic {symbolic.group(1)} vs autodiff {autodiff.group(1)}"
    return None


COMPARED = [0]  # finite derivative values compared with autodiff in this run


def problems(argv, kind, record):
    """What is wrong with one case's outcome (empty when the case passed)."""
    found = []
    text = record["out"] + record["err"]
    if record["crash"]:
        found.append("crash: " + record["crash"].strip().splitlines()[-1])
    if "Traceback" in text:
        found.append("traceback in the output")
    if record["rc"] not in (0, 2) and not record["crash"]:
        found.append(f"exit code {record['rc']}")
    if record["rc"] == 2 and "error:" not in record["err"]:
        found.append("refused without an error line")
    if record["rc"] == 2 and len(record["err"].strip().splitlines()) > 3:  # message, expression, caret
        found.append("a refusal longer than three lines")
    if record["seconds"] > CASE_SECONDS:
        found.append(f"took {record['seconds']:.1f} s")
    if (
        kind == "typo"
        and record["rc"] == 2
        and "unknown option" in record["err"]
        and "did you mean" not in record["err"]
        and "unrecognized" in record["err"]
    ):
        found.append("no suggestion")
    if kind == "expression" and record["rc"] == 0:
        differs = disagreement(argv, record["out"])
        if differs:
            found.append("derivatives disagree: " + differs)
    if kind == "typo" and "unrecognized arguments" in record["err"]:
        found.append("argparse's unrecognized arguments, no suggestion")
    return found


def test_cli_fuzz(tmp_path, capsys):
    cases = generate(CASES, SEED)
    results = run_cases([argv for argv, _ in cases], tmp_path)
    failures, outcomes, classes = [], {}, {}
    for record in results:
        argv, kind = cases[record["i"]]
        wrong = problems(argv, kind, record)
        if wrong:
            failures.append(f"{argv!r}: {'; '.join(wrong)}\n    {record['err'].strip()[:300]}")
            for w in wrong:
                name = w.split(":")[0] if not w.startswith("crash: no answer") else "hang"
                classes[name] = classes.get(name, 0) + 1
        key = f"{kind}:{'ok' if record['rc'] == 0 else 'refused' if record['rc'] == 2 else 'failed'}"
        outcomes[key] = outcomes.get(key, 0) + 1
    slowest = max(r["seconds"] for r in results)
    peak = max(r.get("peak_mib", 0) for r in results)
    with capsys.disabled():
        print(
            f"\ncli fuzz figures: {len(results)} cases (seed {SEED}), {json.dumps(outcomes, sort_keys=True)}, "
            f"{COMPARED[0]} derivative values compared with autodiff, slowest {slowest:.2f} s, "
            f"worker peak RSS {peak:.0f} MiB, failures {len(failures)} "
            f"{json.dumps(classes, sort_keys=True)}"
        )
    assert len(results) == len(cases)
    assert not failures, "\n".join(failures[:20])


def test_generator_reaches_the_hard_classes():
    """The generator is biased to the inputs that broke the command before; check that it produces them."""
    texts = [" ".join(argv) for argv, _ in generate(400, 0)]
    for marker in ["e-", "**1000", "((((((((((", "nan", "1e", "9999999999999999999", "**5000", "x=1=2", "x=710"]:
        assert any(marker in t for t in texts), marker
    points = [argv[argv.index("--at") + 1] for argv, _ in generate(400, 0) if "--at" in argv]
    assert any(len(p.split(",")) != len({part.split("=")[0] for part in p.split(",")}) for p in points)


def test_the_differential_check_can_fail():
    out = "f(x) = x**2\ndf/dx = 2*x\nat x=1: df/dx = 2\nautodiff check (chainrule backward): 3\n"
    assert "vs autodiff 3" in disagreement(["derive", "x**2"], out)
    assert disagreement(["derive", "x**2"], out.replace("): 3", "): 2.0000000001")) is None
    grad = "grad f(x=1, y=2) = (17, 15)\nautodiff check (chainrule backward): (17, nan)\n"
    assert disagreement(["grad", "x*y"], grad) is None  # NaN is not compared
    assert disagreement(["grad", "x*y"], grad.replace("nan", "14")) is not None
