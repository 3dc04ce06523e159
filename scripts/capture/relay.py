#!/usr/bin/env python3
"""Recording TCP relay for the ZooKeeper client protocol (python3 stdlib only).

Sits between a client and a ZooKeeper server, forwards bytes unchanged both
ways, splits each direction into frames on the 4-byte big-endian length prefix
and appends one line per frame, in the order the relay saw them, to the output:

    C <label> <hex>     client -> server
    S <label> <hex>     server -> client
    # ...               comment (connection open/close, step markers)

The hex covers the whole frame including its length prefix. Labels:
  client: `connect` for the first frame of a connection (bare ConnectRequest),
          else the opcode name of RequestHeader.type (`create`, `getData`,
          `multi`, `setWatches2`, `ping`, ...; `op<N>` if unknown)
  server: `connect` for the first frame (bare ConnectResponse), `notification`
          for xid -1, else `reply:<op>` of the pending request with that xid
          (`reply:unknown` if none)

A control port (one line per command, answered with `ok` or `error ...`):
  step <name> [text]   write `# step: <name> [text]` into the output
  note <text>          write `# <text>`
  drop                 close every relayed connection (client and server side)
  pause                hold new client connections (accepted, but not read nor
                       connected to the server) until `resume`
  refuse               close new client connections at once until `resume`
  resume               relay new connections again
  quit                 close everything and exit
"""

import argparse
import socket
import struct
import sys
import threading
import time

OPCODES = {
    0: "notification",
    1: "create",
    2: "delete",
    3: "exists",
    4: "getData",
    5: "setData",
    6: "getACL",
    7: "setACL",
    8: "getChildren",
    9: "sync",
    11: "ping",
    12: "getChildren2",
    13: "check",
    14: "multi",
    15: "create2",
    16: "reconfig",
    17: "checkWatches",
    18: "removeWatches",
    19: "createContainer",
    20: "deleteContainer",
    21: "createTTL",
    22: "multiRead",
    100: "auth",
    101: "setWatches",
    102: "sasl",
    103: "getEphemerals",
    104: "getAllChildrenNumber",
    105: "setWatches2",
    106: "addWatch",
    107: "whoAmI",
    -10: "createSession",
    -11: "closeSession",
    -1: "error",
}


def op_name(code):
    return OPCODES.get(code, "op%d" % code)


class Recorder:
    """Serialises output lines from every connection and the control port."""

    def __init__(self, path):
        self.lock = threading.Lock()
        self.out = open(path, "w", encoding="ascii")
        self.started = time.monotonic()
        self.last_conn = None

    def comment(self, text):
        with self.lock:
            self._write("# %s\n" % text)

    def frame(self, conn_id, direction, label, data):
        with self.lock:
            if conn_id != self.last_conn:
                self._write("# conn %d\n" % conn_id)
                self.last_conn = conn_id
            self._write("%s %s %s\n" % (direction, label, data.hex()))

    def _write(self, line):
        self.out.write(line)
        self.out.flush()

    def close(self):
        with self.lock:
            self.out.close()


class Connection:
    def __init__(self, relay, conn_id, client, server):
        self.relay = relay
        self.id = conn_id
        self.client = client
        self.server = server
        self.lock = threading.Lock()
        # xid -> list of pending op names (special xids such as -2 repeat)
        self.pending = {}
        self.closed = False

    def start(self):
        for src, dst, direction in (
            (self.client, self.server, "C"),
            (self.server, self.client, "S"),
        ):
            t = threading.Thread(target=self.pump, args=(src, dst, direction), daemon=True)
            t.start()

    def label(self, direction, index, frame):
        body = frame[4:]
        if index == 0:
            return "connect"
        if len(body) < 4:
            return "short"
        (xid,) = struct.unpack(">i", body[:4])
        if direction == "C":
            if len(body) < 8:
                return "short"
            (kind,) = struct.unpack(">i", body[4:8])
            name = op_name(kind)
            with self.lock:
                self.pending.setdefault(xid, []).append(name)
            return name
        if xid == -1:
            return "notification"
        with self.lock:
            queue = self.pending.get(xid)
            name = queue.pop(0) if queue else "unknown"
        return "reply:" + name

    def pump(self, src, dst, direction):
        buf = b""
        index = 0
        try:
            while True:
                chunk = src.recv(65536)
                if not chunk:
                    break
                # Record before forwarding so that a request is always written
                # before the reply the server sends to it.
                buf += chunk
                while len(buf) >= 4:
                    (length,) = struct.unpack(">i", buf[:4])
                    if length < 0 or len(buf) < 4 + length:
                        break
                    frame, buf = buf[: 4 + length], buf[4 + length :]
                    self.relay.recorder.frame(self.id, direction, self.label(direction, index, frame), frame)
                    index += 1
                dst.sendall(chunk)
        except OSError:
            pass
        finally:
            if buf:
                self.relay.recorder.comment(
                    "conn %d: %d trailing bytes from %s not a whole frame: %s"
                    % (self.id, len(buf), "client" if direction == "C" else "server", buf.hex())
                )
            self.close("%s closed" % ("client" if direction == "C" else "server"))

    def close(self, why):
        with self.lock:
            if self.closed:
                return
            self.closed = True
        for s in (self.client, self.server):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()
        self.relay.recorder.comment("conn %d closed (%s)" % (self.id, why))
        self.relay.forget(self)


