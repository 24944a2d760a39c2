"""Runs command lines through `chainrule.cli.main` in this process, one JSON line per case.

    python cli_fuzz_worker.py MEMORY_BYTES < cases.json      # cases: a JSON list of argv lists

Started by test_cli_fuzz.py in a subprocess under an address-space limit (MEMORY_BYTES, set here with
resource.setrlimit before chainrule is imported); the parent watches the time of each case and kills
this process when one runs past its limit. For each case it prints {"start": i} before it runs, then
{"i", "rc", "seconds", "out", "err", "crash", "peak_mib"}: crash holds the traceback of any exception that escaped
`main` (SystemExit from argparse is the exit code, not a crash).
"""

import contextlib
import io
import json
import resource
import sys
import time
import traceback


def main():
    memory = int(sys.argv[1])
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    from chainrule import cli

    cases = json.load(sys.stdin)
    real = sys.stdout
    with contextlib.redirect_stdout(io.StringIO()):
        cli.main(["derive", "x**2 + sin(x)", "--at", "x=1"])  # load SymPy's lazy imports before the clock runs
    for i, argv in enumerate(cases):
        print(json.dumps({"start": i}), file=real, flush=True)
        out, err, crash, rc = io.StringIO(), io.StringIO(), None, None
        start = time.perf_counter()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                rc = cli.main(argv)
            except SystemExit as e:
                rc = e.code
            except BaseException:  # noqa: BLE001 - anything escaping main is what the fuzzer looks for
                crash = traceback.format_exc()
        seconds = time.perf_counter() - start
        print(
            json.dumps(
                {
                    "i": i,
                    "rc": rc,
                    "seconds": seconds,
                    "out": out.getvalue()[-2000:],
                    "err": err.getvalue()[-2000:],
                    "crash": crash,
                    "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                }
            ),
            file=real,
            flush=True,
        )


if __name__ == "__main__":
    main()
