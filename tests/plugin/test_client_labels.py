"""Against a real Diego the plugin's BBS client names the plugin's options in its hints, not the
client's parameters: the reader of a pytest run set --diego-bbs-url, not ``url``."""

from __future__ import annotations

from tests.support.ports import free_url


def test_unreachable_real_bbs_names_the_option_and_its_environment_variable(pytester, run):
    pytester.makepyfile(test_reach="""
        import pytest
        from pytest_diego.bbs.errors import BBSConnectionError

        def test_reach(diego):
            with pytest.raises(BBSConnectionError) as info:
                diego.client(timeout=2).ping()
            print("MESSAGE:", info.value)
    """)
    result = run("--diego-bbs-url", free_url(), "-s")
    assert result.ret == 0
    result.stdout.fnmatch_lines(["*MESSAGE: could not connect to the BBS at *: [[]Errno 111[]] Connection "
                                 "refused — is it running? check --diego-bbs-url (BBS_URL)"])
