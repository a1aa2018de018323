"""The docs are tested (STYLE habit 14), like datasette's ``test_docs.py``.

The generated CLI reference must be current; every setting daap accepts must be
in the descriptor reference (the lists come from the code, not from here);
every command must be shown to a newcomer; and links must lead somewhere.
"""

from __future__ import annotations

import importlib.util
import re
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from types import ModuleType

import pytest
from pydantic import BaseModel

from daap.spec import mesh, model, settings, sources
from daap.spec import types as spec_types

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
README = ROOT / "README.md"
TUTORIAL = DOCS / "tutorial.md"
DESCRIPTOR_PAGE = DOCS / "reference" / "descriptor.md"

FENCE = re.compile(r"^(```|~~~).*?^\1[^\n]*$", re.MULTILINE | re.DOTALL)
INLINE_CODE = re.compile(r"`[^`\n]*`")
LINK = re.compile(r"\[[^\]]*\]\(<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\)")
HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$", re.MULTILINE)


@pytest.fixture(scope="module")
def generator() -> ModuleType:
    """``docs/gen_cli_reference.py``, imported by path (docs/ is not a package)."""
    spec = importlib.util.spec_from_file_location("gen_cli_reference", DOCS / "gen_cli_reference.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# -- helpers -----------------------------------------------------------------------


def missing_from(text: str, names: Iterable[str]) -> list[str]:
    """Names that ``text`` never shows as inline code (`` `name` ``)."""
    return sorted({name for name in names if f"`{name}`" not in text})


def model_keys(module: ModuleType) -> set[str]:
    """Field names of every pydantic model ``module`` defines: the YAML keys it accepts."""
    return {
        name
        for value in vars(module).values()
        if isinstance(value, type) and issubclass(value, BaseModel) and value.__module__ == module.__name__
        for name in value.model_fields
    }


def without_code(text: str) -> str:
    return INLINE_CODE.sub("", FENCE.sub("", text))


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: ``## 5. Time travel`` -> ``5-time-travel``."""
    text = INLINE_CODE.sub(lambda m: m.group(0).strip("`"), heading).lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(page: Path) -> set[str]:
    found: set[str] = set()
    seen: Counter[str] = Counter()
    for heading in HEADING.findall(FENCE.sub("", page.read_text(encoding="utf-8"))):
        base = slug(heading)
        found.add(base if not seen[base] else f"{base}-{seen[base]}")
        seen[base] += 1
    return found


def broken_links(page: Path) -> list[str]:
    """Relative links of ``page`` to a file that does not exist, or to a missing heading."""
    broken = []
    for target in LINK.findall(without_code(page.read_text(encoding="utf-8"))):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target):
            continue  # https:, mailto: ...
        path, _, fragment = target.partition("#")
        linked = (page.parent / path).resolve() if path else page
        if not linked.exists():
            broken.append(f"{target} (no such file)")
        elif fragment and linked.suffix == ".md" and fragment not in anchors(linked):
            broken.append(f"{target} (no heading #{fragment} in {linked.name})")
    return broken


def doc_pages() -> list[Path]:
    return [README, *sorted(DOCS.rglob("*.md"))]


# -- (a) the CLI reference is generated and current ----------------------------------


def test_cli_reference_is_current(generator):
    diff = generator.check()
    assert not diff, "docs/reference/cli.md is out of date; run `python docs/gen_cli_reference.py`:\n" + (
        "\n".join(diff[:40])
    )


def test_cli_check_notices_a_stale_page(generator, tmp_path, monkeypatch):
    page = tmp_path / "reference" / "cli.md"
    monkeypatch.setattr(generator, "PAGE", page)
    assert generator.main(["--check"]) == 1  # missing
    assert generator.main([]) == 0
    assert generator.check() == []
    page.write_text(page.read_text(encoding="utf-8").replace("## daap build", "## daap biuld"))
    assert generator.main(["--check"]) == 1


def test_cli_reference_lists_every_command_and_exit_code(generator):
    text = generator.render()
    paths = generator.command_paths()
    assert len(paths) > 5
    assert [p for p in paths if f"## {p}\n" not in text] == []
    codes = generator.documented_codes()
    assert set(generator.error_classes()) <= set(codes)
    assert all(f"| {code} |" in text for code in codes)


# -- (b) every setting is in the descriptor reference --------------------------------


@pytest.mark.parametrize(
    ("what", "names"),
    [
        ("customProperties of a product", set(settings.PARSERS)),
        ("keys inside customProperties values", model_keys(settings)),
        ("CSV options", set(sources.CSV_OPTIONS)),
        ("source keys", model_keys(sources)),
        ("file extensions", set(sources.EXTENSIONS)),
        ("mesh.yaml keys", set(mesh.MeshFile.model_fields)),
        ("environment variables", {mesh.HOME_VARIABLE}),
        ("product types", set(model.KNOWN_TYPES)),
        ("logical types", {*spec_types.DEFAULTS, *spec_types.NOT_YET}),
        ("physical types", {p for table in spec_types.PHYSICAL.values() for p in table}),
        ("parameterised physical types", {p[0] for ps in spec_types.PATTERNS.values() for p in ps}),
        ("stored types", {t for table in spec_types.PHYSICAL.values() for t in table.values()}),
    ],
)
def test_descriptor_reference_mentions(what, names):
    assert names, f"no {what} found in the code: has the table moved?"
    text = DESCRIPTOR_PAGE.read_text(encoding="utf-8")
    missing = missing_from(text, names)
    assert not missing, f"{what} not documented (as `name`) in docs/reference/descriptor.md: {missing}"


def test_mention_check_notices_a_missing_name():
    assert missing_from("set `delimiter` and header", ["delimiter", "header"]) == ["header"]
    assert "keepVersions" in model_keys(settings)


# -- (c) every command is shown to a newcomer ----------------------------------------


def test_every_command_is_in_readme_or_tutorial(generator):
    shown = README.read_text(encoding="utf-8") + TUTORIAL.read_text(encoding="utf-8")
    commands = generator.command_paths()[1:]  # the first is `daap` itself
    assert commands
    assert [c for c in commands if not re.search(rf"{re.escape(c)}\b", shown)] == []


# -- (d) links lead somewhere --------------------------------------------------------


@pytest.mark.parametrize("page", doc_pages(), ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_resolve(page):
    assert broken_links(page) == []


def test_link_check_notices_broken_links(tmp_path):
    (tmp_path / "there.md").write_text("# Here it is\n", encoding="utf-8")
    page = tmp_path / "page.md"
    page.write_text(
        "# Page\n[a](there.md) [b](there.md#here-it-is) [c](gone.md) [d](there.md#nope) [e](#page)\n"
        "[f](https://example.com/x) `[g](gone-in-code.md)`\n```\n[h](gone-in-fence.md)\n```\n",
        encoding="utf-8",
    )
    assert broken_links(page) == ["gone.md (no such file)", "there.md#nope (no heading #nope in there.md)"]
    assert len(doc_pages()) >= 10
