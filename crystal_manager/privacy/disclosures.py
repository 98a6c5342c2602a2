"""What leaves besides the app's own requests (links opened in the browser, the IP address and timing the
server sees, the DNS lookup), and what the vendor's server keeps and for how long — declared beside the
requests in the data catalog (re-exported by :mod:`crystal_manager.privacy.catalog`)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Disclosure:
    """Something that leaves this computer, or is seen by others, without being a request of the Manager's
    own: shown beside the requests so that nothing that leaves is left unsaid. ``code`` names the modules
    that cause it (tests/test_import_borders.py holds every link opener to this list)."""

    name: str
    title: str
    what: str
    who_sees: str
    policy: str
    code: tuple[str, ...] = ()


#: Everything else that leaves (or is seen) besides the requests above.
DISCLOSURES: tuple[Disclosure, ...] = (
    Disclosure(
        "browser_links", "Links you open in your browser",
        "The “Open your account page” link (when a subscription has ended) and the links in release notes "
        "are opened by you in your web browser; the Manager sends nothing. Your browser visits the page "
        "like any other, and that website sees what any visit shows (your IP address, your browser).",
        "The website the link points to (for the account page: CrystalMe3D Pro).", "§2D",
        code=("crystal_manager/gui/notes_view.py", "crystal_manager/gui/pages/updates_page.py",
              "crystal_manager/gui/pages/license_page.py", "crystal_manager/gui/dialogs/activation.py")),
    Disclosure(
        "local_folder", "Opening the log folder",
        "“Open the log folder” in About shows a folder on this computer in your file manager; nothing "
        "leaves the computer.", "No one.", "§5", code=("crystal_manager/gui/pages/about_page.py",)),
    Disclosure(
        "ip_and_timing", "Your IP address and the time of each request",
        "Like any server on the internet, the CrystalMe3D Pro server sees the IP address a request comes "
        "from and when it arrives. The reference server keeps the address only with a failed attempt (an "
        "unknown or malformed key), to slow down key guessing; such records older than one minute are "
        "deleted when the next failed attempt arrives. It keeps no access log.",
        "The CrystalMe3D Pro server (and the networks in between).", "§2D"),
    Disclosure(
        "dns_and_server_name", "The server's name, seen by your network",
        "Before connecting, the computer asks its DNS resolver (usually your network provider's) for the "
        "server's address, and the encrypted connection names the server in the clear. Your network can "
        "therefore see that this computer contacts licensing.crystalme3dpro.com, and when — not what is "
        "sent.", "Your DNS resolver and network provider.", "§8"),
)


@dataclass(frozen=True)
class Kept:
    """Something the vendor's server keeps, for how long, and why (the reference server does exactly this:
    tests/server/test_privacy_server.py)."""

    what: str
    how_long: str
    why: str


#: Everything the server keeps about a license and its machines.
SERVER_KEEPS: tuple[Kept, ...] = (
    Kept("The license: a one-way digest of its key (never the key), the key's last four characters, plan, "
         "seats, status and dates", "as long as the license exists", "to check the license"),
    Kept("Each activated machine: its one-way code, the method's version, environment, OS family, name and "
         "public key, when it was activated and last seen", "while it is activated; deleted at deactivation",
         "to recognise the machine and count seats"),
    Kept("Each deactivated machine: only its id and when it was activated, last seen and deactivated",
         "as long as the license exists", "the license's seat history"),
    Kept("Events: activations, checks and deactivations with their time", "90 days",
         "support and abuse investigation"),
    Kept("A machine whose data you asked to delete: nothing (its entry and its events are deleted; with “all "
         "machines”, every machine's entry and every event of the license)", "deleted as soon as you ask",
         "your right to deletion"),
    Kept("Recent activations (online or offline), access and deletion requests, each by a one-way digest of "
         "the key it carried",
         "deleted once older than one minute (at the next such request)",
         "to slow down key guessing"),
    Kept("Failed attempts (unknown or malformed key) with the IP address they came from",
         "deleted at the next failed attempt once older than one minute",
         "to slow down key guessing"),
)
