"""The Dagger ``release-identity`` function and ``reproducible-build`` stage, read offline.

Why: the release identity is defined once (``aksara_release.release_identity``); the
Dagger function must run that module, with the flags it really has, on a checkout that
keeps its ``.git`` (the tag object and its signature live there), with git and
ssh-keygen installed. No engine runs here, so the lazily built container is read back.
"""

from __future__ import annotations

import argparse
from typing import Any

import dagger
import dagger_chain as dc
import pytest
from aksara_release import main, release_identity
from aksara_release.main import AksaraRelease
from dagger import dag


def object_type() -> Any:
    return AksaraRelease.__dagger_object_type__  # type: ignore[attr-defined]


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    release_identity.add_arguments(parser)
    return parser.parse_args(argv)


def test_the_command_is_the_host_module_with_real_flags() -> None:
    argv = main.release_identity_argv("v0.8.0", commit="a" * 40, wheel="/wheel/x.whl",
                                      require_signed=True, allowed_signers="/allowed_signers")
    assert argv[:3] == ["python", "-m", "aksara_release.release_identity"]
    args = _parse(argv[3:])
    assert (args.tag, args.commit, str(args.wheel)) == ("v0.8.0", "a" * 40, "/wheel/x.whl")
    assert args.require_signed is True and str(args.allowed_signers) == "/allowed_signers"
    assert str(args.output) == main.IDENTITY_OUTPUT and str(args.repo) == main.IDENTITY_REPO
    plain = _parse(main.release_identity_argv("v0.8.0")[3:])
    assert (plain.commit, plain.wheel, plain.require_signed) == (None, None, False)


def test_the_container_keeps_git_and_installs_git_and_ssh_keygen() -> None:
    module = AksaraRelease(source=dag.directory())
    repository = dag.git("https://example.invalid/aksara.git")
    ctr = module.identity_container("v0.8.0", repository, require_signed=True,
                                    allowed_signers=dag.directory().file("k"))
    execs = dc.execs(ctr)
    assert "git openssh-client" in execs[0][-1]
    assert list(execs[-1]) == main.release_identity_argv(
        "v0.8.0", require_signed=True, allowed_signers="/allowed_signers")
    repo = dc.chain(ctr)[dc.index_of(ctr, "withDirectory", path=main.IDENTITY_REPO)]
    checkout = repo.args["source"]  # the tag's tree, with its .git
    (tag,) = dc.calls(checkout, "tag")
    assert tag.args["name"] == "v0.8.0"
    (tree,) = dc.calls(checkout, "tree")
    assert tree.args.get("discardGitDir", False) is False
    assert dc.env(ctr)["PYTHONPATH"] == main.GATE_DIR


@pytest.mark.parametrize("tag", ["v1;id", "main", "v0.8.0 --x"])
def test_a_malformed_tag_is_refused_before_use(tag: str) -> None:
    module = AksaraRelease(source=dag.directory())
    with pytest.raises(release_identity.UsageError):
        module.identity_container(tag, dag.git("https://example.invalid/aksara.git"))


def test_registration() -> None:
    fn = object_type().functions["release_identity"]
    assert fn.return_type is dagger.File and not fn.check
    params = fn.parameters
    assert list(params)[:2] == ["tag", "repository"]
    assert not params["tag"].is_optional
    assert params["repository"].default_path == "/"
    for name in ("commit", "wheel", "require_signed", "allowed_signers"):
        assert params[name].is_optional, name
    assert object_type().functions["reproducible_build"].check
