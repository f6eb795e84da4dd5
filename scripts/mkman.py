#!/usr/bin/env python3
"""Writes the manual pages from the programs' own help and the example config.

The pages are generated at build time so that they never drift from the code:
zos-cli(1) from `zos-cli --help` and every `zos-cli COMMAND --help`,
zos-agent(8) and tfchain-dev(1) from their `--help` plus the hand-written
sections in man/*.in, and agent.conf(5) from config/agent.conf.example, whose
comments document every key.

usage: mkman.py BUILD_DIR OUT_DIR
"""
import datetime
import os
import re
import subprocess
import sys

VERSION_RE = re.compile(r'#define ZOS_VERSION "([^"]+)"')
KEY_RE = re.compile(r"^([a-z_]+)\s*=\s*(.*)$")


def version():
    with open("common/version.h", encoding="utf-8") as f:
        m = VERSION_RE.search(f.read())
    return m.group(1) if m else "unknown"


def esc(line):
    """Escapes a line of plain text for roff."""
    line = line.replace("\\", "\\e")
    if line.startswith((".", "'")):
        line = "\\&" + line
    return line.replace("-", "\\-")


def verbatim(text):
    out = [".nf"]
    out += [esc(l) for l in text.rstrip("\n").split("\n")]
    out.append(".fi")
    return "\n".join(out)


def run_help(prog, *args):
    """A program's help text. Help goes to stdout or stderr and may exit 0,
    1 or 2 depending on the program; all of them are accepted, an empty text
    is not."""
    p = subprocess.run([prog, *args, "--help"], capture_output=True, text=True, timeout=30)
    text = p.stdout if p.stdout.strip() else p.stderr
    if not text.strip():
        sys.exit(f"mkman: {prog} {' '.join(args)} --help printed nothing")
    return text


def header(name, section, title):
    date = os.environ.get("SOURCE_DATE_EPOCH")
    day = (datetime.datetime.fromtimestamp(int(date), datetime.timezone.utc)
           if date else datetime.datetime.now(datetime.timezone.utc)).strftime("%Y-%m-%d")
    return (f'.TH {name.upper()} {section} "{day}" "zos-agent {version()}" "{title}"\n')


def hand_sections(path):
    """Hand-written roff for the parts --help does not say (files, signals,
    see also); missing files give nothing."""
    if not os.path.exists(path):
        return ""
    with open(path, encoding="utf-8") as f:
        return f.read().rstrip("\n") + "\n"


def cli_commands(help_text):
    cmds = []
    in_cmds = False
    for line in help_text.split("\n"):
        if line.strip() == "commands:":
            in_cmds = True
            continue
        if in_cmds:
            m = re.match(r"^  ([a-z][a-z0-9-]*)\s", line)
            if m:
                cmds.append(m.group(1))
            elif line.strip() == "":
                if cmds:
                    in_cmds = False
    return cmds


def page_cli(build):
    prog = os.path.join(build, "zos-cli")
    top = run_help(prog)
    out = [header("zos-cli", 1, "ThreeFold Grid user commands")]
    out.append(".SH NAME\nzos\\-cli \\- keys, chain, twins, farms, contracts and deployments "
               "on the ThreeFold Grid\n")
    out.append(".SH SYNOPSIS\n.B zos\\-cli\n[\\-\\-help | \\-\\-version]\n.I COMMAND\n[ARGS...]\n")
    out.append(".SH DESCRIPTION\n" + verbatim(top) + "\n")
    out.append(".SH COMMANDS\n")
    for c in cli_commands(top):
        out.append(f".SS {c}\n" + verbatim(run_help(prog, c)) + "\n")
    out.append(hand_sections("man/zos-cli.1.in"))
    return "".join(out)


def page_prog(build, name, section, title, summary):
    text = run_help(os.path.join(build, name))
    out = [header(name, section, title)]
    out.append(f".SH NAME\n{esc(name)} \\- {summary}\n")
    out.append(".SH SYNOPSIS AND OPTIONS\n" + verbatim(text) + "\n")
    out.append(hand_sections(f"man/{name}.{section}.in"))
    return "".join(out)


def page_conf():
    """agent.conf(5): every section and key of the example config, with the
    comment lines above a key as its description."""
    out = [header("agent.conf", 5, "File formats")]
    out.append(".SH NAME\nagent.conf \\- configuration of zos\\-agent(8)\n")
    out.append(".SH DESCRIPTION\n")
    with open("config/agent.conf.example", encoding="utf-8") as f:
        lines = f.read().split("\n")
    intro, comment, section, seen = [], [], None, set()
    for line in lines:
        s = line.strip()
        if section is None and s.startswith("#"):
            intro.append(s.lstrip("#").strip())
            continue
        if s.startswith("[") and s.endswith("]"):
            if section is None:
                out.append("\n".join(esc(l) if l else ".PP" for l in intro) + "\n")
                out.append(".SH SECTIONS AND KEYS\n")
            section = s[1:-1]
            out.append(f".SS [{esc(section)}]\n")
            comment = []
            continue
        if s.startswith("#"):
            body = s.lstrip("#").strip()
            m = KEY_RE.match(body)
            if m and section is not None:
                # A commented-out key: its default is derived from other keys,
                # and the value shown is only an example.
                out.append(f".TP\n.B {esc(m.group(1))}\nExample: {esc(m.group(2)) or '(empty)'}.\n")
                if comment:
                    out.append(esc(" ".join(c for c in comment if c)) + "\n")
                comment = []
                continue
            comment.append(body)
            continue
        if "=" in s and section is not None:
            key, _, val = s.partition("=")
            key, val = key.strip(), val.strip()
            if (section, key) in seen and not comment:
                # A repeated key lists one more default value.
                out.append(f".br\nAlso: {esc(val)}.\n")
                continue
            seen.add((section, key))
            out.append(f".TP\n.B {esc(key)}\nDefault: {esc(val) or '(empty)'}.\n")
            if comment:
                out.append(esc(" ".join(c for c in comment if c)) + "\n")
            comment = []
            continue
        if not s and comment and section is not None:
            out.append(".PP\n" + esc(" ".join(c for c in comment if c)) + "\n")
            comment = []
    out.append(hand_sections("man/agent.conf.5.in"))
    return "".join(out)


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: mkman.py BUILD_DIR OUT_DIR")
    build, outdir = sys.argv[1], sys.argv[2]
    os.makedirs(outdir, exist_ok=True)
    pages = {
        "zos-cli.1": page_cli(build),
        "zos-agent.8": page_prog(build, "zos-agent", 8, "System administration",
                                 "the ThreeFold Grid node agent"),
        "tfchain-dev.1": page_prog(build, "tfchain-dev", 1, "ThreeFold Grid user commands",
                                   "a single-node tfchain for development and tests"),
        "agent.conf.5": page_conf(),
    }
    for name, text in pages.items():
        tmp = os.path.join(outdir, name + ".tmp")
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, os.path.join(outdir, name))


if __name__ == "__main__":
    main()
