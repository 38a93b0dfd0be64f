"""Runs against the installed package (tools/setup_python.sh), never the source tree: the test
command starts pytest from outside python/, so `import braid` is what users get."""
import pytest
import torch


@pytest.fixture(autouse=True)
def _fresh_dynamo():
    torch._dynamo.reset()  # each test compiles its own graphs; no cache or recompile limit shared
    yield
