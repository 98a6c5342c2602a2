"""P3 and P4: a signed update's download + verify, against the tools people would otherwise use.

P3: the same release archive from the same reference server, median of N runs each:
  - ours: ``updates.download.download_target`` through the gateway (streamed, hashed while streaming,
    checked against the signed length and SHA-256, fsynced, renamed);
  - baseline: ``curl -o`` then ``openssl dgst -sha256`` (goal: ours ≤ 1.0x);
  - python-tuf's own ``Updater.download_target`` with its default fetcher (goal: ours ≥ 1.5x faster).
  Peak RSS of a fresh process doing only our download, for 64 MiB and --size-mib (goal ≤ 120 MiB, flat).
P4: a child downloading SIGKILLs itself at its first progress report past 50 %, noting what it had received;
  the next call resumes. Received twice = received by the child - kept on disk (goal <= 1 MiB). Both talk
  to the server through a byte-counting TCP relay, which also shows what crossed the wire twice (more:
  it includes what sat in the kernel's socket buffers when the child died).

    .venv/bin/python bench/update_download.py --size-mib 512 --runs 5
"""

from __future__ import annotations

import argparse
import contextlib
import json
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _report import Report, add_arguments  # noqa: E402

from crystal_manager.cli.demo_server import free_port, server_batch, start_server  # noqa: E402
from crystal_manager.net.gateway import Gateway  # noqa: E402
from crystal_manager.privacy.ledger import Ledger  # noqa: E402
from crystal_manager.updates.download import SignedFile, download_target  # noqa: E402

MIB = 1024 * 1024

CHILD = """
import json, os, resource, signal, sys
from pathlib import Path
from crystal_manager.net.gateway import Gateway
from crystal_manager.privacy.ledger import Ledger
from crystal_manager.updates.download import SignedFile, download_target
url, folder, signed = sys.argv[1], Path(sys.argv[2]), SignedFile(**json.loads(sys.argv[3]))
kill_at = float(sys.argv[4])
def progress(p):
    # Killed by itself at the first progress report past kill_at, noting exactly how much it had received.
    if kill_at and p.received >= kill_at * p.total:
        (folder / "killed-at").write_text(str(p.received))
        os.kill(os.getpid(), signal.SIGKILL)
with Gateway(base_url=url, ledger=Ledger(folder / "ledger.jsonl")) as gateway:
    print("START", flush=True)
    download_target(gateway, signed, folder, version="9.0.0", progress=progress)
print("PEAK_KIB", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, flush=True)
"""


