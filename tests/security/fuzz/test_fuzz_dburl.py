"""URL parsing and redaction: for any password, the redacted form never contains it."""

from __future__ import annotations

from urllib.parse import quote

from hypothesis import assume, given
from hypothesis import strategies as st

from aksara.dburl import MASK, parse_database_url, redact_url, scrub
from aksara.errors import UsageError

PASSWORD = st.text(min_size=1, max_size=40).filter(lambda p: "\x00" not in p)
#: Passwords that can appear unencoded in a URL's userinfo ('@' and ':' included).
RAW_PASSWORD = st.text(
    alphabet=st.characters(codec="utf-8", exclude_characters="/?#\r\n\x00 \t\\[]",
                           exclude_categories=["Cs", "Cc", "Zs", "Zl", "Zp"]),
    min_size=1, max_size=40,
)
_LOWER = "abcdefghijklmnopqrstuvwxyz"


def _name(rest: str, max_size: int) -> st.SearchStrategy[str]:
    """A letter then up to ``max_size`` of ``rest`` (cheaper to generate than from_regex)."""
    return st.builds(lambda a, b: a + b, st.sampled_from(_LOWER),
                     st.text(alphabet=_LOWER + rest, max_size=max_size))


USER = _name("0123456789_", 15)
HOST = st.lists(_name("0123456789-", 12), min_size=1, max_size=4).map(".".join)
DB = _name("0123456789_", 20)


@given(USER, PASSWORD, HOST, st.integers(min_value=1, max_value=65535), DB)
def test_percent_encoded_password_round_trips_and_is_redacted(
    user: str, password: str, host: str, port: int, db: str
) -> None:
    url = f"postgresql://{user}:{quote(password, safe='')}@{host}:{port}/{db}?sslmode=require"
    parsed = parse_database_url(url)
    assert (parsed.user, parsed.password, parsed.host, parsed.port, parsed.database) == (
        user, password, host, port, db)
    assert parsed.sslmode == "require"
    expected = f"postgresql://{user}:{MASK}@{host}:{port}/{db}?sslmode=require"
    assert redact_url(url) == expected == parsed.redacted
    assert password in parsed.secrets()


@given(USER, RAW_PASSWORD, HOST, DB)
def test_raw_password_with_at_and_colon_is_redacted(user: str, password: str, host: str,
                                                    db: str) -> None:
    url = f"postgresql://{user}:{password}@{host}/{db}"
    assert redact_url(url) == f"postgresql://{user}:{MASK}@{host}/{db}"


@given(PASSWORD, st.sampled_from(["password", "sslpassword", "PASSWORD"]), HOST)
def test_secret_query_parameters_are_redacted(password: str, key: str, host: str) -> None:
    url = f"postgresql://app@{host}/db?sslmode=require&{key}={quote(password, safe='')}"
    redacted = redact_url(url)
    assert redacted == f"postgresql://app@{host}/db?sslmode=require&{key}={MASK}"


@given(st.text(max_size=120))
def test_parse_never_raises_anything_but_usage_error(text: str) -> None:
    try:
        parse_database_url(text)
    except UsageError as exc:
        assert "\n" not in str(exc) and "\r" not in str(exc)


@given(USER, PASSWORD.filter(lambda p: len(p) >= 6), HOST,
       st.sampled_from(["mysql", "http", "postgresql", "postgres"]),
       st.sampled_from([":notaport", ":99999999", "", ":0"]),
       st.sampled_from(["", "#frag", "?password=x&", "\n"]))
def test_error_messages_never_contain_the_password(
    user: str, password: str, host: str, scheme: str, port: str, tail: str
) -> None:
    url = f"{scheme}://{user}:{quote(password, safe='')}@{host}{port}/db{tail}"
    assume(quote(password, safe="") not in f"{scheme}://{user}:@{host}{port}/db{tail}")
    try:
        parsed = parse_database_url(url)
    except UsageError as exc:
        assert password not in str(exc) and quote(password, safe="") not in str(exc)
        return
    assert quote(password, safe="") not in parsed.redacted


@given(st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789@:/", min_size=4, max_size=30),
       st.text(alphabet=" .,;=()[]{}<>!~^", max_size=60),
       st.text(alphabet=" .,;=()[]{}<>!~^", max_size=60))
def test_scrub_removes_raw_and_encoded_occurrences(secret: str, before: str, after: str) -> None:
    text = f"{before}{secret}{after}{quote(secret, safe='')}{quote(secret)}"
    scrubbed = scrub(text, [secret])
    assert secret not in scrubbed and quote(secret, safe="") not in scrubbed
    assert scrubbed.startswith(before + MASK + after)
