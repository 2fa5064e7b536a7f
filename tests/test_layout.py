"""The shape of the code: no import circles, each setting declared once, one set of stage-3 flags for every task,
and no metric named in stage 3."""
import ast
import runpy
import subprocess
import sys
from pathlib import Path

import pytest

import metrics
from pipeline import tasks
from pipeline.evaluate import OPTIONS as STAGE3
from pipeline.extract import OPTIONS as STAGE1
from pipeline.flabels.stage import OPTIONS as STAGE2

ROOT = Path(__file__).resolve().parents[1]
STAGE3_SCRIPTS = sorted(ROOT.glob("evaluate_metric_*.py"))
STAGE_SCRIPTS = {1: sorted(ROOT.glob("forward_feature_*.py")), 2: sorted((ROOT / "Label_embedding").glob("*.py")),
                 3: STAGE3_SCRIPTS}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def project_imports(path: Path, modules: set[str]) -> set[str]:
    """Every project module `path` imports, at its top or inside a function (a lazy import is a dependency too)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [f"{node.module}.{alias.name}" for alias in node.names] + [node.module]
        else:
            continue
        for name in names:
            if name in modules:
                found.add(name)
    return found


def import_graph() -> dict[str, set[str]]:
    paths = [*ROOT.glob("pipeline/**/*.py"), *ROOT.glob("metrics/*.py")]
    modules = {module_name(path) for path in paths}
    graph = {module_name(path): project_imports(path, modules) - {module_name(path)} for path in paths}
    for name, imported in graph.items():   # `from pipeline.a import b` names module a.b, not the package a too
        graph[name] = {m for m in imported if not any(other.startswith(m + ".") for other in imported)}
    return graph


def test_no_import_cycles_between_the_project_modules():
    graph = import_graph()
    state: dict[str, int] = {}
    cycles = []

    def visit(module, path):
        state[module] = 1
        for imported in sorted(graph.get(module, ())):
            if state.get(imported) == 1:
                cycles.append(path[path.index(imported):] + [imported])
            elif imported not in state:
                visit(imported, path + [imported])
        state[module] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    assert cycles == []


def test_a_lazy_import_is_a_dependency_too(tmp_path):
    module = tmp_path / "lazy.py"
    module.write_text("import numpy\n\ndef later():\n    from pipeline.extract import candidate\n")
    assert project_imports(module, {"pipeline.extract.candidate", "pipeline.store"}) == {"pipeline.extract.candidate"}
    graph = import_graph()
    assert "pipeline.extract.distributed" in graph["pipeline.extract.candidate"]


def _flags(script: Path) -> set[str]:
    text = subprocess.run([sys.executable, str(script), "--help"], capture_output=True, text=True, timeout=120,
                          cwd=ROOT).stdout
    return {word.rstrip(",") for line in text.splitlines() for word in line.split() if word.startswith("--")}


def test_every_task_has_the_same_stage3_flags():
    flags = {script.name: _flags(script) for script in STAGE3_SCRIPTS}
    assert len(flags) == 5
    first = next(iter(flags.values()))
    assert {option.flag for option in STAGE3} <= first
    assert {"--feature-dim", "--jobs", "--ground-truth", "--metric-options", "--models", "--zoo", "--device",
            "--dataset-dir"} <= first
    for name, found in flags.items():
        assert found - {"--qa-file", "--caption-file"} == first - {"--qa-file", "--caption-file"}, name


@pytest.mark.parametrize("stage, script", [(stage, script) for stage, scripts in STAGE_SCRIPTS.items()
                                           for script in scripts], ids=lambda value: getattr(value, "name", value))
def test_a_stage_script_holds_no_copy_of_a_default_declared_elsewhere(stage, script):
    """A constant of a stage script that is also a stage's or its task's option must differ from that option's
    default (an override), never repeat it (a second home)."""
    constants = runpy.run_path(str(script))
    task = tasks.get(constants["TASK"])
    declared = [*{1: STAGE1, 2: STAGE2, 3: STAGE3}[stage], task.path_option, *task.options, *task.stage1_options]
    tree = ast.parse(script.read_text())
    assigned = {t.id for node in tree.body if isinstance(node, ast.Assign) for t in node.targets}
    for option in declared:
        if option.name in assigned:
            assert constants[option.name] != option.default, f"{script.name}: {option.name} repeats its default"


def test_stage3_names_no_metric():
    """What stage 3 knows of a metric comes from the registry: no metric name in its code or its strings."""
    names = set(metrics.METRICS)
    for path in (ROOT / "pipeline" / "evaluate").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                words = {word.strip("'\".,:;()[]{}") for word in node.value.split()}
                assert not words & names, f"{path.name}: {node.value!r}"
            if isinstance(node, ast.Name):
                assert node.id not in names, f"{path.name}: {node.id}"
