"""The import direction of ARCHITECTURE section 2, checked on the source, not by memory.

``api``, ``realtime``, ``tasks``, ``cli`` → ``services`` → ``models``: no module under
``app/services`` or ``app/models`` may import the layers above it or the workers' Celery
app (``app.celery_app``, ``celery_config``), at module level or inside a function. The one
way down for a service that notifies browsers is the emitter interface
``app.realtime.emit``; a service that starts work uses ``app.services.task_sender``.

The checker reads each file with ``ast``; ``test_the_checker_catches_a_wrong_import``
feeds it wrong imports of every form to show it fails on them, e.g.::

    def send():
        from app.celery_app import make_celery   # -> "imports app.celery_app.make_celery"
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

APP = Path(__file__).resolve().parents[2] / "backend" / "app"
ABOVE_SERVICES = ("app.api", "app.realtime", "app.tasks", "app.cli", "app.standalone")
WORKERS_APP = ("app.celery_app", "celery_config")
ALLOWED = {"services": ("app.realtime.emit",), "models": ()}
FORBIDDEN = {
    "services": (*ABOVE_SERVICES, *WORKERS_APP),
    "models": (*ABOVE_SERVICES, *WORKERS_APP, "app.services"),
}


def _module_name(path: Path) -> str:
    parts = path.relative_to(APP.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imported(tree: ast.AST, module: str, is_package: bool) -> set[str]:
    """Every name an import statement anywhere in ``tree`` brings in, in full:
    ``from a import b`` brings in ``a.b`` (a module or a name of module ``a``, under it
    either way)."""
    package = module if is_package else module.rpartition(".")[0]
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return names


def _violates(name: str, forbidden: tuple[str, ...], allowed: tuple[str, ...]) -> bool:
    def under(prefix: str) -> bool:
        return name == prefix or name.startswith(prefix + ".")

    return any(under(prefix) for prefix in forbidden) and not any(
        under(prefix) for prefix in allowed
    )


def violations(source: str, module: str, layer: str, is_package: bool = False) -> list[str]:
    """The forbidden imports of ``module`` (in ``layer``) as "module imports name"."""
    names = _imported(ast.parse(source), module, is_package)
    bad = {n for n in names if _violates(n, FORBIDDEN[layer], ALLOWED[layer])}
    return sorted(f"{module} imports {name}" for name in bad)


def _layer_files(layer: str) -> list[Path]:
    return sorted((APP / layer).rglob("*.py"))


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_lower_layers_import_nothing_above_them(layer: str) -> None:
    files = _layer_files(layer)
    assert len(files) > 3, f"no modules found under {APP / layer}"
    found = [
        problem
        for path in files
        for problem in violations(
            path.read_text(), _module_name(path), layer, path.name == "__init__.py"
        )
    ]
    assert found == []


@pytest.mark.parametrize(
    ("source", "named"),
    [
        ("import app.tasks.cleanup_tasks\n", "app.tasks.cleanup_tasks"),
        ("from app.celery_app import make_celery\n", "app.celery_app"),
        ("def f():\n    from app.api.auth_guard import client_ip\n", "app.api.auth_guard"),
        ("from app.realtime import rooms\n", "app.realtime.rooms"),
        ("from app.realtime.connections import registry\n", "app.realtime.connections"),
        ("from ..tasks import monitoring\n", "app.tasks.monitoring"),
        ("from app import tasks\n", "app.tasks"),
        ("import celery_config\n", "celery_config"),
        ("from app.cli import register_cli\n", "app.cli"),
    ],
)
def test_the_checker_catches_a_wrong_import(source: str, named: str) -> None:
    found = violations(source, "app.services.example", "services")
    imported = [problem.split(" imports ")[1] for problem in found]
    assert any(name == named or name.startswith(named + ".") for name in imported), found


def test_the_checker_lets_services_use_the_emitter_and_models_nothing_above() -> None:
    assert violations("from app.realtime import emit\n", "app.services.x", "services") == []
    assert (
        violations("from app.realtime.emit import emit_to_user\n", "app.services.x", "services")
        == []
    )
    assert violations("from app.services import notify\n", "app.models.x", "models") == [
        "app.models.x imports app.services.notify"
    ]
