#!/bin/bash
# The docs follow the code: every zos-cli, zos-agent and tfchain-dev command
# shown in README.md and docs/*.md names a command and subcommand the program
# has, and only options its --help lists; every key of the example
# configuration is documented in docs/configuration.md, and every key
# documented there exists. The examples that need no chain run for real.
set -u
: "${BUILD:=build}"
for b in zos-cli zos-agent tfchain-dev; do
	[ -x "$BUILD/$b" ] || { echo "missing $BUILD/$b (run make first)"; exit 1; }
done
command -v python3 >/dev/null || { echo "skipped: python3 is not installed"; exit 77; }
python3 - "$BUILD" <<'EOF'
import glob, re, subprocess, sys

build = sys.argv[1]
errors = []

def helptext(*args):
    p = subprocess.run([f"{build}/{args[0]}", *args[1:], "--help"], capture_output=True,
                       text=True, timeout=30)
    return p.stdout + p.stderr

top = helptext("zos-cli")
commands = set(re.findall(r"^  ([a-z][a-z0-9-]*)\s", top.split("commands:")[1], re.M))
cmd_help = {c: helptext("zos-cli", c) for c in commands}
prog_help = {"zos-agent": helptext("zos-agent"), "tfchain-dev": helptext("tfchain-dev")}

sub_cache = {}
def sub_help(c, sub):
    if (c, sub) not in sub_cache:
        sub_cache[(c, sub)] = helptext("zos-cli", c, sub)
    return sub_cache[(c, sub)]

def snippets(path):
    """(line number, text) of each command in code blocks and in `code`."""
    text = open(path, encoding="utf-8").read()
    out = []
    in_block = False
    for n, line in enumerate(text.split("\n"), 1):
        if line.strip().startswith("```"):
            in_block = not in_block
            continue
        if in_block:
            out.append((n, line.split(" #")[0]))
        else:
            out += [(n, m) for m in re.findall(r"`([^`]+)`", line)]
    return out

def check(path, n, snip):
    # A command: the program at the start (after a prompt, sudo or a path),
    # or after a pipe or && in a shell line; prose that names a program is
    # not a command.
    m = re.search(r"(?:^\s*(?:\$\s+)?(?:sudo\s+)?|[|&;]\s*)(?:\S*/)?(zos-cli|zos-agent|tfchain-dev)((?:\s+[^\s|;&)]+)*)", snip)
    if not m:
        return
    prog, rest = m.group(1), m.group(2).split()
    where = f"{path}:{n}: `{snip.strip()}`"
    opts = [w.split("=")[0] for w in rest if w.startswith("--")]
    if prog == "zos-cli":
        if not rest or rest[0].startswith("-") or rest[0] in ("...", "COMMAND"):
            return
        c = rest[0].split("|")[0]
        if c not in commands:
            errors.append(f"{where}: zos-cli has no command '{c}'")
            return
        h = cmd_help[c]
        if len(rest) > 1 and re.fullmatch(r"[a-z][a-z-]+", rest[1]):
            sub = rest[1]
            # A subcommand appears in the usage lines or the list of subcommands.
            if f"zos-cli {c} {sub}" not in h and not re.search(rf"^\s+{sub}\s", h, re.M):
                if "SUBCOMMAND" in h or re.search(rf"zos-cli {c} [a-z]", h):
                    errors.append(f"{where}: 'zos-cli {c}' has no subcommand '{sub}'")
            else:
                # Options may be listed by the subcommand's own help.
                h += sub_help(c, sub)
        for o in opts:
            if o not in h and o not in ("--help", "--version"):
                errors.append(f"{where}: 'zos-cli {c} --help' does not list {o}")
    else:
        h = prog_help[prog]
        for o in opts:
            if o not in h and o not in ("--help", "--version"):
                errors.append(f"{where}: '{prog} --help' does not list {o}")

files = ["README.md"] + sorted(glob.glob("docs/*.md"))
count = 0
for f in files:
    for n, s in snippets(f):
        before = len(errors)
        check(f, n, s)
        count += 1
print(f"checked {count} snippets in {len(files)} files")

# Configuration keys: example <-> docs/configuration.md.
example = open("config/agent.conf.example", encoding="utf-8").read()
keys, section = set(), None
for line in example.split("\n"):
    s = line.strip().lstrip("#").strip()
    m = re.fullmatch(r"\[([a-z_]+)\]", line.strip())
    if m:
        section = m.group(1)
        continue
    m = re.fullmatch(r"([a-z_]+)\s*=.*", s)
    if m and section and not line.strip().startswith("# "):
        keys.add(f"{section}.{m.group(1)}")
doc = open("docs/configuration.md", encoding="utf-8").read()
doc_keys, section = set(), None
for line in doc.split("\n"):
    m = re.match(r"^### \[([a-z_]+)\]", line)
    if m:
        section = m.group(1)
        continue
    if line.startswith("## "):
        section = None
    # A row may document several keys: | `country`, `city` | ...
    m = re.match(r"^\| (`[a-z_]+`(?:, `[a-z_]+`)*) \|", line)
    if m and section:
        for k in re.findall(r"`([a-z_]+)`", m.group(1)):
            doc_keys.add(f"{section}.{k}")
for k in sorted(keys - doc_keys):
    errors.append(f"config key {k} is in config/agent.conf.example but not in docs/configuration.md")
for k in sorted(doc_keys - keys):
    errors.append(f"config key {k} is in docs/configuration.md but not in config/agent.conf.example")
print(f"checked {len(keys)} configuration keys")
for e in errors:
    print("FAIL:", e)
sys.exit(1 if errors else 0)
EOF
rc=$?
[ $rc -eq 0 ] || exit 1

# The examples that need no chain, run as the docs show them.
T=$(mktemp -d /tmp/docs-examples.XXXXXX)
trap 'rm -rf "$T"' EXIT
"$BUILD/zos-cli" key inspect --dev alice >"$T/out" || { echo "FAIL: zos-cli key inspect --dev alice"; exit 1; }
grep -q 5FA9nQDVg267DEd8m1ZypXLBnvN7SFxYwV7ndqSYGiN9TTpu "$T/out" ||
	{ echo "FAIL: //Alice's address in the docs is not what key inspect prints: $(cat "$T/out")"; exit 1; }
(cd "$T" && "$OLDPWD/$BUILD/zos-cli" key generate --out my.seed >/dev/null) || { echo "FAIL: key generate --out"; exit 1; }
[ "$(stat -c %a "$T/my.seed")" = 600 ] || { echo "FAIL: my.seed is not mode 0600"; exit 1; }
"$BUILD/zos-agent" -n -f config/agent.conf.example >/dev/null || { echo "FAIL: zos-agent -n on the example"; exit 1; }
echo "ok: the docs' commands, options and configuration keys match the programs"
