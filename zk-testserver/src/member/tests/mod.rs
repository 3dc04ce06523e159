//! Unit tests of the member machine, driven deterministically.
