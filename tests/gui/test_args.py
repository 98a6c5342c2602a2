"""The GUI's command line: the no-argument fast path gives exactly the parser's defaults."""

from __future__ import annotations

import pytest

from crystal_manager.gui.args import gui_parser, parse_gui_args


def test_no_arguments_give_the_parsers_defaults() -> None:
    assert vars(parse_gui_args([])) == vars(gui_parser().parse_args([]))


def test_arguments_go_through_the_parser() -> None:
    args = parse_gui_args(["--show", "privacy", "--replace"])
    assert args.show == "privacy" and args.replace is True
    with pytest.raises(SystemExit):
        parse_gui_args(["--show", "nowhere"])
