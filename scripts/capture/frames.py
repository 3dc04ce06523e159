#!/usr/bin/env python3
"""Check and summarise a frames.txt fixture (see zk-client/tests/fixtures/zk-3.8.0/README.md).

    frames.py check FILE      every frame's length prefix matches its bytes; labels match
                              the opcodes / xids they were derived from
    frames.py counts FILE     number of frames per (direction, label)
    frames.py table FILE      one line per frame: direction, label, xid, zxid, err, and the
                              fields of connect requests/responses and notifications

python3 stdlib only.
"""

import os
import struct
import sys

sys.dont_write_bytecode = True  # frames.py check imports relay.py from this directory

ERRORS = {
    0: "Ok", -1: "SystemError", -2: "RuntimeInconsistency", -3: "DataInconsistency",
    -4: "ConnectionLoss", -5: "MarshallingError", -6: "Unimplemented", -7: "OperationTimeout",
    -8: "BadArguments", -12: "UnknownSession", -13: "NewConfigNoQuorum", -14: "ReconfigInProgress",
    -100: "APIError", -101: "NoNode", -102: "NoAuth", -103: "BadVersion",
    -108: "NoChildrenForEphemerals", -110: "NodeExists", -111: "NotEmpty", -112: "SessionExpired",
    -113: "InvalidCallback", -114: "InvalidACL", -115: "AuthFailed", -118: "SessionMoved",
    -119: "NotReadOnly", -120: "EphemeralOnLocalSession", -121: "NoWatcher", -122: "RequestTimeout",
    -123: "ReconfigDisabled", -124: "SessionClosedRequireSaslAuth", -125: "QuotaExceeded",
    -127: "ThrottledOp",
}
EVENTS = {-1: "None", 1: "NodeCreated", 2: "NodeDeleted", 3: "NodeDataChanged", 4: "NodeChildrenChanged"}


def frames(path):
    """Yield (line number, direction, label, frame bytes) for every frame line."""
    with open(path, encoding="ascii") as f:
        for n, line in enumerate(f, 1):
            line = line.rstrip("\n")
            if not line or line.startswith("#"):
                continue
            parts = line.split(" ")
            if len(parts) != 3 or parts[0] not in ("C", "S"):
                raise ValueError("line %d: not 'C|S <label> <hex>': %r" % (n, line[:80]))
            yield n, parts[0], parts[1], bytes.fromhex(parts[2])


def i32(b, off):
    return struct.unpack_from(">i", b, off)[0]


def i64(b, off):
    return struct.unpack_from(">q", b, off)[0]


def buffer(b, off):
    n = i32(b, off)
    if n < 0:
        return None, off + 4
    return b[off + 4: off + 4 + n], off + 4 + n


def describe(direction, label, frame):
    body = frame[4:]
    if label == "connect" and direction == "C":
        proto, last_zxid, timeout, session = struct.unpack_from(">iqiq", body, 0)
        passwd, off = buffer(body, 24)
        ro = body[off] if off < len(body) else None
        return ("ConnectRequest protocolVersion=%d lastZxidSeen=0x%x timeOut=%d sessionId=0x%x passwd=%s readOnly=%s"
                % (proto, last_zxid, timeout, session, passwd.hex(), ro))
    if label == "connect":
        proto, timeout, session = struct.unpack_from(">iiq", body, 0)
        passwd, off = buffer(body, 16)
        ro = body[off] if off < len(body) else None
        return ("ConnectResponse protocolVersion=%d timeOut=%d sessionId=0x%x passwd=%s readOnly=%s"
                % (proto, timeout, session, passwd.hex(), ro))
    if direction == "C":
        return "xid=%d type=%d bodylen=%d" % (i32(body, 0), i32(body, 4), len(body) - 8)
    xid, zxid, err = struct.unpack_from(">iqi", body, 0)
    text = "xid=%d zxid=0x%x err=%d(%s)" % (xid, zxid & 0xFFFFFFFFFFFFFFFF, err, ERRORS.get(err, "?"))
    if label == "notification":
        etype, state = struct.unpack_from(">ii", body, 16)
        path, _ = buffer(body, 24)
        text += " event=%s state=%d path=%s" % (EVENTS.get(etype, etype), state, path.decode())
    else:
        text += " bodylen=%d" % (len(body) - 16)
    return text


def check(path):
    from relay import op_name  # same directory

    pending = {}
    conn_first = True
    problems = 0
    count = 0
    with open(path, encoding="ascii") as f:
        lines = f.read().splitlines()
    server_first = True
    for n, line in enumerate(lines, 1):
        if line.startswith("# conn ") and line.endswith(" opened"):
            conn_first, server_first = True, True
            pending = {}
            continue
        if not line or line.startswith("#"):
            continue
        d, label, hx = line.split(" ")
        frame = bytes.fromhex(hx)
        count += 1
        if len(frame) < 4 or i32(frame, 0) != len(frame) - 4:
            print("line %d: length prefix %d but %d bytes follow" % (n, i32(frame, 0), len(frame) - 4))
            problems += 1
            continue
        body = frame[4:]
        if d == "C":
            if conn_first:
                want = "connect"
                conn_first = False
            else:
                want = op_name(i32(body, 4))
                pending.setdefault(i32(body, 0), []).append(want)
        else:
            if server_first:
                want = "connect"
                server_first = False
            elif i32(body, 0) == -1:
                want = "notification"
            else:
                q = pending.get(i32(body, 0))
                want = "reply:" + (q.pop(0) if q else "unknown")
        if label != want:
            print("line %d: label %s, expected %s" % (n, label, want))
            problems += 1
    print("%d frames, %d problems" % (count, problems))
    return 1 if problems else 0


def main():
    if len(sys.argv) != 3 or sys.argv[1] not in ("check", "counts", "table"):
        print(__doc__.strip(), file=sys.stderr)
        return 2
    cmd, path = sys.argv[1], sys.argv[2]
    if cmd == "check":
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        return check(path)
    if cmd == "counts":
        counts = {}
        for _, d, label, _ in frames(path):
            counts[(d, label)] = counts.get((d, label), 0) + 1
        for (d, label), c in sorted(counts.items()):
            print("%s %-28s %d" % (d, label, c))
        print("total %d" % sum(counts.values()))
        return 0
    for n, d, label, frame in frames(path):
        print("%4d %s %-26s %s" % (n, d, label, describe(d, label, frame)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
