"""The one exception type that means "the user asked for something wrong".

The CLI turns it into a one-line message and exit code 2; anything else is a bug in Equipoise.
"""


class UserError(Exception):
    """Bad input from a person: a file, an option or a value. The message is shown as it is."""
