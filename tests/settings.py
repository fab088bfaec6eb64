"""pretix's own test settings; the database comes from PRETIX_DATABASE_* variables."""
from pretix.testutils.settings import *  # NOQA
