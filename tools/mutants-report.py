"""Turns cargo-mutants' output into MUTANTS.md: per file, caught / missed / unviable /
timeout and the viable catch rate; then every missed mutant, with its reason from
tools/mutants-equivalent.txt when one is recorded there ("file:line: reason").

Reads the per-outcome lists (caught.txt, missed.txt, timeout.txt, unviable.txt), which
cargo-mutants appends to as it goes, so a run cut short still gives an honest partial
report; mutants.json gives how many there were in all."""
import collections, json, os, re, sys

out_dir, tests = sys.argv[1], sys.argv[2]
reasons = {}
if os.path.exists("tools/mutants-equivalent.txt"):
    for line in open("tools/mutants-equivalent.txt"):
        if line.strip() and not line.startswith("#"):
            key, _, why = line.partition(": ")
            reasons[key.strip()] = why.strip()

def lines(name):
    p = os.path.join(out_dir, name)
    return [l.rstrip("\n") for l in open(p)] if os.path.exists(p) else []

per_file = collections.defaultdict(collections.Counter)
missed = []
for kind in ("caught", "missed", "timeout", "unviable"):
    for l in lines(kind + ".txt"):
        m = re.match(r"^([^:]+):(\d+):(?:\d+:)? (.*)$", l)
        if not m:
            continue
        f, line, what = m.groups()
        per_file[f][kind] += 1
        if kind == "missed":
            missed.append((f, line, what))
total = None
try:
    total = len(json.load(open(os.path.join(out_dir, "mutants.json"))))
except Exception:
    pass
tested = sum(sum(c.values()) for c in per_file.values())

print("# Mutation testing\n")
print("Written by `bash tools/mutants` (cargo-mutants). Tests run: %s." % (
    "unit tests only (`MUTANTS_TESTS=lib`: `cargo test --lib`; the binary-level tests in `tests/` were not run, so this under-counts what the whole suite catches)"
    if tests == "lib" else "the whole suite"))
if total is not None and tested < total:
    print("\n**Partial run:** %d of %d mutants tested before the run was stopped." % (tested, total))
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
print("\n## Missed mutants\n")
if not missed:
    print("None.")
for f, line, what in missed:
    why = reasons.get("%s:%s" % (f, line), "no test yet")
    print("- `%s:%s` %s — %s" % (f, line, what, why))
