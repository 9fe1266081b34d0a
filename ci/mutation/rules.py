"""Mutant generation by rules (ci/mutate.py --generate).

Each rule turns one line of a source file into a mutated line. Only code
that decides something is mutated: lines inside the condition of an `if`,
`while`, `for`, `ENSURE` or a `return` that compares, and the statements
that guard a result (`GUARD`), a flag (`SEM_UNDO`) or an error code. The
output is deterministic (files in a fixed order, lines top to bottom, rules
in a fixed order), so the checked-in list and its table are reproducible.

A mutant's id is a hash of (file, original line, mutated line, n-th such
pair in the file), not of its line number: edits elsewhere in the file do
not rename it, and ci/mutants/equivalent.txt keeps pointing at it.
"""
import hashlib
import re

# Relational operators, only with a space on each side (the house style,
# clang-format): that keeps `->`, `<<`, `#include <x.h>` and templates out.
REL = re.compile(r"(?<= )(<=|>=|==|!=|<|>)(?= )")
REL_FLIP = {"<": "<=", "<=": "<", ">": ">=", ">=": ">", "==": "!=", "!=": "=="}
LOGIC = re.compile(r"(?<= )(&&|\|\|)(?= )")
LOGIC_FLIP = {"&&": "||", "||": "&&"}
# A statement whose condition this line is (part of).
COND_START = re.compile(r"^\s*(\}\s*else\s+)?(if|while|for)\s*\(|\bENSURE\(|"
                        r"^\s*return\b.* (<|>|<=|>=|==|!=|&&|\|\|) | \? ")
GUARD_STMT = re.compile(r"^(\s*)(GUARD|GUARD_INT)\(")
ENSURE_ONE = re.compile(r"^(\s*)ENSURE\((.*), (SHMCHAN_E_\w+)\);\s*$")
IF_ONE = re.compile(r"^(\s*)(\}\s*else\s+)?if \((.*)\) \{\s*$")
RETURN_ERR = re.compile(r"\b(return) (SHMCHAN_E_\w+);")
# The code a caller would most plausibly confuse an error with.
ERR_SWAP = {
    "SHMCHAN_E_FOREIGN": "SHMCHAN_E_BUSY",
    "SHMCHAN_E_BUSY": "SHMCHAN_E_FOREIGN",
    "SHMCHAN_E_CLOSED": "SHMCHAN_E_TIMEOUT",
    "SHMCHAN_E_TIMEOUT": "SHMCHAN_E_CLOSED",
    "SHMCHAN_E_INTERRUPTED": "SHMCHAN_E_TIMEOUT",
    "SHMCHAN_E_NOT_FOUND": "SHMCHAN_E_CLOSED",
    "SHMCHAN_E_PROTOCOL": "SHMCHAN_E_CLOSED",
    "SHMCHAN_E_NO_SLOT": "SHMCHAN_E_BUSY",
    "SHMCHAN_E_WOULD_BLOCK": "SHMCHAN_E_TIMEOUT",
    "SHMCHAN_E_INVALID_ARGUMENT": "SHMCHAN_E_PROTOCOL",
    "SHMCHAN_E_ALREADY_RUNNING": "SHMCHAN_E_BUSY",
    "SHMCHAN_E_LIMIT": "SHMCHAN_E_SYSTEM",
    "SHMCHAN_E_PERMISSION": "SHMCHAN_E_FOREIGN",
    "SHMCHAN_E_NO_MEMORY": "SHMCHAN_E_LIMIT",
    "SHMCHAN_E_SYSTEM": "SHMCHAN_E_LIMIT",
    "SHMCHAN_E_LAYOUT_SIZE": "SHMCHAN_E_LAYOUT_PARAMS",
    "SHMCHAN_E_LAYOUT_PARAMS": "SHMCHAN_E_LAYOUT_SIZE",
    "SHMCHAN_E_LAYOUT_MAGIC": "SHMCHAN_E_LAYOUT_VERSION",
    "SHMCHAN_E_LAYOUT_VERSION": "SHMCHAN_E_LAYOUT_MAGIC",
    "SHMCHAN_E_FRAME_TOO_LONG": "SHMCHAN_E_FRAME_BEYOND_BUFFER",
    "SHMCHAN_E_FRAME_BEYOND_BUFFER": "SHMCHAN_E_FRAME_TOO_LONG",
    "SHMCHAN_E_FRAME_TRUNCATED": "SHMCHAN_E_FRAME_BEYOND_BUFFER",
    "SHMCHAN_E_FRAME_MAGIC": "SHMCHAN_E_FRAME_VERSION",
    "SHMCHAN_E_FRAME_VERSION": "SHMCHAN_E_FRAME_MAGIC",
    "SHMCHAN_E_FRAME_TYPE": "SHMCHAN_E_FRAME_FLAGS",
    "SHMCHAN_E_FRAME_FLAGS": "SHMCHAN_E_FRAME_TYPE",
    "SHMCHAN_E_FRAME_RESERVED": "SHMCHAN_E_FRAME_FLAGS",
    "SHMCHAN_E_FRAME_CHECKSUM": "SHMCHAN_E_FRAME_MAGIC",
    "SHMCHAN_E_OUTPUT_TOO_SMALL": "SHMCHAN_E_FRAME_TOO_LONG",
}


