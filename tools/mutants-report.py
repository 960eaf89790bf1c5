"""Turns cargo-mutants' output into MUTANTS.md: per file, caught / missed / unviable /
timeout and the viable catch rate; then every missed mutant, with its reason from
tools/mutants-equivalent.txt when one is recorded there ("file:line: reason").

Usage: mutants-report.py TESTS DIR [DIR ...]. TESTS is "lib" (unit tests only) or, when
pass 2 ran, the binary tests it ran per part ("foundation: a b; providers: c d"). Each DIR is a mutants.out directory; a later one's outcome for
a mutant replaces an earlier one's (pass 2 retests what pass 1 missed).

Reads the per-outcome lists (caught.txt, missed.txt, timeout.txt, unviable.txt), which
cargo-mutants appends to as it goes, so a run cut short still gives an honest partial
report; mutants.json gives how many there were in all."""
import collections, json, os, re, sys

tests, dirs = sys.argv[1], sys.argv[2:]
reasons = {}
if os.path.exists("tools/mutants-equivalent.txt"):
    for line in open("tools/mutants-equivalent.txt"):
        if line.strip() and not line.startswith("#"):
            key, _, why = line.partition(": ")
            reasons[key.strip()] = why.strip()


def lines(d, name):
    p = os.path.join(d, name)
    return [l.rstrip("\n") for l in open(p)] if os.path.exists(p) else []


outcome = {}  # "file:line:col: what" -> caught | missed | timeout | unviable
listed = set()  # every mutant some run set out to test
for d in dirs:
    for kind in ("caught", "missed", "timeout", "unviable"):
        for l in lines(d, kind + ".txt"):
            if re.match(r"^[^:]+:\d+:", l):
                outcome[l] = kind
    try:
        listed.update(m["name"] for m in json.load(open(os.path.join(d, "mutants.json"))))
    except Exception:
        pass
untested = len(listed - set(outcome))

per_file = collections.defaultdict(collections.Counter)
missed = []
for name, kind in outcome.items():
    m = re.match(r"^([^:]+):(\d+):(?:\d+:)? (.*)$", name)
    f, line, what = m.groups()
    per_file[f][kind] += 1
    if kind == "missed":
        missed.append((f, int(line), what))
missed.sort()

print("# Mutation testing\n")
print("Written by `bash tools/mutants` (cargo-mutants) over the foundation (every mutant) and")
print("every provider's settling and error mapping (the functions `PROVIDER_FNS` names in")
print("`tools/mutants`).")
if tests == "lib":
    print("Tests run: unit tests only (`cargo test --lib`): pass 2, against the binary tests")
    print("in `tests/`, did not run, so this under-counts what the whole suite catches.")
else:
    print("Tests run: pass 1, every mutant against the unit tests (`cargo test --lib`); pass 2,")
    print("what pass 1 missed, against the unit tests and these binary tests of `tests/`:")
    print()
    for part in tests.split("; "):
        name, _, bins = part.partition(": ")
        print("- %s: %s" % (name, ", ".join("`%s`" % b for b in bins.split())))
    print()
    print("Property tests ran 64 cases each (`PROPTEST_CASES=64`).")
if untested:
    print("\n**Partial run:** %d of %d mutants were not tested before the run was stopped." % (untested, len(listed)))
print()
print("| file | caught | missed | unviable | timeout | caught of viable |")
print("|---|---|---|---|---|---|")
tot = collections.Counter()
for f in sorted(per_file):
    c = per_file[f]
    tot.update(c)
    viable = c["caught"] + c["missed"] + c["timeout"]
    rate = "%.0f %%" % (100.0 * (c["caught"] + c["timeout"]) / viable) if viable else "–"
    print("| %s | %d | %d | %d | %d | %s |" % (f, c["caught"], c["missed"], c["unviable"], c["timeout"], rate))
viable = tot["caught"] + tot["missed"] + tot["timeout"]
rate = "%.1f %%" % (100.0 * (tot["caught"] + tot["timeout"]) / viable) if viable else "–"
print("| **total** | %d | %d | %d | %d | **%s** |" % (tot["caught"], tot["missed"], tot["unviable"], tot["timeout"], rate))
print("\nA timeout counts as caught: the mutant made a test hang (cargo-mutants' own convention).")
print("\n## Missed mutants\n")
if not missed:
    print("None.")
for f, line, what in missed:
    why = reasons.get("%s:%s" % (f, line), "no test yet")
    print("- `%s:%s` %s — %s" % (f, line, what, why))
