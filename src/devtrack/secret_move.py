"""``move-secrets``: every stored secret to the keychain or back to the file, safe if killed.

The rule: a secret is never in neither place. So a copy is always made and checked before
the original goes:

To the keychain
    1. the file's id and the move's target are written (atomically) first, so a re-run after a
       crash names the same keychain entries;
    2. each secret is written to the keychain and read back;
    3. one atomic rewrite of the file replaces each copied secret (if unchanged meanwhile) by
       its ``keyring:`` reference and records the preference.

To the file
    1. each secret is read from the keychain;
    2. one atomic rewrite puts the values in the file and lists DevTrack's own entries in
       ``secrets.pending_delete``;
    3. those entries are deleted from the keychain, then the list is cleared.

Killed at any point, each secret is in the file, or in the keychain with the file pointing to
it, or both; a re-run finishes the job (step 3 of a move to the file resumes from the list,
and never deletes an entry the file still points to). ``DEVTRACK_TEST_MOVE_PAUSE`` (seconds)
makes the mover pause between steps, for the tests that kill it midway.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

from . import keychain, redact, secretrefs, secretstore
from .credentials import CredentialStore, Doc
from .secretstore import Locator

PAUSE_ENV = "DEVTRACK_TEST_MOVE_PAUSE"


class MoveFailed(Exception):
    """Nothing can be moved (no keychain answers); the message says so and what to do."""


@dataclass
class MoveReport:
    to: str
    moved: list[str] = field(default_factory=list)  # labels of the secrets moved
    already: list[str] = field(default_factory=list)  # already where asked
    references: list[str] = field(default_factory=list)  # env:/file:/op:// references: not stored secrets
    kept: list[str] = field(default_factory=list)  # left where they are, with why
    removed: list[str] = field(default_factory=list)  # keychain entries deleted


def _pause() -> None:
    raw = os.environ.get(PAUSE_ENV)
    if raw:
        try:
            time.sleep(float(raw))
        except ValueError:
            pass


def move(store: CredentialStore, to: str, locators: Iterable[Locator] = ()) -> MoveReport:
    """Move every secret of ``store`` to ``to`` (``keyring`` or ``file``); see the module."""
    if to not in secretstore.STORES:
        raise ValueError(f"--to must be keyring or file, not {to!r}")
    locators = list(locators)
    problem = keychain.probe()
    if problem is not None and to == "keyring":
        raise MoveFailed(f"{problem}; nothing was moved (your secrets stay in {store.path})")
    report = MoveReport(to)
    if to == "keyring":
        _to_keyring(store, locators, report)
    else:
        _to_file(store, locators, report, problem)
    return report


def _to_keyring(store: CredentialStore, locators: list[Locator], report: MoveReport) -> None:
    def prepare(doc: Doc) -> Doc:
        secretstore.file_id(doc)
        secretstore.section(doc)["moving"] = "keyring"
        return doc

    doc = store.update(prepare)
    _pause()
    copied: dict[tuple[str, ...], tuple[str, str]] = {}  # path -> (stored text, account)
    for loc in secretstore.locations(doc, locators):
        stored = secretstore.get(doc, loc.path)
        ref = secretrefs.parse(stored)
        if ref is not None:
            (report.already if ref.kind == "keyring" else report.references).append(
                f"{loc.label} ({ref.text})")
            continue
        acct = secretstore.account(doc, loc)
        try:
            keychain.put(acct, secretrefs.literal(stored))
        except keychain.KeychainUnavailable as exc:
            report.kept.append(f"{loc.label}: {redact.safe_str(exc)}")
            continue
        copied[loc.path] = (stored, acct)
        _pause()

    def commit(doc: Doc) -> None:
        for loc in secretstore.locations(doc, locators):
            if loc.path not in copied:
                continue
            stored, acct = copied[loc.path]
            if secretstore.get(doc, loc.path) == stored:  # not changed by someone meanwhile
                secretstore.put(doc, loc.path, "keyring:" + acct)
                report.moved.append(loc.label)
            else:
                report.kept.append(f"{loc.label}: changed while moving; run move-secrets again")
        secretstore.set_preference(doc, "keyring")
        sec = secretstore.section(doc)
        sec.pop("moving", None)
        # An interrupted move to the file listed entries to delete that now hold secrets again.
        used = secretstore.referenced_accounts(doc, locators)
        left = [p for p in sec.get("pending_delete", []) if p not in used]
        if left:
            sec["pending_delete"] = left
        else:
            sec.pop("pending_delete", None)

    store.update(commit)
    _pause()


def _to_file(store: CredentialStore, locators: list[Locator], report: MoveReport, problem: str | None) -> None:
    doc = store.read()
    values: dict[tuple[str, ...], tuple[str, str]] = {}  # path -> (reference text, value)
    for loc in secretstore.locations(doc, locators):
        stored = secretstore.get(doc, loc.path)
        ref = secretrefs.parse(stored)
        if ref is None:
            report.already.append(loc.label)
            continue
        if ref.kind != "keyring":
            report.references.append(f"{loc.label} ({ref.text})")
            continue
        if problem is not None:
            report.kept.append(f"{loc.label} ({ref.text}): {problem}")
            continue
        try:
            value = keychain.get(ref.target)
        except keychain.KeychainUnavailable as exc:
            report.kept.append(f"{loc.label} ({ref.text}): {redact.safe_str(exc)}")
            continue
        if not value:
            report.kept.append(f"{loc.label} ({ref.text}): the keychain has no such entry; enter it again "
                               "with devtrack integrations set")
            continue
        redact.register([value])
        values[loc.path] = (stored, value)
    _pause()

    def commit(doc: Doc) -> list[str]:
        sec = secretstore.section(doc)
        pending = [p for p in sec.get("pending_delete", []) if isinstance(p, str)]
        for loc in secretstore.locations(doc, locators):
            if loc.path not in values:
                continue
            stored, value = values[loc.path]
            if secretstore.get(doc, loc.path) != stored:
                report.kept.append(f"{loc.label}: changed while moving; run move-secrets again")
                continue
            secretstore.put(doc, loc.path, secretrefs.stored_form(value))
            report.moved.append(loc.label)
            acct = stored[len("keyring:"):]
            if secretstore.is_own(doc, acct) and acct not in pending:
                pending.append(acct)
        sec["pending_delete"] = pending
        if not report.kept:
            secretstore.set_preference(doc, "file")
        return list(pending)

    pending = store.update(commit)
    _pause()
    if problem is None:
        _finish_deletes(store, locators, pending, report)


def _finish_deletes(store: CredentialStore, locators: list[Locator], pending: list[str],
                    report: MoveReport) -> None:
    """Delete the keychain entries a move to the file left listed (a crashed run's too)."""
    doc = store.read()
    still = secretstore.referenced_accounts(doc, locators)
    done: list[str] = []
    for acct in pending:
        if acct in still:  # the file points to it again: it is the only copy
            done.append(acct)
            continue
        try:
            keychain.delete(acct)
        except keychain.KeychainUnavailable as exc:
            report.kept.append(f"keychain entry {acct}: not removed ({redact.safe_str(exc)}); run move-secrets again")
            continue
        done.append(acct)
        report.removed.append(acct)
        _pause()

    def clear(doc: Doc) -> None:
        sec = secretstore.section(doc)
        left = [p for p in sec.get("pending_delete", []) if p not in done]
        if left:
            sec["pending_delete"] = left
        else:
            sec.pop("pending_delete", None)

    if done:
        store.update(clear)

