"""What every tool does with --help, --version and a flag it does not know."""
import pytest

# Each tool with one flag of its own that its help must mention.
TOOLS = {"gen-tests": "--output-dir", "run-tests": "--timeout", "analyze": "--quiet",
         "gen-skillset": "--list-families", "verify": "--jobs", "report": "--markdown", "history": "--db"}


@pytest.mark.parametrize("tool", TOOLS)
def test_help_prints_usage_on_stdout_and_exits_0(cli, tool):
    rc, out, err = cli.run(tool, "--help")
    assert rc == 0 and err == ""
    assert "Usage:" in out and tool in out and TOOLS[tool] in out


@pytest.mark.parametrize("tool", TOOLS)
def test_version_prints_one_line_on_stdout_and_exits_0(cli, tool):
    rc, out, err = cli.run(tool, "--version")
    assert rc == 0 and err == ""
    assert out.startswith(f"{tool} ") and len(out.splitlines()) == 1


@pytest.mark.parametrize("tool", TOOLS)
def test_unknown_flag_is_one_error_line_in_house_style_and_exit_2(cli, tool):
    # DESIGN: errors are `<tool>: error: <what> '<subject>'`, lower-case, ASCII quotes.
    rc, out, err = cli.run(tool, "--bogus", input="")
    assert rc == 2 and out == ""
    line = cli.assert_one_error_line(tool, err)
    what = line[len(f"{tool}: error: "):]
    assert what[:1].islower() and "'bogus'" in what and what.isascii(), line
