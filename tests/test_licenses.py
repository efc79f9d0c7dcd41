"""The licenses the README names exist, and every place that states them says the same thing.

Code: MIT (``LICENSE``). Text and figures: CC BY 4.0 (``LICENSE-TEXT.md``, a pointer to the canonical legal code
with a summary). Named in the README, the website's footer (``book/_config.yml``), the citation
(``CITATION.cff`` and the README's BibTeX) and the package metadata.
"""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tools import build_book  # noqa: E402

CC_BY = "https://creativecommons.org/licenses/by/4.0/"


def _text(name):
    path = ROOT / name
    assert path.exists(), f"{name} is missing"
    return path.read_text(encoding="utf-8")


def test_code_license_is_mit():
    text = _text("LICENSE")
    assert text.startswith("MIT License\n")
    assert re.search(r"^Copyright \(c\) 20\d\d .+$", text, re.M)
    for phrase in ("Permission is hereby granted, free of charge, to any person obtaining a copy",
                   "The above copyright notice and this permission notice shall be included in all",
                   'THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND'):
        assert phrase in text
    assert tomllib.loads(_text("pyproject.toml"))["project"]["license"] == {"text": "MIT"}


def test_text_license_is_cc_by_with_its_canonical_urls():
    text = _text("LICENSE-TEXT.md")
    assert "Creative Commons Attribution 4.0 International" in text and "CC BY 4.0" in text
    assert CC_BY in text and CC_BY + "legalcode" in text
    assert "MIT" in text and "LICENSE" in text, "it says what the CC license does not cover"


def test_readme_names_both_licenses_and_no_longer_claims_mit_for_the_text():
    readme = _text("README.md")
    assert "[MIT License](LICENSE)" in readme
    assert "CC BY 4.0" in readme and "(LICENSE-TEXT.md)" in readme
    assert "Code and text are released under the MIT license" not in readme


def test_site_footer_names_both_licenses():
    footer = yaml.safe_load(_text("book/_config.yml"))["html"]["extra_footer"]
    assert "MIT License" in footer and f'href="{build_book.REPO_URL}/blob/main/LICENSE"' in footer
    assert "CC BY 4.0" in footer and f'href="{CC_BY}"' in footer
    assert "CITATION.cff" in footer


def test_citation_file_matches_the_readme():
    cff = yaml.safe_load(_text("CITATION.cff"))
    assert cff["cff-version"] == "1.2.0" and cff["message"] and cff["authors"]
    assert cff["license"] == ["MIT", "CC-BY-4.0"]
    assert cff["repository-code"] == build_book.REPO_URL
    assert cff["version"] == tomllib.loads(_text("pyproject.toml"))["project"]["version"]
    readme = _text("README.md")
    bibtex = re.search(r"```bibtex\n(.*?)```", readme, re.S).group(1)
    assert re.search(r"title\s*=\s*\{" + re.escape(cff["title"]) + r"\}", bibtex), "same title as CITATION.cff"
    assert cff["authors"][0]["name"] in bibtex
    assert build_book.REPO_URL in bibtex and "CC BY 4.0" in bibtex and "MIT" in bibtex
    assert "(CITATION.cff)" in readme
