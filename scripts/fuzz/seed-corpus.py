#!/usr/bin/env python3
"""Seeds the cargo-fuzz corpora from frames captured from real ZooKeeper.

Reads zk-client/tests/fixtures/zk-3.8.0/frames.txt and writes one file per
frame: client frames (without the length prefix) for the request decoders,
server frames for the reply decoders, and whole server byte streams per
connection for the stream and session targets.
"""
import hashlib
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FRAMES = os.path.join(ROOT, "zk-client/tests/fixtures/zk-3.8.0/frames.txt")


def write(dirpath, data):
    os.makedirs(dirpath, exist_ok=True)
    name = hashlib.sha1(data).hexdigest()[:16]
    with open(os.path.join(dirpath, name), "wb") as f:
        f.write(data)


def main():
    client_dir = os.path.join(ROOT, "zk-client/fuzz/seeds")
    server_dir = os.path.join(ROOT, "zk-testserver/fuzz/seeds")
    streams = []
    current = bytearray()
    for line in open(FRAMES):
        line = line.strip()
        if line.startswith("# conn") and current:
            streams.append(bytes(current))
            current = bytearray()
        if not line or line.startswith("#"):
            continue
        direction, label, hexdata = line.split()
        frame = bytes.fromhex(hexdata)
        if direction == "C":
            write(os.path.join(client_dir, "decode_request"), frame[4:])
            write(os.path.join(server_dir, "server_requests"), frame)
        else:
            write(os.path.join(client_dir, "decode_reply"), frame[4:])
            if label != "connect":
                current += frame
    if current:
        streams.append(bytes(current))
    for s in streams:
        write(os.path.join(client_dir, "frame_stream"), b"\x07" + s)
        write(os.path.join(client_dir, "session_machine"), s)
    print(f"seeded from {FRAMES}: {len(streams)} server streams", file=sys.stderr)


if __name__ == "__main__":
    main()
