"""net-snmp pass_persist helper for the telleverk integration tests.

Usage (in snmpd.conf):
    pass_persist .1.3.6.1.2.1.43 /usr/bin/python3 live_values.py VALUES_FILE .1.3.6.1.2.1.43

Serves, under the given subtree only, the values of VALUES_FILE, a recording in
snmpsim's format (one `OID|TAG|VALUE` per line). The file is read again on every
request, so a test can change the simulated device between two polls.
Only `get` and `getnext` are implemented; `set` answers `not-writable`.
"""

import sys

# snmprec tag -> pass_persist type name
TYPES = {
    "2": "integer",
    "4": "string",
    "4x": "octet",
    "6": "objectid",
    "64": "ipaddress",
    "65": "counter",
    "66": "gauge",
    "67": "timeticks",
    "70": "counter64",
}


def parse_oid(text):
    """'.1.3.6' or '1.3.6' -> (1, 3, 6); None if it is not a numeric OID."""
    parts = text.strip().strip(".").split(".")
    try:
        return tuple(int(part) for part in parts if part != "")
    except ValueError:
        return None


def format_oid(oid):
    return "." + ".".join(str(part) for part in oid)


def format_value(tag, value):
    """The pass_persist value line for one snmprec value."""
    if tag == "4x":
        # pass_persist's `octet` type wants hex bytes separated by spaces
        digits = value.strip()
        return " ".join(digits[i:i + 2] for i in range(0, len(digits), 2))
    if tag == "6":
        return format_oid(parse_oid(value))
    return value


def load(path, subtree):
    """The sorted list of (oid, type, value) under `subtree` in the values file."""
    entries = []
    try:
        with open(path, encoding="utf-8") as handle:
            lines = handle.read().splitlines()
    except OSError:
        return entries
    for line in lines:
        if not line.strip() or line.startswith("#"):
            continue
        fields = line.split("|", 2)
        if len(fields) != 3:
            continue
        oid = parse_oid(fields[0])
        tag = fields[1].split(":", 1)[0]
        if oid is None or tag not in TYPES or oid[: len(subtree)] != subtree:
            continue
        entries.append((oid, TYPES[tag], format_value(tag, fields[2])))
    entries.sort(key=lambda entry: entry[0])
    return entries


def lookup(command, requested, entries):
    """The entry answering `get` or `getnext` for `requested`, or None."""
    for entry in entries:
        if command == "get" and entry[0] == requested:
            return entry
        if command == "getnext" and entry[0] > requested:
            return entry
    return None


def answer(command, requested, path, subtree):
    entry = None
    if requested is not None:
        entry = lookup(command, requested, load(path, subtree))
    if entry is None:
        return "NONE\n"
    oid, kind, value = entry
    return "%s\n%s\n%s\n" % (format_oid(oid), kind, value)


def main():
    path = sys.argv[1]
    subtree = parse_oid(sys.argv[2]) if len(sys.argv) > 2 else ()
    stdin = sys.stdin
    while True:
        command = stdin.readline()
        if not command:
            return
        command = command.strip().lower()
        if command == "ping":
            reply = "PONG\n"
        elif command in ("get", "getnext"):
            reply = answer(command, parse_oid(stdin.readline()), path, subtree)
        elif command == "set":
            stdin.readline()
            stdin.readline()
            reply = "not-writable\n"
        else:
            continue
        sys.stdout.write(reply)
        sys.stdout.flush()


if __name__ == "__main__":
    main()
