"""Access codes as the desk sees them: validated strings, and salted hashes for offline use."""
import hashlib
import hmac

from django.conf import settings

# pretix stores ticket secrets in a CharField(max_length=255); nothing longer can match.
MAX_CODE_LENGTH = 255


def list_salt(*, checkin_list) -> str:
    """A salt that is stable per list, so hashes from one preload still match the next sync,
    and different per list, so a hash leaked from one desk says nothing about another list."""
    key = settings.SECRET_KEY.encode()
    msg = f"pretix_desk.preload.{checkin_list.pk}".encode()
    return hmac.new(key, msg, hashlib.sha256).hexdigest()[:32]


def code_hash(*, salt: str, access_code: str) -> str:
    """What an offline desk compares against: hex SHA-256 of ``salt + access_code``."""
    return hashlib.sha256((salt + access_code).encode()).hexdigest()


def is_plausible_code(code) -> bool:
    """Codes from URLs reach the database only when they could be a secret at all:
    PostgreSQL refuses NUL bytes and lone surrogates with an exception, not a miss."""
    if not isinstance(code, str) or not code or len(code) > MAX_CODE_LENGTH:
        return False
    if "\x00" in code:
        return False
    try:
        code.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
