"""Attacks on ``crystal-server batch`` (crystal_server/batch_cli.py): input it must refuse in one line, and a
batch stopped half-way must leave what separate commands would have left (their output included)."""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

BATCH = [sys.executable, "-m", "crystal_server", "batch"]


def _refused(given: bytes, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(BATCH, input=given.decode("latin-1"), capture_output=True, text=True, timeout=60,
                          check=False, env=env, encoding="latin-1")
    return proc


def _is_one_line_refusal(proc: subprocess.CompletedProcess[str]) -> bool:
    return (proc.returncode == 2 and proc.stdout == "" and proc.stderr.startswith("crystal-server: batch:")
            and proc.stderr.count("\n") == 1)


def test_deeply_nested_input_is_refused_in_one_line() -> None:
    """``[[[[…]]]]`` makes json.loads raise RecursionError (not a ValueError): no traceback, exit 2."""
    proc = _refused(b"[" * 100_000 + b"]" * 100_000)
    assert _is_one_line_refusal(proc), (proc.returncode, proc.stderr[-300:])


def test_input_that_is_not_utf8_is_refused_in_one_line() -> None:
    """Under a strict UTF-8 standard input (a desktop's UTF-8 locale), bytes that are not UTF-8 are bad input."""
    env = {**os.environ, "PYTHONIOENCODING": "utf-8:strict"}
    proc = _refused(b'\xff[["init", "x"]]', env)
    assert _is_one_line_refusal(proc), (proc.returncode, proc.stderr[-300:])


def test_an_argument_with_a_nul_character_is_refused_before_anything_runs(tmp_path: Path) -> None:
    """No command line can hold a NUL (argv is C strings); in a batch it reached the verbs: a traceback
    from ``init``, or a NUL stored in the database by ``license create --plan``."""
    server = str(tmp_path / "server")
    commands = [["init", server], ["license", "create", server, "--plan", "pro\0x", "--seats", "1", "--expires",
                                   "never"]]
    proc = _refused(json.dumps(commands).encode())
    assert _is_one_line_refusal(proc), (proc.returncode, proc.stderr[-300:])
    assert list(tmp_path.iterdir()) == []  # nothing ran, not even the first command


def _open_writer(fifo: Path, batch: subprocess.Popen[str]) -> int:
    """Open ``fifo`` for writing once the batch has opened it for reading (its command is then running)."""
    deadline = time.monotonic() + 60
    while True:
        try:
            return os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
        except OSError as exc:  # ENXIO: no reader yet
            assert exc.errno == errno.ENXIO
            assert batch.poll() is None, batch.communicate()
            assert time.monotonic() < deadline, "the batch never reached its third command"
            time.sleep(0.01)


def test_an_interrupted_batch_still_gives_the_output_of_the_commands_it_ran(tmp_path: Path) -> None:
    """Ctrl-C during the third command: the license the second made exists, so its key (printed once, by
    ``license create``) must be given, as separate commands would have printed it; the batch ends with the
    code a shell gives a command stopped by Ctrl-C (130)."""
    server = str(tmp_path / "server")
    fifo = tmp_path / "request.json"
    os.mkfifo(fifo)
    commands = [["init", server],
                ["license", "create", server, "--plan", "pro", "--seats", "1", "--expires", "2099-12-31"],
                ["license", "answer", server, str(fifo), str(tmp_path / "response.json")]]  # waits on the fifo
    (tmp_path / "commands.json").write_text(json.dumps(commands), encoding="utf-8")
    with (tmp_path / "commands.json").open("rb") as given, \
            subprocess.Popen(BATCH, stdin=given, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as batch:
        writer = _open_writer(fifo, batch)
        try:
            batch.send_signal(signal.SIGINT)
            out, err = batch.communicate(timeout=60)
        finally:
            os.close(writer)
    assert batch.returncode == 130, err
    results = json.loads(out)
    assert [r["code"] for r in results] == [0, 0, 130]
    assert "key: CM3D-" in results[1]["stdout"]
    assert "interrupted" in results[2]["stderr"]
