"""make install, black box: the tools land in $PREFIX/bin and what they read in
$PREFIX/share/hf-skillsets, and they find it from there: the whole loop runs from the
installed tools, in a directory outside the checkout, on the installed skillkit (its
tiny models go to $XDG_CACHE_HOME, not into the prefix). DESTDIR stages the same tree
below it, and make uninstall takes it away."""
import os
import shutil
import subprocess

import pytest

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="needs make")


def make(cli, *args):
    """make <args> in the checkout; a make that runs this test passes no jobserver down."""
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MAKELEVEL", "MFLAGS")}
    done = subprocess.run(["make", "-s", "--no-print-directory", *args], cwd=cli.root, env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    return done


def installed_files(root):
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def test_installed_tools_run_the_loop_from_outside_the_checkout(cli, tmp_path):
    prefix = tmp_path / "prefix"
    make(cli, "install", f"PREFIX={prefix}")
    share = prefix / "share" / "hf-skillsets"
    for tool in cli.tools:
        assert os.access(prefix / "bin" / tool, os.X_OK)
    for path in ("data/registry.json", "data/families.json", "data/webnn_ops.json",
                 "schemas/test-result.schema.json", "schemas/outputs/common.schema.json",
                 "schemas/outputs/feature-extraction.schema.json", "templates/tests/test.py.mustache",
                 "python/skillkit/harness.py", "python/skillkit/families/text_encoder.py",
                 "python/requirements.txt", "js/package.json"):
        assert (share / path).is_file(), path
    assert not list(share.rglob("__pycache__"))

    work, cache = tmp_path / "work", tmp_path / "cache"
    work.mkdir()
    # An activated venv: its python3 first on PATH. Nothing points at the checkout.
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "SKILLSET_HOME", "SKILLSET_PYTHON", "SKILLKIT_CACHE")}
    env.update(PATH=f"{cli.root / '.venv' / 'bin'}:{prefix / 'bin'}:{env['PATH']}",
               XDG_CACHE_HOME=str(cache), HF_HUB_OFFLINE="1")
    loop = ("gen-tests -q -o tests --skillset-dir skillsets --backends cpu bert"
            " | run-tests -q -j 1 | analyze | gen-skillset -q | verify -q -j 1")
    done = subprocess.run(["bash", "-o", "pipefail", "-c", loop], cwd=work, env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    summary = cli.records(done.stdout)[-1]
    assert summary["schema"] == "verify-summary"
    assert (summary["skillsets"], summary["passed"]) == (1, 1)
    assert (work / "skillsets" / "hf_bert.py").is_file()
    # The installed skillkit ran: a checkout's keeps tiny models in its .cache/.
    assert list((cache / "hf-skillsets" / "tiny" / "bert").iterdir())
    assert not (share / ".cache").exists()


def test_destdir_stages_the_install_and_uninstall_removes_it(cli, tmp_path):
    stage = tmp_path / "stage"
    make(cli, "install", f"DESTDIR={stage}", "PREFIX=/opt/hf")
    files = installed_files(stage)
    assert all(f.startswith("opt/hf/bin/") or f.startswith("opt/hf/share/hf-skillsets/") for f in files)
    assert sorted(f for f in files if f.startswith("opt/hf/bin/")) == sorted(f"opt/hf/bin/{t}" for t in cli.tools)
    # The staged tree is whole where it stands: the tools find their data from bin/.
    done = subprocess.run([stage / "opt/hf/bin/gen-tests", "--list-families"], capture_output=True, text=True,
                          env={k: v for k, v in os.environ.items() if k != "SKILLSET_HOME"}, cwd=tmp_path)
    assert done.returncode == 0 and "text-encoder" in done.stdout, done.stderr
    make(cli, "uninstall", f"DESTDIR={stage}", "PREFIX=/opt/hf")
    assert installed_files(stage) == []
