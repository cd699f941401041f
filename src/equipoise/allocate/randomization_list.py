"""Allocation from a pre-generated randomization list, entry after entry within each stratum (RND-8).

Many trials, and REDCap's randomization module entirely, allocate from a list that the trial statistician
generated beforehand (often stratified permuted blocks, with a seed only the statistician holds) and uploaded.
The n-th patient of a stratum gets the n-th entry of that stratum, in upload order (REDCap rsvc #265: "following
the order in which the entries for the stratum were uploaded"). Nothing is drawn at run time, so replay only
has to find the same entry again.

A list cannot leave arms out: a patient for whom some arm is unavailable or contraindicated cannot take the
next entry whatever it is, and skipping entries would let the site choose among them. Such a patient is
refused with the reason (use a dynamic method for platform trials with arm availability).

References
----------
Rosenberger WF, Lachin JM (2016). Randomization in Clinical Trials: Theory and Practice, 2nd ed.
Wiley, ch. 3 (allocation from a pre-generated schedule).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from equipoise.allocate.errors import AllocationError
from equipoise.allocate.request import Allocation, AllocationRequest, ArmWeight
from equipoise.allocate.scheme import Scheme
from equipoise.allocate.sources import RandomSource


class ListEntries(Protocol):
    """An uploaded list as the scheme sees it: which list (id and checksum), and the arm at a position."""

    @property
    def list_id(self) -> int: ...

    @property
    def sha256(self) -> str: ...

    def arm_at(self, stratum: str, position: int) -> str | None:
        """The arm of entry ``position`` (from 1) of ``stratum``; None past the stratum's last entry."""


class RandomizationListScheme(Scheme):
    """The next unused entry of the patient's stratum. State per stratum: ``{"used": entries taken}``."""

    method = "list"

    def __init__(self, arms: tuple[ArmWeight, ...], entries: ListEntries | None,
                 list_ref: Mapping[str, Any] | None = None) -> None:
        super().__init__(arms)
        self.entries = entries
        self.list_ref = dict(list_ref) if list_ref is not None else (
            {"id": entries.list_id, "sha256": entries.sha256} if entries is not None else {})

    def _settings(self) -> dict[str, Any]:
        return {"list": dict(self.list_ref)}

    @classmethod
    def _from_parameters(cls, arms: tuple[ArmWeight, ...], settings: Mapping[str, Any]
                         ) -> RandomizationListScheme:
        # The entries live with the trial's data, not in the parameters: this scheme can describe, not allocate.
        return cls(arms, None, settings["list"])

    def state_key(self, request: AllocationRequest) -> str:
        return request.stratum

    def initial_state(self) -> dict[str, Any]:
        return {"used": 0}

    def _allocate(self, state: dict[str, Any], request: AllocationRequest, source: RandomSource) -> Allocation:
        if self.entries is None:
            raise AllocationError("this trial allocates from an uploaded randomization list and none is active: "
                                  "the unblinded statistician uploads one")
        closed = [a.id for a in self.arms if a.id not in request.arm_ids]
        if closed:
            raise AllocationError(f"arm(s) {', '.join(closed)} are not open to this patient, and a randomization "
                                  "list cannot leave arms out")
        position = int(state.get("used", 0)) + 1
        stratum = request.stratum or "(unstratified)"
        arm = self.entries.arm_at(request.stratum, position)
        if arm is None:
            raise AllocationError(f"the randomization list is used up for stratum {stratum} ({position - 1} "
                                  "entries): the unblinded statistician uploads a longer list")
        if arm not in request.arm_ids:
            raise AllocationError(f"entry {position} of stratum {stratum} names arm {arm!r}, which is not in force")
        return Allocation(arm=arm, state={"used": position},
                          diagnostics={"method": self.method, "list_id": self.entries.list_id,
                                       "position": position})
