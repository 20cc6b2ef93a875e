"""The answer bank refuses entries that could not be checked."""
from __future__ import annotations

import pytest

from autograde.samples import answer_bank


def _write(tmp_path, body: str):
    (tmp_path / "01_x.toml").write_text(body)
    return tmp_path


def test_a_wrong_answer_without_a_tag_is_refused(tmp_path):
    folder = _write(tmp_path, '[[answer]]\nname = "df"\nlabel = "a"\nkind = "wrong"\ncode = "x = 1"\n')
    with pytest.raises(ValueError, match="needs a tag"):
        answer_bank.load("01_x", folder)


def test_two_entries_with_the_same_label_are_refused(tmp_path):
    entry = '[[answer]]\nname = "df"\nlabel = "a"\nkind = "right"\ncode = "x = 1"\n'
    with pytest.raises(ValueError, match="share a name and label"):
        answer_bank.load("01_x", _write(tmp_path, entry + entry))


def test_entries_load_with_their_code_ending_in_a_newline(tmp_path):
    folder = _write(tmp_path, "[[answer]]\nname = \"df\"\nlabel = \"neg\"\nkind = \"wrong\"\ntag = \"gradient-sign\"\n"
                              "code = '''\ndef df(x):\n    return 4 - 2 * x\n'''\n")
    (answer,) = answer_bank.load("01_x", folder)
    assert (answer.name, answer.label, answer.tag) == ("df", "neg", "gradient-sign")
    assert answer.code == "def df(x):\n    return 4 - 2 * x\n"


def test_an_assignment_without_a_bank_has_no_entries(tmp_path):
    assert answer_bank.load("99_none", tmp_path) == []
