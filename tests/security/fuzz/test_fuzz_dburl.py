"""URL parsing and redaction, fuzzed over the whole printable range.

Passwords, user names and hosts are drawn from every printable ASCII character (so
every URL-reserved one: ``@ : / % # ? & = + [ ] ;``), some non-ASCII letters, and
percent-encodings whole or broken (``%40``, ``%2F``, ``%zz``, a trailing ``%``). For
any of them, either the URL is rejected with a message that holds no part of the
secret, or libpq and Python agree on it and the redacted form is exactly the URL with
the secret replaced by the mask. "Exactly" is what catches a redaction that stops at
``%40`` (see the last test, which plants that fault).
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import quote

import pytest
from hypothesis import assume, example, given
from hypothesis import strategies as st

from aksara.dburl import MASK, parse_database_url, redact_url, scrub
from aksara.errors import UsageError

#: Every printable ASCII character, plus a few non-ASCII letters.
PRINTABLE = st.characters(min_codepoint=0x20, max_codepoint=0x7E) | st.sampled_from("éß日Ω")
#: Percent-encodings a URL may carry, valid and broken.
PERCENT = st.sampled_from(["%40", "%3A", "%2F", "%25", "%23", "%3F", "%26", "%3D", "%2B",
                           "%20", "%zz", "%4", "%", "%%", "%C3%A9", "%ff"])
#: Text for passwords, user names and hosts: printable characters and percent tokens.
TEXT = st.lists(PRINTABLE | PERCENT, min_size=1, max_size=24).map("".join)
PASSWORD = TEXT
USER = TEXT
HOST = TEXT
_LOWER = "abcdefghijklmnopqrstuvwxyz"
#: Host names that are valid as they are (for the tests that vary something else).
PLAIN_HOST = st.lists(
    st.builds(lambda a, b: a + b, st.sampled_from(_LOWER),
              st.text(alphabet=_LOWER + "0123456789-", max_size=12)),
    min_size=1, max_size=4).map(".".join)
DB = st.builds(lambda a, b: a + b, st.sampled_from(_LOWER),
               st.text(alphabet=_LOWER + "0123456789_", max_size=20))


def assert_redacted(url: str, secret: str, expected: str,
                    redactor: Callable[[str], str] = redact_url) -> None:
    """``url`` is rejected (no secret in the message, reduced to its scheme when
    redacted) or parses and redacts to exactly ``expected``."""
    try:
        parsed = parse_database_url(url)
    except UsageError as exc:
        # Messages are fixed wording: any secret of 8+ characters that is not itself
        # plain words (which the wording may contain) must be absent.
        if len(secret) >= 8 and not secret.replace(" ", "").isalpha():
            assert secret not in str(exc)
        assert "\n" not in str(exc)
        assert redactor(url) == f"postgresql://{MASK}"
        return
    assert redactor(url) == expected == parsed.redacted
    assert secret in parsed.secrets()
    assert parsed.password is None or parsed.password in parsed.secrets()


@given(USER, PASSWORD, PLAIN_HOST, st.integers(min_value=1, max_value=65535), DB)
@example("u", "p@ss%40word/x", "h", 5432, "db")
def test_percent_encoded_user_and_password_round_trip_and_redact(
    user: str, password: str, host: str, port: int, db: str
) -> None:
    euser, epw = quote(user, safe=""), quote(password, safe="")
    url = f"postgresql://{euser}:{epw}@{host}:{port}/{db}?sslmode=require"
    parsed = parse_database_url(url)
    assert (parsed.user, parsed.password, parsed.host, parsed.port, parsed.database) == (
        user, password, host, port, db)
    assert parsed.sslmode == "require"
    assert_redacted(url, password, f"postgresql://{euser}:{MASK}@{host}:{port}/{db}?sslmode=require")


@given(USER, PASSWORD, HOST)
@example("u", "SEC@RET", "db.internal")
@example("user", "1234/SECRETPART", "db.internal")
@example("u", "ab%zzcd", "h")
@example("u", "ab%40cdefgh", "h")
@example("u", "pa#ss", "h")
def test_raw_userinfo_and_host_are_rejected_or_read_alike(user: str, password: str,
                                                         host: str) -> None:
    url = f"postgresql://{user}:{password}@{host}/db"
    assume(not any(c in url for c in "\r\n\x00"))
    # Both parsers end the user name at the first ':'; all after it is the password.
    name, _, secret = f"{user}:{password}".partition(":")
    assert_redacted(url, secret, f"postgresql://{name}:{MASK}@{host}/db")


def _spell(key: str, encode: list[bool]) -> str:
    """``key`` with the characters chosen by ``encode`` percent-encoded."""
    return "".join(f"%{ord(c):02X}" if e else c for c, e in zip(key, encode + [False] * 40))


@given(PASSWORD, st.sampled_from(["password", "sslpassword", "oauth_client_secret", "PASSWORD"]),
       st.lists(st.booleans(), max_size=20), PLAIN_HOST)
@example("s3cret", "password", [False, False, False, True], "h")  # ?pass%77ord=
def test_secret_query_keys_are_redacted_however_spelled(password: str, key: str,
                                                        encode: list[bool], host: str) -> None:
    spelled = _spell(key, encode)
    url = f"postgresql://app@{host}/db?sslmode=require&{spelled}={quote(password, safe='')}"
    assert_redacted(url, password, f"postgresql://app@{host}/db?sslmode=require&{spelled}={MASK}")


@given(st.lists(PRINTABLE | PERCENT, max_size=60).map("".join))
def test_parse_never_raises_anything_but_usage_error(text: str) -> None:
    for candidate in (text, "postgresql://" + text):
        try:
            parse_database_url(candidate)
        except UsageError as exc:
            assert "\n" not in str(exc) and "\r" not in str(exc)


@given(USER, PASSWORD.filter(lambda p: len(p) >= 6), PLAIN_HOST,
       st.sampled_from(["mysql", "http", "postgresql", "postgres"]),
       st.sampled_from([":notaport", ":99999999", "", ":0"]),
       st.sampled_from(["", "#frag", "?password=x&", "\n", "?PASSWORD=y"]))
def test_error_messages_never_contain_the_password(
    user: str, password: str, host: str, scheme: str, port: str, tail: str
) -> None:
    url = f"{scheme}://{quote(user, safe='')}:{quote(password, safe='')}@{host}{port}/db{tail}"
    public = f"{scheme}://{quote(user, safe='')}:@{host}{port}/db{tail}{MASK}"
    assume(password not in public and quote(password, safe="") not in public)
    try:
        parsed = parse_database_url(url)
    except UsageError as exc:
        for form in (password, quote(password, safe="")):
            assert form not in str(exc) or form.replace(" ", "").isalpha()
        return
    assert quote(password, safe="") not in parsed.redacted
    assert password not in parsed.redacted


@given(st.lists(PRINTABLE | PERCENT, min_size=4, max_size=30).map("".join),
       st.text(alphabet=" .,;=()[]{}<>!~^", max_size=60),
       st.text(alphabet=" .,;=()[]{}<>!~^", max_size=60))
def test_scrub_removes_raw_encoded_and_decoded_occurrences(secret: str, before: str,
                                                           after: str) -> None:
    assume(MASK not in secret and secret not in MASK)
    text = f"{before}{secret}{after}{quote(secret, safe='')}{quote(secret)}"
    scrubbed = scrub(text, [secret])
    assert secret not in scrubbed and quote(secret, safe="") not in scrubbed
    assert quote(secret) not in scrubbed


def _stops_at_percent_40(url: str) -> str:
    """A planted fault: a redactor that masks the password only up to ``%40``."""
    head, _, rest = url.partition("://")
    userinfo, _, hostpart = rest.rpartition("@")
    user, _, password = userinfo.partition(":")
    kept = password[password.index("%40"):] if "%40" in password else ""
    return f"{head}://{user}:{MASK}{kept}@{hostpart}"


def test_the_property_catches_a_redaction_that_stops_at_percent_40() -> None:
    url = "postgresql://u:" + "ab%40cdefgh" + "@h/db"
    assert_redacted(url, "ab@cdefgh", f"postgresql://u:{MASK}@h/db")  # the real one passes
    with pytest.raises(AssertionError):
        assert_redacted(url, "ab@cdefgh", f"postgresql://u:{MASK}@h/db", _stops_at_percent_40)
