"""README's layer diagram is the rule the imports follow: every `import` in
service/ (type-only ones included) goes to its own layer or to one below it,
never up and never sideways; and the lower layers import no transport library."""

from __future__ import annotations

import ast
import importlib.util
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
SERVICE = ROOT / "service"


def diagram() -> list[list[set[str]]]:
    """Rows top to bottom; each row a list of layers; each layer a set of the
    top-level names under service/ it holds."""
    text = (ROOT / "README.md").read_text()
    block = re.search(r"<!-- layers:.*?-->\n```text\n(.*?)```", text, re.S)
    assert block, "README has no layer diagram"
    rows = []
    for line in block.group(1).splitlines():
        names = re.split(r"\s{2,}", line.strip())[0]
        if not names or names == "↓":
            continue
        rows.append([{n.strip() for n in layer.split(",")} for layer in names.split(" | ")])
    return rows


def layer_of(module: str) -> str:
    """service.app.access -> app; service.settings -> settings; service.__main__ -> cli."""
    part = module.split(".")[1] if "." in module else ""
    return {"__main__": "cli", "__init__": ""}.get(part, part)


def imports(source: str, module: str, is_package: bool = False) -> list[str]:
    """Every module `source` (the text of `module`) imports, relative imports
    resolved; `from X import y` counts as X and as X.y (y may be a module)."""
    package = module if is_package else module.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = importlib.util.resolve_name("." * node.level + (node.module or ""), package) \
                if node.level else node.module or ""
            found += [base, *(f"{base}.{a.name}" for a in node.names)]
    return found


def modules() -> dict[str, Path]:
    return {".".join(p.relative_to(ROOT).with_suffix("").parts): p
            for p in SERVICE.rglob("*.py")}


def test_the_diagram_names_every_part_of_service_once() -> None:
    named = [n for row in diagram() for layer in row for n in layer]
    assert len(named) == len(set(named))
    parts = {layer_of(m) for m in modules()} - {""}
    assert parts == set(named), parts ^ set(named)


def violations(found: dict[str, list[str]], rows: list[list[set[str]]]) -> list[str]:
    """`found`: module -> the modules it imports. Each import that goes up the
    diagram, or sideways to another layer of its row."""
    where = {name: (r, c) for r, row in enumerate(rows)
             for c, layer in enumerate(row) for name in layer}
    wrong = []
    for module, targets in sorted(found.items()):
        src = layer_of(module)
        for target in targets:
            dst = layer_of(target)
            # (A name from the package root, e.g. service.__version__, is no layer.)
            if not src or dst not in where or not target.startswith("service."):
                continue
            (sr, sc), (dr, dc) = where[src], where[dst]
            if not (dr > sr or (dr, dc) == (sr, sc)):
                wrong.append(f"{module}: {src} -> {dst} ({target})")
    return wrong


def test_every_import_goes_down_the_diagram() -> None:
    found = {module: imports(path.read_text(), module, path.name == "__init__.py")
             for module, path in modules().items()}
    wrong = violations(found, diagram())
    assert not wrong, "\n".join(wrong)


def test_an_import_up_or_sideways_is_caught() -> None:
    """The check can fail: store -> app (up) and http -> transport (sideways)
    are reported; app -> store and app -> settings are not."""
    found = {
        "service.store.x": ["service.app.context", "service.domain.ids"],
        "service.http.x": ["service.transport.rpc", "service.app.users"],
        "service.app.x": ["service.store.database", "service.settings"],
    }
    assert violations(found, diagram()) == [
        "service.http.x: http -> transport (service.transport.rpc)",
        "service.store.x: store -> app (service.app.context)",
    ]


def test_relative_imports_are_resolved_and_checked() -> None:
    """`from ..transport import rpc` in service/http is the same sideways import."""
    source = "from ..transport import rpc\nfrom . import shapes\nfrom .call import Call\n"
    found = imports(source, "service.http.handlers")
    assert {"service.transport.rpc", "service.http.shapes", "service.http.call"} <= set(found)
    assert violations({"service.http.handlers": found}, diagram()) == [
        "service.http.handlers: http -> transport (service.transport)",
        "service.http.handlers: http -> transport (service.transport.rpc)",
    ]


def test_domain_and_app_import_no_transport_or_driver() -> None:
    banned = ("grpc", "peewee", "playhouse", "psycopg2", "google.protobuf", "authzd",
              "starlette", "uvicorn", "prometheus_client")
    wrong = [
        f"{path.relative_to(ROOT)}: {target}"
        for module, path in modules().items()
        if layer_of(module) in ("domain", "app")
        for target in imports(path.read_text(), module, path.name == "__init__.py")
        if any(target == b or target.startswith(b + ".") for b in banned)
    ]
    assert not wrong, "\n".join(wrong)
