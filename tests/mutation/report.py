"""`make mutation`: run mutmut over the decision modules ([tool.mutmut] in pyproject.toml) and
print, per module, the mutants killed, survived and listed as equivalent, with the score.

    python -m tests.mutation.report [MODULE ...]     e.g. pipelines.gates.rules

Equivalent mutants (a change no test can observe: the behaviour is the same) are listed in
mutation-equivalents.txt, one a line: `<mutant name>  # <reason>`. They are left out of the
score; a listed mutant that is killed, or no longer exists, is reported so the list stays true.
The score counts killed / (killed + survived + no tests + timeouts), equivalents excluded.
"""

from __future__ import annotations

import subprocess
import sys
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
EQUIVALENTS = ROOT / "mutation-equivalents.txt"
MUTMUT = [sys.executable, "-m", "mutmut"]
TARGET = 0.95


def equivalents() -> dict[str, str]:
    """Mutant name -> why it is equivalent."""
    found = {}
    for line in EQUIVALENTS.read_text(encoding="utf-8").splitlines() if EQUIVALENTS.exists() else []:
        name, _, reason = line.partition("#")
        if name.strip():
            found[name.strip()] = reason.strip()
    return found


def module_of(mutant: str) -> str:
    """pipelines.gates.rules.x_evaluate_gates__mutmut_7 -> pipelines.gates.rules"""
    return ".".join(part for part in mutant.split(".") if not part.startswith(("x_", "xǁ")))


def results() -> dict[str, str]:
    """Every mutant's status, from `mutmut results --all true`."""
    listed = subprocess.run([*MUTMUT, "results", "--all", "true"], cwd=ROOT, capture_output=True, text=True)
    found = {}
    for line in listed.stdout.splitlines():
        name, _, status = line.strip().rpartition(": ")
        if "__mutmut_" in name:
            found[name] = status
    return found


def table(statuses: dict[str, str], listed: dict[str, str]) -> tuple[str, bool]:
    per_module: dict[str, Counter[str]] = defaultdict(Counter)
    for name, status in statuses.items():
        per_module[module_of(name)]["equivalent" if name in listed else status] += 1
    rows = ["| module | mutants | killed | survived | no tests | timeout | equivalent | score |", "|---" * 8 + "|"]
    met = True
    for module in sorted(per_module):
        count = per_module[module]
        judged = sum(count[s] for s in ("killed", "survived", "no tests", "timeout"))
        score = count["killed"] / judged if judged else 1.0
        met &= score >= TARGET
        rows.append(
            f"| {module} | {sum(count.values())} | {count['killed']} | {count['survived']} | {count['no tests']} "
            f"| {count['timeout']} | {count['equivalent']} | {score:.1%} |"
        )
    return "\n".join(rows), met


def forget(modules: list[str]) -> None:
    """Drop mutmut's stored results of these modules (all when none is named): it re-tests only
    mutants without a result, so a test added since would not count."""
    for meta in (ROOT / "mutants").rglob("*.py.meta"):
        name = meta.relative_to(ROOT / "mutants").as_posix().removesuffix(".py.meta").replace("/", ".")
        if not modules or name in modules:
            meta.unlink()


def main(argv: list[str]) -> int:
    patterns = [f"{module}.*" for module in argv]
    forget(argv)
    subprocess.run([*MUTMUT, "run", *patterns], cwd=ROOT, check=True)
    statuses = results()
    if argv:
        statuses = {n: s for n, s in statuses.items() if any(module_of(n) == m for m in argv)}
    listed = equivalents()
    text, met = table(statuses, listed)
    print(text)
    stale = sorted(n for n in listed if n in statuses and statuses[n] == "killed")
    missing = sorted(n for n in listed if n not in statuses and (not argv or module_of(n) in argv))
    for name in stale:
        print(f"listed as equivalent but killed: {name}")
    for name in missing:
        print(f"listed as equivalent but no longer a mutant: {name}")
    survivors = sorted(n for n, s in statuses.items() if s in ("survived", "no tests") and n not in listed)
    if survivors:
        print(f"{len(survivors)} surviving (see each with: python -m mutmut show NAME):")
        print("\n".join(f"  {name}" for name in survivors))
    print(f"target {TARGET:.0%} killed per module: {'met' if met else 'not met'}")
    return 0 if met and not stale else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
