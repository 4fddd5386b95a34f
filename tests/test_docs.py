"""The documents name files that exist: every repository path README.md and BUILD_NOTES.md cite (a test, a
module, a flagfile, a benchmark) is in the tree, so a move or rename cannot leave them pointing at nothing."""

import os
import re

import pytest
from helpers import REPO

DOCUMENTS = ("README.md", "BUILD_NOTES.md")
CITED_PATH = re.compile(r"\b((?:tests|tfnormals|data_tools|benchmarks|configs|docs)/[\w./-]*\.(?:py|flags|md|png))")


def cited_paths(document):
    with open(os.path.join(REPO, document), encoding="utf-8") as f:
        return sorted(set(CITED_PATH.findall(f.read())))


@pytest.mark.parametrize("document", DOCUMENTS)
def test_every_cited_path_exists(document):
    cited = cited_paths(document)
    assert len(cited) > 5, cited  # the pattern finds the citations
    assert [p for p in cited if not os.path.exists(os.path.join(REPO, p))] == []
