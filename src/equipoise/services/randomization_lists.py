"""Uploaded randomization lists: import with a checksum, allocate entry by entry, alert before they run out.

RND-8 (REDCap C.3.30.1500; clinicedc RandomizationListVerifier): only the unblinded statistician uploads or
downloads a list, with the password again; the SHA-256 the statistician computed of the file must match what
arrives; each download is audited; site and blinded roles never see a list (it is the allocation sequence),
nor is one ever exported. Test and production lists are separate (REDCap's development and production tables):
each upload says which it is, a test trial (``trial create --test``) takes test lists only and a production
trial production lists only, and the same entries are never uploaded for both. RND-9 (REDCap "no allocations
available"): lists never run out silently. When a
stratum has used ``list_alert_at`` of its entries, and when it has used them all, the unblinded roles get a
notification; a longer list replaces the active one only if it agrees with it on every entry already used, so
no allocation made changes its meaning.

The file is CSV with a header: one column per stratification factor of the protocol (named by the factor's
id, holding a level) and ``arm`` (an arm id); other columns (block numbers, say) are ignored. Rows are the
entries of each stratum in the order they are to be used. Every stratum the protocol can give a patient must
have at least one entry. Any bad row refuses the whole upload, with every problem and its line number.
"""

from __future__ import annotations

import csv
import hashlib
import io
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import cast

from sqlalchemy import Connection, Table, bindparam, func, select
from sqlalchemy.orm import Session

from equipoise.allocate import all_strata, factor_levels
from equipoise.errors import ConflictError, InvalidError, NotFoundError
from equipoise.identity.auth import AuthService
from equipoise.identity.principal import Principal
from equipoise.identity.roles import Action
from equipoise.protocol import Protocol
from equipoise.protocol.randomization import RandomizationMethod
from equipoise.services.free_text import optional_text
from equipoise.services.trials import get_trial, in_force
from equipoise.store.audit import record_event
from equipoise.store.db import Database
from equipoise.store.list_models import RandomizationList, RandomizationListEntry
from equipoise.store.models import AllocationState, Notification, User
from equipoise.store.types import iso, utcnow

MAX_PROBLEMS = 20  # problems listed in one refusal: enough to fix a file, not a wall of text
PURPOSES = ("production", "test")


def list_digest(entries: Iterable[tuple[str, int, str]]) -> str:
    """SHA-256 of (stratum, position, arm) entries in a canonical order and form, whatever the database."""
    digest = hashlib.sha256()
    for stratum, position, arm in sorted(entries):
        digest.update(f"{stratum}\t{position}\t{arm}\n".encode())
    return digest.hexdigest()


@dataclass(frozen=True)
class ParsedList:
    strata: dict[str, list[str]]  # stratum key -> arms in order of use

    @property
    def entries(self) -> int:
        return sum(len(arms) for arms in self.strata.values())

    def triples(self) -> list[tuple[str, int, str]]:
        return [(stratum, i, arm) for stratum, arms in self.strata.items() for i, arm in enumerate(arms, start=1)]


def parse_list(protocol: Protocol, text: str) -> ParsedList:
    """The entries of a list file for this protocol; every problem (with its line) in one InvalidError."""
    r = protocol.randomization
    if r is None:
        raise InvalidError(f"trial {protocol.trial.id} has no randomization section")
    arms = [a.id for a in protocol.arms]
    levels = {f: factor_levels(protocol, f) for f in r.stratify_by}
    reader = csv.DictReader(io.StringIO(text))
    header = [h.strip() for h in reader.fieldnames or []]
    missing = [c for c in [*r.stratify_by, "arm"] if c not in header]
    if missing:
        raise InvalidError(f"the list's header lacks column(s) {', '.join(missing)} (it needs one column per "
                           f"stratification factor, {', '.join(r.stratify_by) or 'none here'}, and arm)")
    reader.fieldnames = header
    strata: dict[str, list[str]] = {key: [] for key in all_strata(protocol)}
    problems: list[str] = []
    for row in reader:
        line = reader.line_num
        if not any((v or "").strip() for v in row.values() if isinstance(v, str)):
            continue  # a blank line
        parts = []
        for factor_id in r.stratify_by:
            level = (row.get(factor_id) or "").strip()
            if level not in levels[factor_id]:
                problems.append(f"line {line}: {factor_id} {level!r} is not one of its levels "
                                f"({', '.join(levels[factor_id])})")
            parts.append(f"{factor_id}={level}")
        arm = (row.get("arm") or "").strip()
        if arm not in arms:
            problems.append(f"line {line}: arm {arm!r} is not an arm of the trial ({', '.join(arms)})")
        key = ";".join(parts)
        if key in strata and arm in arms:
            strata[key].append(arm)
    empty = [key or "(unstratified)" for key, entries in strata.items() if not entries]
    if empty and not problems:
        problems.append(f"{len(empty)} stratum/strata have no entry, e.g. {', '.join(empty[:5])}: every stratum "
                        "needs entries")
    if problems:
        more = f" (and {len(problems) - MAX_PROBLEMS} more)" if len(problems) > MAX_PROBLEMS else ""
        raise InvalidError("the randomization list is refused, nothing was stored: "
                           + "; ".join(problems[:MAX_PROBLEMS]) + more)
    return ParsedList(strata)