def code_part(line, in_comment):
    """The code of a line with comments blanked; and whether a block
    comment is still open at its end."""
    out = []
    i = 0
    while i < len(line):
        if in_comment:
            end = line.find("*/", i)
            if end < 0:
                return "".join(out), True
            i = end + 2
            in_comment = False
        elif line.startswith("/*", i):
            in_comment = True
            i += 2
        elif line.startswith("//", i):
            break
        elif line[i] == '"':
            # Keep string literals out of every rule ("a < b" in a message).
            j = i + 1
            while j < len(line) and line[j] != '"':
                j += 2 if line[j] == "\\" else 1
            out.append('"' + "_" * (j - i - 1) + '"')
            i = j + 1
        else:
            out.append(line[i])
            i += 1
    return "".join(out), in_comment


def _subs(line, code, regex, table, rule):
    for m in regex.finditer(code):
        new = table.get(m.group(1))
        if new is not None:
            yield rule, line[: m.start(1)] + new + line[m.end(1):]


def line_mutants(line, code, in_cond):
    """(rule, mutated line) for one source line, in a fixed order."""
    if code.lstrip().startswith("#"):
        return
    # NULL checks are argument and allocation contracts, not decisions
    # about untrusted data; a mutant of one is not what this tool measures.
    if in_cond and "NULL" not in code:
        yield from _subs(line, code, REL, REL_FLIP, "rel-flip")
        yield from _subs(line, code, LOGIC, LOGIC_FLIP, "logic-swap")
        m = IF_ONE.match(code)
        if m and "else" not in (m.group(2) or ""):
            yield "check-deleted", line[: m.start(3)] + "0" + line[m.end(3):]
        m = ENSURE_ONE.match(code)
        if m:
            yield "check-deleted", line[: m.start(2)] + "1" + line[m.end(2):]
    m = GUARD_STMT.match(code)
    if m:
        yield "guard-deleted", line[: m.start(2)] + "(void)" + line[m.end(2):]
    for frm, to in (("SEM_UNDO | ", ""), (" | SEM_UNDO", "")):
        if frm in code:
            yield "sem-undo-dropped", line.replace(frm, to, 1)
    m = RETURN_ERR.search(code)
    if m and m.group(2) in ERR_SWAP:
        yield "error-swapped", line[: m.start(2)] + ERR_SWAP[m.group(2)] + line[m.end(2):]


def file_mutants(path, text):
    """Every mutant of one file, as dicts ready for the JSON-lines list."""
    out = []
    seen = {}
    in_comment = False
    depth = 0  # open parentheses of a condition carried over from above
    for lineno, line in enumerate(text.split("\n"), 1):
        code, in_comment_after = code_part(line, in_comment)
        in_comment = in_comment_after
        starts = bool(COND_START.search(code))
        in_cond = starts or depth > 0
        for rule, mutated in line_mutants(line, code, in_cond):
            if mutated == line:
                continue
            key = (line.strip(), mutated.strip())
            seen[key] = seen.get(key, 0) + 1
            h = hashlib.sha1(
                "\0".join([path, key[0], key[1], str(seen[key])]).encode()).hexdigest()[:8]
            stem = path.split("/")[-1].rsplit(".", 1)[0]
            out.append({"id": f"{stem}-{h}", "file": path, "line": lineno, "rule": rule,
                        "orig": line, "mut": mutated})
        if in_cond:
            depth = max(0, depth + code.count("(") - code.count(")")) if (starts or depth) else 0
            if code.rstrip().endswith("{") or code.rstrip().endswith(";"):
                depth = 0
    return out
