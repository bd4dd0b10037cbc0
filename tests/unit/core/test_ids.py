"""Signal ids: the strings ``uuid.uuid4().hex`` gives, never the same twice, not shared with a forked child."""
import os
import uuid

from btk_core.ids import new_id


def test_ids_are_version_4_uuid_hex_strings_and_unique():
    ids = [new_id() for _ in range(5000)]  # several refills
    assert len(set(ids)) == len(ids)
    for value in ids:
        parsed = uuid.UUID(hex=value)
        assert parsed.hex == value and parsed.version == 4 and parsed.variant == uuid.RFC_4122


def test_a_forked_child_does_not_hand_out_the_parents_ids():
    new_id()  # the pool now holds ids the child would inherit
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: send its next ids and leave at once
        os.close(read)
        os.write(write, "".join(new_id() for _ in range(10)).encode())
        os._exit(0)
    os.close(write)
    with os.fdopen(read) as pipe:
        child = pipe.read()
    os.waitpid(pid, 0)
    parent = "".join(new_id() for _ in range(10))
    child_ids = {child[i:i + 32] for i in range(0, len(child), 32)}
    assert len(child_ids) == 10 and not child_ids & {parent[i:i + 32] for i in range(0, len(parent), 32)}