class DatabaseListEntries:
    """The active list, read entry by entry inside the randomization's own transaction."""

    def __init__(self, conn: Connection, list_id: int, sha256: str) -> None:
        self.conn = conn
        self._list_id = list_id
        self._sha256 = sha256

    @property
    def list_id(self) -> int:
        return self._list_id

    @property
    def sha256(self) -> str:
        return self._sha256

    def arm_at(self, stratum: str, position: int) -> str | None:
        arm = self.conn.execute(_ENTRY, {"list_id": self._list_id, "stratum": stratum, "position": position}
                                ).scalar_one_or_none()
        return None if arm is None else str(arm)

    def size(self, stratum: str) -> int:
        return int(self.conn.execute(_SIZE, {"list_id": self._list_id, "stratum": stratum}).scalar_one())


@dataclass(frozen=True)
class LoadedListEntries:
    """A whole list in memory, for replay."""

    list_id: int
    sha256: str
    arms: Mapping[tuple[str, int], str]

    def arm_at(self, stratum: str, position: int) -> str | None:
        return self.arms.get((stratum, position))


def load_list(s: Session, list_id: int) -> LoadedListEntries | None:
    """The list with its entries, if it exists (replay checks its digest against the audited one)."""
    row = s.get(RandomizationList, list_id)
    if row is None:
        return None
    entries = s.execute(select(RandomizationListEntry.stratum, RandomizationListEntry.position,
                               RandomizationListEntry.arm).where(RandomizationListEntry.list_id == list_id)).all()
    return LoadedListEntries(row.id, row.entries_sha256, {(e.stratum, e.position): e.arm for e in entries})


def active_list(s: Session, trial_id: str) -> DatabaseListEntries | None:
    """The trial's active list, locked against a concurrent replacement until the caller's transaction ends."""
    query = select(RandomizationList.id, RandomizationList.entries_sha256).where(
        RandomizationList.trial_id == trial_id, RandomizationList.active.is_(True))
    if s.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(read=True)  # FOR SHARE: randomizations run side by side, uploads wait
    row = s.execute(query).one_or_none()
    return None if row is None else DatabaseListEntries(s.connection(), row.id, row.entries_sha256)


def alert_if_running_out(s: Session, trial_id: str, entries: DatabaseListEntries, stratum: str, used: int,
                         alert_at: float, by: int | None) -> None:
    """RND-9: a notification when a stratum reaches ``alert_at`` of its entries, and when it has used them all."""
    size = entries.size(stratum)
    threshold = max(1, math.ceil(alert_at * size))
    name = stratum or "(unstratified)"
    if used == size:
        message = (f"The randomization list is used up for stratum {name} ({used} of {size} entries): the next "
                   "patient of this stratum cannot be randomized until a longer list is uploaded.")
    elif used == threshold:
        message = (f"The randomization list for stratum {name} has {size - used} of {size} entries left "
                   f"({used} used): upload a longer list before it runs out.")
    else:
        return
    s.add(Notification(trial_id=trial_id, kind="randomization-list", message=message, created_by=by,
                       created_at=utcnow()))