class CountingRelay:
    """A TCP relay on loopback that counts the bytes the server sends through it."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.from_server = 0
        self._lock = threading.Lock()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _pipe(self, src: socket.socket, dst: socket.socket, count: bool) -> None:
        try:
            while data := src.recv(1 << 20):
                if count:
                    with self._lock:
                        self.from_server += len(data)
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (src, dst):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)

    def _accept(self) -> None:
        while True:
            client, _ = self.listener.accept()
            server = socket.create_connection(("127.0.0.1", self.target_port))
            threading.Thread(target=self._pipe, args=(client, server, False), daemon=True).start()
            threading.Thread(target=self._pipe, args=(server, client, True), daemon=True).start()


def set_up(server_dir: Path, url: str, sizes: dict[str, int]) -> tuple[dict[str, SignedFile], str]:
    """A server folder with one release per version of ``sizes`` (bytes of payload), all in one
    ``crystal-server batch``: one interpreter for the whole set-up. ``--patches 0``: the bench downloads
    whole archives, and patches between releases of random payloads would only cost time."""
    commands = [["init", str(server_dir), "--url", url]]
    for version, size in sizes.items():
        archive = str(server_dir.parent / f"release-{version}.tar")
        commands += [["release", "demo-archive", archive, "--version", version, "--payload-bytes", str(size)],
                     ["release", "publish", str(server_dir), archive, "--product", "crystalme3d-pro",
                      "--version", version, "--patches", "0"]]
    commands.append(["release", "list", str(server_dir), "--json"])
    listing = json.loads(server_batch(commands)[-1].stdout)
    for version in sizes:
        (server_dir.parent / f"release-{version}.tar").unlink()
    signed = {r["version"]: SignedFile(name=r["target"], url_name=f"{r['sha256']}.{r['target']}",
                                       length=r["length"], sha256=r["sha256"]) for r in listing}
    return signed, json.dumps(json.loads((server_dir / "profile.json").read_text())["tuf_root"])


def ours(url: str, signed: SignedFile, folder: Path) -> float:
    start = time.perf_counter()
    with Gateway(base_url=url, ledger=Ledger(folder / "ledger.jsonl")) as gateway:
        path = download_target(gateway, signed, folder, version="9.0.0")
    took = time.perf_counter() - start
    path.unlink()
    return took


def curl_openssl(url: str, signed: SignedFile, out: Path) -> float:
    start = time.perf_counter()
    subprocess.run(["curl", "-sS", "-o", str(out), f"{url}/v1/updates/targets/{signed.url_name}"], check=True)
    digest = subprocess.run(["openssl", "dgst", "-sha256", "-r", str(out)], check=True, capture_output=True,
                            text=True).stdout.split()[0]
    took = time.perf_counter() - start
    assert digest == signed.sha256
    out.unlink()
    return took


def python_tuf(url: str, signed: SignedFile, root: str, folder: Path) -> float:
    from tuf.ngclient import Updater

    folder.mkdir(exist_ok=True)
    (folder / "md").mkdir(exist_ok=True)
    updater = Updater(str(folder / "md"), f"{url}/v1/updates/metadata/", str(folder), f"{url}/v1/updates/targets/",
                      bootstrap=root.encode())
    updater.refresh()
    info = updater.get_targetinfo(signed.name)
    assert info is not None
    start = time.perf_counter()
    path = updater.download_target(info)
    took = time.perf_counter() - start
    Path(path).unlink()
    return took


def child_download(url: str, signed: SignedFile, folder: Path, *, kill_at: float | None = None) -> dict[str, int]:
    """Run our download in a fresh process; optionally SIGKILL it once the partial file passes ``kill_at``."""
    folder.mkdir(exist_ok=True)
    spec = json.dumps({"name": signed.name, "url_name": signed.url_name, "length": signed.length,
                       "sha256": signed.sha256})
    proc = subprocess.Popen([sys.executable, "-c", CHILD, url, str(folder), spec, str(kill_at or 0)],
                            stdout=subprocess.PIPE, text=True, cwd=ROOT)
    assert proc.stdout is not None
    facts: dict[str, int] = {}
    if kill_at is not None:
        proc.wait()
        assert proc.returncode == -signal.SIGKILL, proc.returncode
        facts["received"] = int((folder / "killed-at").read_text())
        facts["kept"] = (folder / f"{signed.sha256}.{signed.name}.partial").stat().st_size
        return facts
    for line in proc.stdout:
        if line.startswith("PEAK_KIB"):
            facts["peak_kib"] = int(line.split()[1])
    proc.wait()
    return facts


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size-mib", type=int, default=512)
    parser.add_argument("--runs", type=int, default=5)
    add_arguments(parser)
    args = parser.parse_args()
    small_mib = 64
    if args.smoke:
        args.size_mib, args.runs, small_mib = 8, 1, 4
    size = args.size_mib * MIB
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        port = free_port()
        server_dir = tmp / "server"
        # One server offers both sizes: the peak RSS is the downloading process's, whichever file it fetches.
        releases, root = set_up(server_dir, f"http://127.0.0.1:{port}", {"9.0.0": size, "9.0.1": small_mib * MIB})
        signed, small_signed = releases["9.0.0"], releases["9.0.1"]
        server = start_server(server_dir, port=port)
        try:
            times: dict[str, list[float]] = {"curl + openssl": [], "ours": [], "python-tuf": []}
            methods: list[tuple[str, Callable[[], float]]] = [
                ("curl + openssl", lambda: curl_openssl(server.url, signed, tmp / "curl.bin")),
                ("ours", lambda: ours(server.url, signed, tmp / "ours")),
                ("python-tuf", lambda: python_tuf(server.url, signed, root, tmp / "tuf"))]
            for run in range(args.runs):
                # Interleaved, and in a rotating order: each method writes 512 MiB, and the one that runs
                # right after another's writes meets the kernel's write-back of them.
                for name, method in methods[run % 3:] + methods[:run % 3]:
                    times[name].append(method())
            peaks = {args.size_mib: child_download(server.url, signed, tmp / "rss-big")["peak_kib"] / 1024,
                     small_mib: child_download(server.url, small_signed, tmp / "rss-small")["peak_kib"] / 1024}
            relay = CountingRelay(port)
            relay_url = f"http://127.0.0.1:{relay.port}"
            killed = child_download(relay_url, signed, tmp / "resume", kill_at=0.5)
            time.sleep(0.2)  # let the relay drain what the server had already sent
            by_child = relay.from_server
            with Gateway(base_url=relay_url, ledger=Ledger(tmp / "resume" / "ledger.jsonl")) as gateway:
                download_target(gateway, signed, tmp / "resume", version="9.0.0")
            resumed = relay.from_server - by_child
        finally:
            server.stop()
    med = {name: statistics.median(values) for name, values in times.items()}
    mib = signed.length / MIB
    print(f"P3: {mib:.0f} MiB signed release archive over loopback, median of {args.runs} interleaved runs")
    for name, seconds in med.items():
        print(f"  {name:15s} {seconds:.3f} s ({mib / seconds:.0f} MiB/s)")
    print(f"  ours / curl+openssl: {med['ours'] / med['curl + openssl']:.2f}x (goal <= 1.0x)")
    print(f"  python-tuf / ours:   {med['python-tuf'] / med['ours']:.2f}x faster (goal >= 1.5x)")
    print(f"  peak RSS of a download process: {small_mib} MiB -> {peaks[small_mib]:.1f} MiB, {args.size_mib} MiB -> "
          f"{peaks[args.size_mib]:.1f} MiB (goal <= 120 MiB, within 10 MiB of each other)")
    lost = killed["received"] - killed["kept"]
    wire = by_child + resumed - signed.length
    print(f"P4: killed at {killed['received'] / signed.length:.0%}: it had received {killed['received'] / MIB:.2f} MiB"
          f" and kept {killed['kept'] / MIB:.2f} MiB; received twice {lost / MIB:.2f} MiB (goal <= 1 MiB). "
          f"On the wire (relay): {by_child / MIB:.2f} + {resumed / MIB:.2f} MiB sent, {wire / MIB:.2f} MiB twice "
          "(includes what sat in socket buffers at the kill)")
    out = Report("P3, P4", f"Signed update download + verify ({mib:.0f} MiB, loopback), resume after a kill",
                 smoke=args.smoke)
    base, ours_s, tuf_s = med["curl + openssl"], med["ours"], med["python-tuf"]
    out.add("P3 ours vs curl + openssl", ours_s, "s", baseline=base, ratio=ours_s / base, goal="<= 1.0x",
            met=ours_s <= base)
    out.add("P3 python-tuf vs ours (times faster)", tuf_s, "s", baseline=ours_s, ratio=tuf_s / ours_s,
            goal=">= 1.5x faster", met=tuf_s / ours_s >= 1.5)
    spread = abs(peaks[args.size_mib] - peaks[small_mib])
    out.add(f"P3 peak RSS at {args.size_mib} MiB", peaks[args.size_mib], "MiB", baseline=peaks[small_mib],
            goal=f"<= 120 MiB, within 10 MiB of {small_mib} MiB", met=peaks[args.size_mib] <= 120 and spread <= 10)
    out.add("P4 received twice after a kill", lost / MIB, "MiB", goal="<= 1 MiB", met=lost <= MIB)
    out.notes.append(f"median of {args.runs} interleaved runs, the order rotated each run")
    out.write(args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
