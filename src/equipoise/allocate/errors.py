"""Errors of the allocation layer."""

from equipoise.errors import UserError


class AllocationError(UserError):
    """An allocation cannot be made from these inputs (the message says why, in one line).

    Raised for requests that do not fit the scheme (arms not in force, a factor level missing, fewer than two
    open arms) and for protocols whose randomization section the engine cannot run. The server turns it into a
    4xx answer; it never means a random draw went wrong.
    """
