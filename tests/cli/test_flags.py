"""One flag style: hyphenated names in --help, the spellings of earlier releases still accepted but hidden."""

import re

import pytest

from msmonai.cli import build_parser


def parse(*argv):
    return build_parser().parse_args(list(argv))


CV = ("cv", "--bundle", "B", "--datalist", "D", "--out", "O")


@pytest.mark.parametrize("new, old, dest, value", [
    ("--num-epochs", "--num_epochs", "num_epochs", 3),
    ("--mc-samples", "--mc_samples", "mc_samples", 3),
    ("--n-boot", "--n_boot", "n_boot", 3),
    ("--threshold-rule", "--threshold", "threshold_rule", "f1"),
])
def test_cv_flags_old_and_new_spellings(new, old, dest, value):
    assert getattr(parse(*CV, new, str(value)), dest) == value == getattr(parse(*CV, old, str(value)), dest)


def test_defaults_survive_the_hidden_aliases():
    args = parse(*CV)
    assert (args.num_epochs, args.mc_samples, args.n_boot, args.threshold_rule) == (None, 20, 2000, "model")


def test_help_shows_only_hyphenated_flags(capsys):
    for command in ("cv", "predict", "export-bundle", "preprocess"):
        with pytest.raises(SystemExit):
            parse(command, "--help")
        text = capsys.readouterr().out  # option lines start with the flag; help text may name MONAI's own flags
        flags = [m.group(1) for m in re.finditer(r"^\s+(?:-\w, )?(--[\w-]+)", text, re.MULTILINE)]
        assert flags and not [flag for flag in flags if "_" in flag], (command, flags)


def test_export_bundle_spatial_size_both_spellings():
    for flag in ("--spatial-size", "--spatial_size"):
        assert parse("export-bundle", "B", "--out", "Z", flag, "6", "32", "32").spatial_size == [6, 32, 32]
