"""Print the reliability figures quoted in RELIABILITY.md.

    .venv/bin/python tests/reliability/report.py          # static counts + runs the checkpoint and fuzz tests

The op-table figures are counted from tests/opinfo.py and test_edge_cases.py's grids; the checkpoint and
fuzz figures come from running those test files in this process (their test_report prints them).
"""

import pathlib
import sys

HERE = pathlib.Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent), str(HERE)]

import pytest  # noqa: E402
import test_edge_cases as edge  # noqa: E402
import test_errors  # noqa: E402

from opinfo import OP_TABLE  # noqa: E402


def main():
    cases = sum(len(s.cases) for s in OP_TABLE)
    special_runs = (
        sum(min(len(s.cases), edge.MAX_CASES) for s in OP_TABLE)
        * sum(len(v) for v in edge.SPECIALS.values())
        * len(edge.MODES)
    )
    empty_specs = [s for s in OP_TABLE if s.make_args is None]
    n_error_tests = sum(1 for name in dir(test_errors) if name.startswith("test_"))
    print(f"op table: {len(OP_TABLE)} ops, {cases} sample cases")
    print(
        f"special values: {len(next(iter(edge.SPECIALS.values())))} "
        f"values x {len(edge.SPECIALS)} dtypes x {len(edge.MODES)} modes; {special_runs} op runs "
        f"(forward + backward each)"
    )
    print(f"empty/0-d: {len(empty_specs)} ops with shape-based samples")
    print(f"known warning ops: {len(edge.KNOWN_WARNING_OPS)}; known NaN-gradient points: {sorted(edge.KNOWN_GRAD_NAN)}")
    print(f"raw empty-input errors: {sorted(edge.RAW_EMPTY_ERRORS)}; ", end="")
    print(f"empty backward bugs: {sorted(edge.EMPTY_BACKWARD_BUGS)}")
    print(f"error-message test functions: {n_error_tests}")
    sys.stdout.flush()
    return pytest.main(
        [
            str(HERE / "test_checkpoints.py"),
            str(HERE / "test_fuzz.py"),
            "-q",
            "-s",
            "-p",
            "no:xdist",
            "-p",
            "no:cacheprovider",
        ]
    )


if __name__ == "__main__":
    sys.exit(main())
