#!/usr/bin/env bash
# The zk-testserver binary driven from other languages through its control
# endpoint (--control): a pytest suite with kazoo and a plain-java program with
# ZooKeeper's own client each kill the leader, wait for the next one, restart
# the member and check that the session and the data survived.
#
# Needs python3 with kazoo and pytest, and a JDK (java runs the single source
# file; ZooKeeper's client jar comes from /usr/share/java, Debian's package).
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$SCRIPT_DIR/.." && pwd)
cd "$REPO_ROOT"
JAR_DIR=${ZK_REF_JAR_DIR:-/usr/share/java}

cargo build -q -p zk-testserver --bin zk-testserver
BIN="$REPO_ROOT/target/debug/zk-testserver"

echo "testserver-control: python (kazoo $(python3 -c 'import kazoo.version as v; print(v.__version__)' 2>/dev/null || echo '?'))"
ZK_TESTSERVER_BIN=$BIN python3 -m pytest -q -p no:cacheprovider examples/python

echo "testserver-control: java ($(java -version 2>&1 | head -n 1))"
java -cp "$JAR_DIR/zookeeper.jar:$JAR_DIR/slf4j-nop.jar" examples/java/TestServerFailover.java "$BIN"
