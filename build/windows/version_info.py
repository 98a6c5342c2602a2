"""The Windows version resource of crystal-manager.exe (Explorer's Properties → Details), made from the
package version by crystal_manager.spec, which writes it next to PyInstaller's work files; PyInstaller
embeds it when building on Windows. Text in PyInstaller's version-file format (it evaluates it there)."""

from __future__ import annotations


def version_info_text(version: str) -> str:
    """The version file for ``version`` (``MAJOR.MINOR.PATCH``, optionally with a pre-release tail)."""
    core = version.split("-", maxsplit=1)[0].split("+", maxsplit=1)[0]
    numbers = [int(part) for part in core.split(".")[:3]]
    quad = ", ".join(str(n) for n in (*numbers, *[0] * (4 - len(numbers))))
    strings = {
        "CompanyName": "CrystalMe3D",
        "FileDescription": "CrystalMe3D Pro Manager",
        "FileVersion": version,
        "InternalName": "crystal-manager",
        "LegalCopyright": "Copyright CrystalMe3D. All rights reserved.",
        "OriginalFilename": "crystal-manager.exe",
        "ProductName": "CrystalMe3D Pro Manager",
        "ProductVersion": version,
    }
    table = ",\n          ".join(f"StringStruct({k!r}, {v!r})" for k, v in strings.items())
    return f"""VSVersionInfo(
  ffi=FixedFileInfo(filevers=({quad}), prodvers=({quad}), mask=0x3f, flags=0x0, OS=0x40004,
                    fileType=0x1, subtype=0x0, date=(0, 0)),
  kids=[
    StringFileInfo([StringTable('040904B0', [
          {table}])]),
    VarFileInfo([VarStruct('Translation', [1033, 1200])])
  ]
)
"""
