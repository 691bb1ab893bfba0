"""Writers and pumps: real threads, real child processes, read back through the store."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time

import pytest

from modelyard.logstore import MAX_MESSAGE_BYTES, LogStore, pump, split_message


def messages(store: LogStore, group: str = "g", stream: str = "s") -> list[str]:
    out: list[str] = []
    token = None
    while True:
        page = store.read(group, stream, start_from_head=True, token=token)
        out += [e.message for e in page.events]
        if page.forward_token == token:
            return out
        token = page.forward_token


def run_pumped(store: LogStore, code: str, stdin: bytes | None = None) -> int:
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL)
    with store.writer("g", "s") as out:
        threads = [pump(proc.stdout, out), pump(proc.stderr, out)]  # type: ignore[arg-type]
        if stdin is not None:
            proc.communicate(stdin)
        proc.wait(30)
        for t in threads:
            t.join(10)
            assert not t.is_alive()
    return proc.returncode


def test_child_stdout_and_stderr_become_events(tmp_path) -> None:  # type: ignore[no-untyped-def]
    store = LogStore(tmp_path)
    code = ("import sys\n"
            "for i in range(200): print(f'out {i}', flush=True)\n"
            "print('boom', file=sys.stderr)\n"
            "sys.stdout.write('crlf\\r\\n\\nno newline at end')\n")
    assert run_pumped(store, code) == 0
    got = messages(store)
    assert [m for m in got if m.startswith("out ")] == [f"out {i}" for i in range(200)]
    assert {"boom", "crlf", "no newline at end"} <= set(got)
    assert got.index("crlf") < got.index("no newline at end")
    assert "" not in got and not any(m.endswith(("\n", "\r")) for m in got)
    stamps = [e.timestamp for e in store.read("g", "s", start_from_head=True).events]
    assert stamps == sorted(stamps) and stamps[0] > 1_600_000_000_000


def test_invalid_utf8_is_replaced_and_long_lines_are_split(tmp_path) -> None:  # type: ignore[no-untyped-def]
    store = LogStore(tmp_path)
    code = ("import sys\n"
            "sys.stdout.buffer.write(b'bad \\xff\\xfe bytes\\n')\n"
            "sys.stdout.buffer.write(('\\u00e9' * 300_000 + '\\n').encode())\n")
    assert run_pumped(store, code) == 0
    got = messages(store)
    assert got[0] == "bad \ufffd\ufffd bytes"
    long_parts = got[1:]
    assert len(long_parts) == 3 and "".join(long_parts) == "\u00e9" * 300_000
    assert all(len(p.encode()) <= MAX_MESSAGE_BYTES for p in long_parts)


def test_output_is_readable_while_the_child_runs(tmp_path) -> None:  # type: ignore[no-untyped-def]
    store = LogStore(tmp_path)
    proc = subprocess.Popen([sys.executable, "-c", "print('started', flush=True); input()"],
                            stdout=subprocess.PIPE, stdin=subprocess.PIPE)
    try:
        with store.writer("g", "s") as out:
            thread = pump(proc.stdout, out)  # type: ignore[arg-type]
            deadline = time.monotonic() + 20
            while messages(store) != ["started"]:
                assert time.monotonic() < deadline, "the running child's line never became readable"
                time.sleep(0.02)
            assert proc.poll() is None
            assert proc.stdin is not None
            proc.stdin.write(b"\n")
            proc.stdin.close()
            proc.wait(20)
            thread.join(10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_pump_accepts_a_file_descriptor_and_closes_it(tmp_path) -> None:  # type: ignore[no-untyped-def]
    store = LogStore(tmp_path)
    read_fd, write_fd = os.pipe()
    with store.writer("g", "s") as out:
        thread = pump(read_fd, out)
        os.write(write_fd, b"one\ntwo\n")
        os.close(write_fd)
        thread.join(10)
    assert messages(store) == ["one", "two"]
    with pytest.raises(OSError):
        os.fstat(read_fd)


def test_pump_keeps_draining_after_the_writer_is_closed(tmp_path) -> None:  # type: ignore[no-untyped-def]
    store = LogStore(tmp_path)
    out = store.writer("g", "s")
    out.close()
    proc = subprocess.Popen([sys.executable, "-c", "import sys\nfor _ in range(2000): print('x' * 1000)"],
                            stdout=subprocess.PIPE)
    thread = pump(proc.stdout, out)  # type: ignore[arg-type]
    assert proc.wait(30) == 0, "the child blocked on a full pipe"
    thread.join(10)
    assert messages(store) == []


def test_concurrent_writers_never_interleave_lines(tmp_path) -> None:  # type: ignore[no-untyped-def]
    store = LogStore(tmp_path)
    out = store.writer("g", "s")
    payload = "y" * 5000

    def produce(n: int) -> None:
        for i in range(300):
            out.write_line(f"{n}:{i}:{payload}")

    threads = [threading.Thread(target=produce, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    out.close()
    got = messages(store)
    assert len(got) == 1800 and all(m.endswith(payload) for m in got)
    for n in range(6):
        assert [int(m.split(":")[1]) for m in got if m.startswith(f"{n}:")] == list(range(300))
    with pytest.raises(ValueError):
        out.write_line("after close")


def test_going_back_in_time_marks_the_stream_unordered(tmp_path) -> None:  # type: ignore[no-untyped-def]
    store = LogStore(tmp_path)
    with store.writer("g", "s") as out:
        out.write_events([(100, "a"), (300, "c")])
    assert store._ordered("g", "s")
    with store.writer("g", "s") as out:
        out.write_events([(200, "b")])
    assert not store._ordered("g", "s")
    page = store.read("g", "s", start_time=150, end_time=250, start_from_head=True)
    assert [e.message for e in page.events] == ["b"]


def test_split_message_respects_characters() -> None:
    assert list(split_message("abc", 10)) == ["abc"]
    assert list(split_message("\u00e9\u00e9\u00e9", 3)) == ["\u00e9", "\u00e9", "\u00e9"]
    assert "".join(split_message("x\u20acy" * 100, 7)) == "x\u20acy" * 100
