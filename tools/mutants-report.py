"""Turns cargo-mutants' outcomes.json into MUTANTS.md: per file, caught / missed /
unviable / timeout and the viable catch rate; then every missed mutant, with its reason
from tools/mutants-equivalent.txt when one is recorded there ("file:line: reason")."""
import collections, json, os, sys

out_dir, tests = sys.argv[1], sys.argv[2]
data = json.load(open(os.path.join(out_dir, "outcomes.json")))
reasons = {}
if os.path.exists("tools/mutants-equivalent.txt"):
    for line in open("tools/mutants-equivalent.txt"):
        if line.strip() and not line.startswith("#"):
            key, _, why = line.partition(": ")
            reasons[key.strip()] = why.strip()

per_file = collections.defaultdict(collections.Counter)
missed = []
for o in data.get("outcomes", []):
    scenario = o.get("scenario")
    if not isinstance(scenario, dict) or "Mutant" not in scenario:
        continue
    m = scenario["Mutant"]
    f = m.get("file") or m.get("source_file", {}).get("tree_relpath", "?")
    summary = o.get("summary", "?")
    kind = {"CaughtMutant": "caught", "MissedMutant": "missed", "Unviable": "unviable",
            "Timeout": "timeout"}.get(summary, summary.lower())
    per_file[f][kind] += 1
    if kind == "missed":
        span = m.get("span", {}).get("start", {})
        line = span.get("line", "?")
        name = m.get("name") or "%s %s" % (m.get("function", {}).get("function_name", ""), m.get("replacement", ""))
        missed.append((f, line, name))

print("# Mutation testing\n")
print("`bash tools/mutants` (cargo-mutants) — tests run: %s.\n" % ("unit tests only (`--lib`)" if tests == "lib" else "the whole suite"))
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
for f, line, name in missed:
    why = reasons.get("%s:%s" % (f, line), "no test yet")
    print("- `%s:%s` %s — %s" % (f, line, name, why))