class Relay:
    def __init__(self, args):
        self.args = args
        self.recorder = Recorder(args.output)
        self.conns = []
        self.lock = threading.Lock()
        self.next_id = 1
        self.accepting = threading.Event()
        self.accepting.set()
        self.refusing = False
        self.done = threading.Event()

    def forget(self, conn):
        with self.lock:
            if conn in self.conns:
                self.conns.remove(conn)

    def serve_clients(self, listener):
        while not self.done.is_set():
            try:
                client, peer = listener.accept()
            except OSError:
                return
            if self.refusing:
                self.recorder.comment("connection from %s:%d refused (relay in refuse mode)" % peer)
                client.close()
                continue
            # While paused, an accepted client waits here (its first bytes stay
            # in the socket) and is connected upstream only on `resume`.
            self.accepting.wait()
            if self.done.is_set():
                client.close()
                return
            try:
                server = socket.create_connection((self.args.server_host, self.args.server_port), timeout=10)
                server.settimeout(None)
            except OSError as e:
                self.recorder.comment("connection from %s:%d refused: upstream %s" % (peer[0], peer[1], e))
                client.close()
                continue
            for s in (client, server):
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self.lock:
                conn = Connection(self, self.next_id, client, server)
                self.next_id += 1
                self.conns.append(conn)
            self.recorder.comment("conn %d opened" % conn.id)
            conn.start()

    def serve_control(self, listener):
        while not self.done.is_set():
            try:
                sock, _ = listener.accept()
            except OSError:
                return
            threading.Thread(target=self.control_session, args=(sock,), daemon=True).start()

    def control_session(self, sock):
        with sock, sock.makefile("rw", encoding="utf-8", newline="\n") as f:
            for line in f:
                reply = self.control(line.strip())
                f.write(reply + "\n")
                f.flush()
                if self.done.is_set():
                    return

    def control(self, line):
        cmd, _, rest = line.partition(" ")
        if cmd == "step":
            self.recorder.comment("step: %s" % rest)
        elif cmd == "note":
            self.recorder.comment(rest)
        elif cmd == "drop":
            with self.lock:
                conns = list(self.conns)
            for c in conns:
                c.close("dropped by the relay")
        elif cmd == "pause":
            self.accepting.clear()
        elif cmd == "refuse":
            self.refusing = True
        elif cmd == "resume":
            self.refusing = False
            self.accepting.set()
        elif cmd == "quit":
            self.done.set()
            self.accepting.set()
            with self.lock:
                conns = list(self.conns)
            for c in conns:
                c.close("relay quit")
        else:
            return "error unknown command %r" % cmd
        return "ok"


def listen(host, port):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((host, port))
    s.listen(16)
    return s


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--listen-port", type=int, required=True, help="client port of the relay (127.0.0.1)")
    p.add_argument("--control-port", type=int, required=True, help="control port (127.0.0.1)")
    p.add_argument("--server-host", default="127.0.0.1")
    p.add_argument("--server-port", type=int, required=True)
    p.add_argument("--output", required=True, help="frames file to write")
    p.add_argument("--header", action="append", default=[], help="comment line for the top of the output")
    args = p.parse_args()

    relay = Relay(args)
    for h in args.header:
        relay.recorder.comment(h)
    clients = listen("127.0.0.1", args.listen_port)
    control = listen("127.0.0.1", args.control_port)
    threading.Thread(target=relay.serve_clients, args=(clients,), daemon=True).start()
    threading.Thread(target=relay.serve_control, args=(control,), daemon=True).start()
    print("relay: listening on 127.0.0.1:%d (control %d) -> %s:%d, writing %s"
          % (args.listen_port, args.control_port, args.server_host, args.server_port, args.output), flush=True)
    try:
        relay.done.wait()
    except KeyboardInterrupt:
        pass
    # Let the pumps write the close comments of the connections just dropped.
    time.sleep(0.2)
    clients.close()
    control.close()
    relay.recorder.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
