"""Property tests: the catalog check lets through exactly what is declared, whatever the names."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from crystal_manager.net.errors import RequestRefused, UndeclaredFieldError, ValueShapeError
from crystal_manager.net.request import OutboundRequest, resolve
from crystal_manager.privacy.catalog import default_catalog

CATALOG = default_catalog()
KINDS = [t.kind for t in CATALOG.types]
names = st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=0x2FF), min_size=1, max_size=20)


def _declared(kind: str, location: str) -> set[str]:
    request_type = CATALOG.get(kind)
    assert request_type is not None
    return {f.name.lower() for f in request_type.fields if f.location == location}


@given(kind=st.sampled_from(KINDS), name=names, location=st.sampled_from(["body", "query", "path"]))
def test_undeclared_names_are_always_refused(kind: str, name: str, location: str) -> None:
    if name.lower() in _declared(kind, location):
        return
    request = OutboundRequest(kind=kind, **{ {"body": "body", "query": "query", "path": "path_params"}[location]:
                                             {name: "x"} })  # type: ignore[arg-type]
    try:
        resolve(CATALOG, request)
    except UndeclaredFieldError:
        return
    raise AssertionError(f"{location} field {name!r} of {kind} was let through")


@given(kind=st.sampled_from(KINDS), header=names)
def test_undeclared_headers_are_always_refused(kind: str, header: str) -> None:
    request_type = CATALOG.get(kind)
    assert request_type is not None
    if CATALOG.header_spec(request_type, header) is not None:
        return
    try:
        resolve(CATALOG, OutboundRequest(kind=kind, headers={header: "v"}))
    except UndeclaredFieldError:
        return
    raise AssertionError(f"header {header!r} of {kind} was let through")


@given(kind=st.text(max_size=30))
def test_unknown_kinds_are_refused(kind: str) -> None:
    if kind in KINDS:
        return
    try:
        resolve(CATALOG, OutboundRequest(kind=kind))
    except RequestRefused:
        return
    raise AssertionError("unknown kind let through")


@given(value=st.text(min_size=1, max_size=50))
def test_path_values_never_add_segments(value: str) -> None:
    try:
        _, path = resolve(CATALOG, OutboundRequest(kind="update_target", path_params={"name": value}))
    except ValueShapeError:
        return  # not a plain file name: refused before anything is sent
    assert path.count("/") == "/v1/updates/targets/{name}".count("/")
