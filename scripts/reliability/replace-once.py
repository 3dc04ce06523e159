"""Replaces the first occurrence of OLD with NEW in FILE (the mutation
scripts' one edit); fails if OLD is not there.

    python3 replace-once.py FILE OLD NEW
"""
import sys

path, old, new = sys.argv[1:4]
text = open(path).read()
if old not in text:
    sys.exit(f"replace-once: pattern not found in {path}")
open(path, "w").write(text.replace(old, new, 1))
