"""A failover driven through zk-testserver's control endpoint, from Python.

The zk-testserver binary replaces curator-test's TestingCluster or a
testcontainers ZooKeeper in a Python suite: start it with `--control`, read
the connect string and the control URL from its first two stdout lines, point
kazoo at the ensemble, and kill, restart or partition members with plain HTTP
calls.

    cargo build -p zk-testserver --bin zk-testserver
    ZK_TESTSERVER_BIN=target/debug/zk-testserver python3 -m pytest examples/python

Needs kazoo and pytest (`pip install kazoo pytest`).
"""

import json
import os
import subprocess
import urllib.request

import pytest
from kazoo.client import KazooClient

BIN = os.environ.get("ZK_TESTSERVER_BIN", "target/debug/zk-testserver")


class ZkTestServer:
    """The zk-testserver binary as a fixture: an ensemble with a control URL."""

    def __init__(self, members=3):
        self.proc = subprocess.Popen(
            [BIN, "--members", str(members), "--tick-ms", "100",
             "--control", "127.0.0.1:0"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        self.connect = self.proc.stdout.readline().strip()
        control = self.proc.stdout.readline().strip()
        assert control.startswith("control "), control
        self.control = control.split(" ", 1)[1]

    def call(self, method, path, body=None):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.control + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=30) as resp:
            return json.loads(resp.read())

    def status(self):
        return self.call("GET", "/status")

    def kill(self, member):
        return self.call("POST", f"/members/{member}/kill")

    def restart(self, member):
        return self.call("POST", f"/members/{member}/restart")

    def wait_for_leader(self):
        return self.call("POST", "/wait/leader")["leader"]

    def wait_until_converged(self):
        return self.call("POST", "/wait/converged")["digest"]

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=30)


@pytest.fixture
def ensemble():
    server = ZkTestServer()
    yield server
    server.stop()


def test_leader_failover_keeps_the_session_and_the_data(ensemble):
    zk = KazooClient(hosts=ensemble.connect, timeout=4.0)
    zk.start(timeout=15)
    try:
        zk.create("/config", b"v1")
        session = zk.client_id[0]
        leader = ensemble.status()["leader"]
        assert leader is not None

        ensemble.kill(leader)
        assert ensemble.wait_for_leader() != leader
        zk.retry(zk.set, "/config", b"v2")

        ensemble.restart(leader)
        ensemble.wait_until_converged()
        # The restarted member serves the latest data, and the session held.
        member = next(m for m in ensemble.status()["members"] if m["id"] == leader)
        assert member["running"] and member["serving"]
        direct = KazooClient(hosts=member["client"], timeout=4.0)
        direct.start(timeout=15)
        try:
            direct.sync("/config")
            assert direct.get("/config")[0] == b"v2"
        finally:
            direct.stop()
        assert zk.client_id[0] == session
    finally:
        zk.stop()


def test_partitioned_member_catches_up_after_heal(ensemble):
    zk = KazooClient(hosts=ensemble.connect, timeout=4.0)
    zk.start(timeout=15)
    try:
        ensemble.call("POST", "/partition", {"groups": [[1, 2], [3]]})
        # The client may sit on the cut-off member: retry until it moved.
        zk.retry(zk.ensure_path, "/while-cut")
        ensemble.call("POST", "/heal")
        digest = ensemble.wait_until_converged()
        assert isinstance(digest, int)
        assert zk.exists("/while-cut") is not None
    finally:
        zk.stop()
