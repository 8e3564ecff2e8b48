"""The seed tree (hwsim.seeds): one declaration of the spawn keys, each key one consumer,
and the table in docs/reliability.md describing exactly the declared keys."""

import re
from pathlib import Path

import numpy as np

from hwsim.seeds import Stream, stream_key, stream_keys, stream_rng

DOC = Path(__file__).resolve().parents[1] / "docs" / "reliability.md"


def test_every_stream_has_its_own_key():
    values = [m.value for m in Stream.__members__.values()]
    assert len(values) == len(set(values)), "an alias: two consumers would draw the same numbers"


def test_streams_are_independent_children_of_the_seed():
    draws = {s: stream_rng(3, s).random() for s in Stream}
    assert len(set(draws.values())) == len(Stream)
    assert stream_rng(3, Stream.INIT).random() == draws[Stream.INIT]
    assert stream_key(3, Stream.ORDER) != stream_key(4, Stream.ORDER)
    assert stream_keys(3, Stream.DEVICE_KERNEL, 4).dtype == np.uint64


def test_the_documented_table_lists_the_declared_keys():
    table = DOC.read_text().split("| key `k` | what it draws |")[1].split("\n\n")[0]
    keys = set()
    for row in re.findall(r"^\| (\d+(?:-\d+)?) \|", table, flags=re.M):
        lo, _, hi = row.partition("-")
        keys.update(range(int(lo), int(hi or lo) + 1))
    assert keys == {m.value for m in Stream}