class RandomizationListService:
    def __init__(self, db: Database, auth: AuthService) -> None:
        self.db = db
        self.auth = auth

    def upload(self, principal: Principal, trial_id: str, text: str, file_name: str, sha256: str,
               note: str | None, password: str | None, purpose: str = "production") -> dict[str, object]:
        """``purpose``: what the statistician says the list is for, "test" or "production"; it must be what the
        trial is for (RND-8: a test list never allocates production patients, nor the other way round)."""
        principal.require(Action.MANAGE_LISTS, trial_id)
        if purpose not in PURPOSES:
            raise InvalidError(f"purpose must be one of: {', '.join(PURPOSES)}")
        actual = hashlib.sha256(text.encode()).hexdigest()
        if actual != sha256.strip().lower():
            raise InvalidError(f"the list's SHA-256 is {actual}, not the {sha256.strip()} you gave: the file is not "
                               "the one you checked (or it changed on its way); nothing was stored")
        with self.db.read() as s:
            protocol = self._list_protocol(s, trial_id)
            trial_purpose = get_trial(s, trial_id).purpose or "production"
        if purpose != trial_purpose:
            raise ConflictError(f"this is a {purpose} list, and trial {trial_id} is a {trial_purpose} trial: a "
                                f"{trial_purpose} trial takes {trial_purpose} lists only (check that you picked "
                                "the right file and the right trial); nothing was stored")
        parsed = parse_list(protocol, text)
        self.auth.reauthenticate(principal, password)
        why = optional_text(note, "the note") or "randomization list uploaded"
        with self.db.write(principal.audit_context(reason=why)) as s:
            self._list_protocol(s, trial_id)
            self._refuse_crossing(s, purpose, actual, list_digest(parsed.triples()))
            previous = s.scalar(select(RandomizationList).where(RandomizationList.trial_id == trial_id,
                                                                RandomizationList.active.is_(True))
                                .with_for_update())
            if previous is not None:
                self._agrees_with_used(s, trial_id, previous, parsed)
                previous.active = False
            row = RandomizationList(trial_id=trial_id, file_name=file_name[:200] or "list.csv", file_sha256=actual,
                                    entries_sha256=list_digest(parsed.triples()), entries=parsed.entries,
                                    active=True, uploaded_by=principal.user_id, uploaded_at=utcnow(), note=why,
                                    purpose=purpose)
            s.add(row)
            s.flush()
            s.connection().execute(_entries.insert(), [
                {"list_id": row.id, "stratum": stratum, "position": position, "arm": arm}
                for stratum, position, arm in parsed.triples()])
            s.add(Notification(trial_id=trial_id, kind="randomization-list",
                               message=f"Randomization list {row.id} ({row.entries} entries, SHA-256 {actual[:16]}…) "
                               f"uploaded by {principal.username}"
                               + (f", replacing list {previous.id}" if previous is not None else "") + ".",
                               created_by=principal.user_id, created_at=row.uploaded_at))
            return self._view(s, row)

    def lists(self, principal: Principal, trial_id: str) -> list[dict[str, object]]:
        """Every list of the trial with each stratum's entries and how many are used; no entry is shown."""
        principal.require(Action.MANAGE_LISTS, trial_id)
        with self.db.read() as s:
            get_trial(s, trial_id)
            rows = s.scalars(select(RandomizationList).where(RandomizationList.trial_id == trial_id)
                             .order_by(RandomizationList.id)).all()
            return [self._view(s, row) for row in rows]

    def download(self, principal: Principal, trial_id: str, list_id: int, password: str | None) -> str:
        """The list as CSV (stratum, position, arm); re-authenticated and audited (RND-8)."""
        principal.require(Action.MANAGE_LISTS, trial_id)
        self.auth.reauthenticate(principal, password)
        with self.db.write(principal.audit_context(reason="randomization list downloaded")) as s:
            row = s.get(RandomizationList, list_id)
            if row is None or row.trial_id != trial_id:
                raise NotFoundError(f"no randomization list {list_id} in trial {trial_id}")
            entries = s.execute(select(RandomizationListEntry.stratum, RandomizationListEntry.position,
                                       RandomizationListEntry.arm)
                                .where(RandomizationListEntry.list_id == list_id)
                                .order_by(RandomizationListEntry.stratum, RandomizationListEntry.position)).all()
            record_event(s, "randomization-list.downloaded", trial_id=trial_id, table_name="randomization_lists",
                         record_id=str(list_id), details={"entries": len(entries)})
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["stratum", "position", "arm"])
        writer.writerows(entries)
        return out.getvalue()

    @staticmethod
    def _list_protocol(s: Session, trial_id: str) -> Protocol:
        trial = get_trial(s, trial_id)
        protocol = in_force(trial, utcnow().date())
        if protocol.randomization is None or protocol.randomization.method is not RandomizationMethod.LIST:
            method = protocol.randomization.method.value if protocol.randomization else "nothing"
            raise ConflictError(f"trial {trial_id} randomizes by {method}: a list is used only with method 'list'")
        return protocol

    @staticmethod
    def _refuse_crossing(s: Session, purpose: str, file_sha256: str, entries_sha256: str) -> None:
        """A list is used for one purpose only: a test list has been seen by testers, so it cannot conceal
        production allocations; a production list must not reach a test trial's testers (REDCap keeps separate
        development and production allocation tables for the same reason)."""
        other = s.execute(select(RandomizationList.id, RandomizationList.trial_id, RandomizationList.purpose,
                                 RandomizationList.uploaded_at)
                          .where(RandomizationList.purpose != purpose,
                                 (RandomizationList.file_sha256 == file_sha256)
                                 | (RandomizationList.entries_sha256 == entries_sha256))).first()
        if other is None:
            return
        why = ("testers have seen its sequence, so it cannot conceal production allocations: generate a new list"
               if purpose == "production" else "a test trial would show testers the production sequence: "
               "generate a separate test list")
        raise ConflictError(f"these entries were uploaded as a {other.purpose} list (list {other.id} of trial "
                            f"{other.trial_id}, {iso(other.uploaded_at)}): {why}; nothing was stored")

    @staticmethod
    def _agrees_with_used(s: Session, trial_id: str, previous: RandomizationList, parsed: ParsedList) -> None:
        """A replacement keeps every entry already used, so each allocation still names its own entry."""
        used = {row.state_key: int(row.state.get("used", 0)) for row in s.scalars(
            select(AllocationState).where(AllocationState.trial_id == trial_id))}
        old = load_list(s, previous.id)
        assert old is not None
        for stratum, count in sorted(used.items()):
            new_arms = parsed.strata.get(stratum, [])
            for position in range(1, count + 1):
                new = new_arms[position - 1] if position <= len(new_arms) else None
                if new != old.arm_at(stratum, position):
                    raise ConflictError(
                        f"the new list differs from list {previous.id} at entry {position} of stratum "
                        f"{stratum or '(unstratified)'}, which is already used: a replacement must keep the "
                        f"{count} used entries of each stratum as they are (extend the list, do not rewrite it)")

    @staticmethod
    def _view(s: Session, row: RandomizationList) -> dict[str, object]:
        sizes = {stratum: int(size) for stratum, size in s.execute(
            select(RandomizationListEntry.stratum, func.count()).where(RandomizationListEntry.list_id == row.id)
            .group_by(RandomizationListEntry.stratum))}
        used = {st.state_key: int(st.state.get("used", 0)) for st in s.scalars(
            select(AllocationState).where(AllocationState.trial_id == row.trial_id))} if row.active else {}
        who = s.scalar(select(User.username).where(User.id == row.uploaded_by)) if row.uploaded_by else None
        return {"id": row.id, "purpose": row.purpose, "file_name": row.file_name, "file_sha256": row.file_sha256,
                "entries_sha256": row.entries_sha256, "entries": row.entries, "active": row.active,
                "uploaded_by": who, "uploaded_at": iso(row.uploaded_at), "note": row.note,
                "strata": [{"stratum": stratum, "entries": int(size), "used": used.get(stratum, 0)}
                           for stratum, size in sorted(sizes.items())]}


_entries = cast(Table, RandomizationListEntry.__table__)
_ENTRY = select(_entries.c.arm).where(_entries.c.list_id == bindparam("list_id"),
                                      _entries.c.stratum == bindparam("stratum"),
                                      _entries.c.position == bindparam("position"))
_SIZE = select(func.count()).select_from(_entries).where(_entries.c.list_id == bindparam("list_id"),
                                                         _entries.c.stratum == bindparam("stratum"))
