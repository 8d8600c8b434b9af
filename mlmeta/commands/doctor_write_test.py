"""``mlmeta doctor --write-test``: does the user's own OpenMetadata behave as mlmeta's record says?

``mlmeta.catalog.releases`` says what each release does differently, from each release's published
schemas and sources; this module asks the server itself. It creates a scratch ML model service
(``mlmeta_selftest_<random>``, of type ``CustomMlModel``, its description carrying a marker),
writes a few ML models inside it, one per probe, and watches what the server answers and stores:

- ``domains``: which of ``fields=domains`` and ``fields=domain`` a read of an ML model accepts;
- ``if_match``: whether a PATCH with a stale ``If-Match`` is refused (412), and whether reads
  carry an ETag;
- ``content_etags``: whether two reads of one version with different ``fields=`` carry
  different ETags (a hash of the entity as read) or the same one (a hash of its version);
- ``if_match_drops_entity_fields``: whether a PATCH of ``target`` alone, with a current
  ``If-Match``, is stored (issue 28876);
- ``table_cp``: whether the ``table-cp`` property type exists (a read);
- ``edge_audit``: whether an edge drawn between two of the scratch models carries
  createdAt/createdBy/updatedAt/updatedBy;
- ``source_hash_bumps_version``: whether a PATCH of ``sourceHash`` alone moves the version;
- ``strict_names``: whether a model named with ``>`` is refused.

Every write stays inside the scratch service: the lineage probe draws its edge between two of
its own models, so no existing entity is read for writing, changed or linked. The service is hard
deleted with everything in it (``recursive=true``) when the run ends, however it ends: SIGINT and
SIGTERM only set a flag that the run checks before each request, and the removal sits in a
``finally``. A run killed outright (SIGKILL, a lost machine) leaves its service behind; the next
run removes every such leftover: a service whose name has the prefix, whose type is
``CustomMlModel`` and whose description carries the marker of a run that is over - one started
on this host by a process that no longer exists, or started more than ``STALE_AFTER_MS`` ago.

The result compares what was seen with what the record expects for the version the server
reports; any difference is exit 1. The JSON form names no host, user or token, so it can be
attached to an issue as it is.
"""

from __future__ import annotations

import os
import re
import secrets
import signal
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from types import FrameType
from typing import Any
from urllib.parse import quote

from mlmeta.errors import ConfigError, MlmetaError, ServerError
from mlmeta.http import Answer, HttpFailure
from mlmeta.catalog.releases import BY_KEY, Capabilities

PREFIX = "mlmeta_selftest_"
MARKER = "mlmeta-selftest"
SERVICE_TYPE = "CustomMlModel"  # no connection to configure, nothing for an ingestion to pick up
STALE_AFTER_MS = 60 * 60 * 1000  # a run takes seconds: one started an hour ago anywhere is over
PAGE = 100
SERVICES = "/v1/services/mlmodelServices"
_ACTIVE: set[str] = set()  # the scratch services of runs going on in this process
_MARK = re.compile(rf"{MARKER} host=(\S+) pid=(\d+) started=(\d+)")
PERMISSIONS = ("Create and Delete on mlmodelService; Create, EditAll and Delete on mlmodel (EditAll includes "
               "EditLineage); ViewAll on type")
AUDIT_FIELDS = ("createdAt", "createdBy", "updatedAt", "updatedBy")
STRICT_NAME = "mlmeta>probe"  # '>' is refused by 2.0's entityName pattern only


class Interrupted(Exception):
    """SIGINT or SIGTERM arrived: stop probing, clean up, report."""


class Unexpected(Exception):
    """An answer neither the record's behaviour nor the other one explains."""


# --- signals: a flag, nothing else ----------------------------------------------------------------


class Interrupts:
    """While the self-test runs, SIGINT and SIGTERM only note which signal came (no lock, no I/O in
    the handler); the run checks the note before each request. Outside the main thread nothing can
    be installed, and nothing is."""

    def __init__(self) -> None:
        self.received: int | None = None
        self._previous: dict[int, Any] = {}

    def _note(self, signum: int, frame: FrameType | None) -> None:
        if self.received is None:
            self.received = signum

    def __enter__(self) -> Interrupts:
        for number in (signal.SIGINT, signal.SIGTERM):
            try:
                self._previous[number] = signal.signal(number, self._note)
            except ValueError:  # not the main thread
                pass
        return self

    def __exit__(self, *exc: object) -> None:
        for number, handler in self._previous.items():
            signal.signal(number, handler)


# --- what was seen, and what it means ---------------------------------------------------------------


@dataclass(frozen=True)
class Seen:
    on: bool | None  # None: the server did something neither behaviour explains
    evidence: str


@dataclass(frozen=True)
class Outcome:
    key: str
    expected: bool
    seen: Seen

    @property
    def matched(self) -> bool:
        return self.seen.on is self.expected

    def as_dict(self) -> dict[str, Any]:
        rule = BY_KEY[self.key]
        return {"key": self.key, "releases": rule.releases, "behaviour": rule.behaviour, "expected": self.expected,
                "seen": self.seen.on, "result": "matched" if self.matched else "differed",
                "evidence": self.seen.evidence}


@dataclass
class Report:
    release: Capabilities
    service: str
    leftovers: list[str] = field(default_factory=list)
    outcomes: list[Outcome] = field(default_factory=list)
    interrupted: int | None = None  # the signal that stopped the run
    removed: bool = False
    cleanup_problem: str | None = None

    @property
    def differences(self) -> list[Outcome]:
        return [o for o in self.outcomes if not o.matched]

    @property
    def exit_code(self) -> int:
        if self.interrupted is not None:
            return 128 + self.interrupted  # as a shell reports a process ended by that signal
        if self.cleanup_problem:
            return 2
        return 1 if self.differences else 0

    def as_dict(self) -> dict[str, Any]:
        from mlmeta import __version__
        return {"command": "doctor --write-test", "mlmeta": __version__,
                "openmetadata": {"version": self.release.version.text, "behaves_as": self.release.assumed.text,
                                 "newer_than_known": self.release.newer_than_known},
                "scratch_service": self.service, "removed": self.removed, "cleanup_problem": self.cleanup_problem,
                "leftovers_removed": self.leftovers,
                "interrupted": signal.Signals(self.interrupted).name if self.interrupted else None,
                "behaviours": [o.as_dict() for o in self.outcomes],
                "summary": {"probed": len(self.outcomes), "matched": len(self.outcomes) - len(self.differences),
                            "differed": len(self.differences)}}

    def lines(self) -> list[str]:
        """The report for people."""
        release = self.release
        shown = [f"OpenMetadata {release.version}" + (f" (behaves as {release.assumed})"
                                                     if release.newer_than_known else "")
                 + f": write self-test in the scratch service {self.service}"]
        shown += [f"removed a scratch service an earlier run left behind: {name}" for name in self.leftovers]
        for outcome in self.outcomes:
            mark = "matched " if outcome.matched else "DIFFERED"
            seen = {True: "on", False: "off", None: "neither"}[outcome.seen.on]
            shown.append(f"{mark} {outcome.key}: the record says {'on' if outcome.expected else 'off'} for "
                         f"{BY_KEY[outcome.key].releases}, seen {seen} - {outcome.seen.evidence}")
        shown.append(self._ending())
        return shown

    def _ending(self) -> str:
        cleanup = (f"scratch service {self.service} removed" if self.removed else
                   f"scratch service {self.service} NOT removed: {self.cleanup_problem}")
        if self.interrupted is not None:
            return f"self-test: interrupted by {signal.Signals(self.interrupted).name}; {cleanup}"
        if self.differences:
            return (f"self-test: {len(self.differences)} of {len(self.outcomes)} behaviours differ from mlmeta's "
                    f"record for OpenMetadata {self.release.version} ({cleanup}); please attach the output of "
                    "--format json to an issue")
        return f"self-test: all {len(self.outcomes)} behaviours match mlmeta's record ({cleanup})"


# --- the scratch service and the requests made in it -----------------------------------------------


def scratch_name() -> str:
    return PREFIX + secrets.token_hex(4)


def marker(now_ms: int) -> str:
    return f"{MARKER} host={socket.gethostname()} pid={os.getpid()} started={now_ms}"


def _now_ms() -> int:
    return int(time.time() * 1000)


class Lab:
    """Requests to the server, each preceded by a look at the interrupt flag (except the clean-up's),
    and the models a probe makes in the scratch service."""

    def __init__(self, catalog: Any, service: str, interrupts: Interrupts) -> None:
        self.catalog = catalog
        self.service = service
        self.interrupts = interrupts
        self.cleaning = False
        self.create_sent = False

    def send(self, method: str, path: str, **kwargs: Any) -> Answer:
        if not self.cleaning and self.interrupts.received is not None:
            raise Interrupted()
        try:
            answer = self.catalog.http.request(method, path, **kwargs)
        except HttpFailure as failure:
            raise ServerError(f"OpenMetadata kept failing during the self-test: {failure}") from None
        if answer.status in (401, 403):
            raise ConfigError("OPENMETADATA_JWT_TOKEN", f"{method} {path.split('?')[0]}: HTTP {answer.status} "
                                                        f"({answer.message()})",
                              hint=f"the write self-test needs {PERMISSIONS}")
        return answer

    def expect(self, method: str, path: str, **kwargs: Any) -> Any:
        """A step a probe needs to succeed: its JSON, else Unexpected naming the answer."""
        answer = self.send(method, path, **kwargs)
        if not answer.ok:
            raise Unexpected(f"{method} {path.split('?')[0]} answered {describe(answer)}")
        return answer.json()

    # --- the scratch service ---------------------------------------------------------------------

    def create_service(self) -> None:
        self.create_sent = True
        description = ("Scratch service of `mlmeta doctor --write-test`: it writes ML models here to see how this "
                       "server behaves, and deletes the whole service when it ends; a run that was killed leaves "
                       "it behind, and the next run deletes it. Safe to delete. " + marker(_now_ms()))
        answer = self.send("PUT", SERVICES, json_body={"name": self.service, "serviceType": SERVICE_TYPE,
                                                      "description": description})
        if not answer.ok:
            raise ServerError(f"OpenMetadata refused to create the scratch ML model service {self.service}: "
                              f"{describe(answer)}", hint=f"the write self-test needs {PERMISSIONS}")

    def remove_service(self, name: str) -> None:
        """Hard delete the service and everything in it (nothing to do when there is no such service)."""
        found = self.send("GET", f"{SERVICES}/name/{quote(name, safe='')}?include=all")
        if found.status == 404:
            return
        service_id = (found.json() or {}).get("id") if found.ok else None
        if not service_id:
            raise ServerError(f"reading the ML model service {name} answered {describe(found)}")
        gone = self.send("DELETE", f"{SERVICES}/{service_id}?hardDelete=true&recursive=true")
        if not gone.ok and gone.status != 404:
            raise ServerError(f"deleting the ML model service {name} answered {describe(gone)}")

    def services(self) -> list[dict[str, Any]]:
        """Every ML model service, page by page."""
        found, after = [], None
        while True:
            params = {"limit": str(PAGE), **({"after": after} if after else {})}
            answer = self.send("GET", SERVICES, params=params)
            if not answer.ok:
                raise ServerError(f"listing the ML model services answered {describe(answer)}")
            page = answer.json() or {}
            found += page.get("data") or []
            after = (page.get("paging") or {}).get("after")
            if not after:
                return found

    # --- models in it ------------------------------------------------------------------------------

    def model(self, name: str, **fields: Any) -> dict[str, Any]:
        return self.expect("PUT", "/v1/mlmodels", json_body=self.model_request(name, **fields))

    def model_request(self, name: str, **fields: Any) -> dict[str, Any]:
        return {"name": name, "service": self.service, "algorithm": "mlmeta-selftest",
                "description": "A probe of mlmeta's write self-test.", **fields}

    def read(self, model: dict[str, Any], fields: str = "") -> Answer:
        return self.send("GET", f"/v1/mlmodels/{model['id']}" + (f"?fields={fields}" if fields else ""))

    def patch(self, model: dict[str, Any], path: str, value: Any, if_match: str | None = None) -> Answer:
        headers = {"Content-Type": "application/json-patch+json", **({"If-Match": if_match} if if_match else {})}
        return self.send("PATCH", f"/v1/mlmodels/{model['id']}", headers=headers,
                         json_body=[{"op": "add", "path": path, "value": value}])


def describe(answer: Answer) -> str:
    return f"HTTP {answer.status} ({answer.message()})" if not answer.ok else f"HTTP {answer.status}"


def etag(answer: Answer) -> str | None:
    """The answer's ETag, without the mark Jetty adds to a compressed answer's."""
    value = answer.headers.get("ETag")
    return value.replace('--gzip"', '"') if value else None


def weak(model: dict[str, Any]) -> str:
    return f'W/"{model["version"]}"'


# --- the probes: one per behaviour of the record -----------------------------------------------------


def probe_domains(lab: Lab) -> Seen:
    model = lab.model("domain_field")
    listed, single = lab.read(model, "domains"), lab.read(model, "domain")
    if listed.ok and single.status == 400:
        return Seen(True, f"reads take fields=domains; fields=domain is refused ({describe(single)})")
    if single.ok and listed.status == 400:
        return Seen(False, f"reads take fields=domain; fields=domains is refused ({describe(listed)})")
    return Seen(None, f"fields=domains answered {describe(listed)}, fields=domain {describe(single)}")


def probe_if_match(lab: Lab) -> Seen:
    model = lab.model("if_match")
    tag = etag(lab.read(model))
    stale = lab.patch(model, "/description", "Changed by a PATCH with a stale If-Match.", 'W/"999.9"')
    carries = f"reads carry the ETag {tag}" if tag else "reads carry no ETag"
    if stale.status == 412:
        return Seen(True if tag else None, f"a PATCH with a stale If-Match was refused (412); {carries}")
    if stale.ok:
        return Seen(None if tag else False, f"a PATCH with a stale If-Match was applied ({describe(stale)}); {carries}")
    raise Unexpected(f"a PATCH with a stale If-Match answered {describe(stale)}")


def probe_content_etags(lab: Lab) -> Seen:
    model = lab.model("etag_kind", sourceHash="mlmeta-selftest-1")
    first, again, wider = etag(lab.read(model)), etag(lab.read(model)), etag(lab.read(model, "sourceHash"))
    if first is None:
        return Seen(False, "reads carry no ETag, so none hashes the entity")
    if first != again:
        return Seen(None, f"two identical reads of one version carried different ETags ({first}, {again})")
    if first != wider:
        return Seen(True, f"reads of one version with and without fields=sourceHash carried different ETags "
                          f"({first}, {wider}): they hash the entity as read")
    return Seen(False, f"reads of one version with and without fields=sourceHash carried the same ETag ({first}): "
                       "it follows the version, not what was read")


def probe_entity_updater(lab: Lab) -> Seen:
    model = lab.model("entity_updater", target="before")
    answer = lab.patch(model, "/target", "after", weak(model))
    if not answer.ok:
        raise Unexpected(f"a PATCH of target with If-Match {weak(model)} (the model's own version) answered "
                         f"{describe(answer)}")
    held = (lab.expect("GET", f"/v1/mlmodels/{model['id']}") or {}).get("target")
    change = answer.headers.get("X-OpenMetadata-Change", "no change header")
    if held == "after":
        return Seen(False, f"a PATCH of target alone with If-Match {weak(model)} was stored ({change})")
    if held == "before":
        return Seen(True, f"a PATCH of target alone with If-Match {weak(model)} was answered {answer.status} "
                          f"({change}) and not stored")
    return Seen(None, f"after a PATCH of target to 'after', the server holds {held!r}")


def probe_table_cp(lab: Lab) -> Seen:
    answer = lab.send("GET", "/v1/metadata/types/name/table-cp")
    if answer.ok:
        return Seen(True, "the property type table-cp exists")
    if answer.status == 404:
        return Seen(False, "there is no property type table-cp (404)")
    raise Unexpected(f"reading the property type table-cp answered {describe(answer)}")


def probe_edge_audit(lab: Lab) -> Seen:
    upstream, downstream = lab.model("lineage_from"), lab.model("lineage_to")
    edge = {"fromEntity": {"id": upstream["id"], "type": "mlmodel"},
            "toEntity": {"id": downstream["id"], "type": "mlmodel"},
            "lineageDetails": {"description": "Drawn by mlmeta's write self-test."}}
    lab.expect("PUT", "/v1/lineage", json_body={"edge": edge})
    graph = lab.expect("GET", f"/v1/lineage/mlmodel/{downstream['id']}?upstreamDepth=1&downstreamDepth=0") or {}
    drawn = [e for e in graph.get("upstreamEdges") or [] if e.get("fromEntity") == upstream["id"]]
    if not drawn:
        return Seen(None, "the edge drawn between two scratch models is not in the lineage read back")
    details = drawn[0].get("lineageDetails") or {}
    present = [name for name in AUDIT_FIELDS if details.get(name) is not None]
    if len(present) == len(AUDIT_FIELDS):
        return Seen(True, f"the edge's details carry {', '.join(AUDIT_FIELDS)}")
    if not present:
        return Seen(False, "the edge's details carry none of " + ", ".join(AUDIT_FIELDS))
    return Seen(None, f"the edge's details carry only {', '.join(present)}")


def probe_source_hash(lab: Lab) -> Seen:
    # a model of its own, at its first version: a PATCH by the same user then starts a new version
    # instead of folding into the last one (consolidation needs an earlier version)
    model = lab.model("source_hash", sourceHash="mlmeta-selftest-1")
    lab.expect("PATCH", f"/v1/mlmodels/{model['id']}", headers={"Content-Type": "application/json-patch+json"},
               json_body=[{"op": "add", "path": "/sourceHash", "value": "mlmeta-selftest-2"}])
    held = lab.expect("GET", f"/v1/mlmodels/{model['id']}?fields=sourceHash") or {}
    before, after = model.get("version"), held.get("version")
    if held.get("sourceHash") != "mlmeta-selftest-2":
        return Seen(None, f"a PATCH of sourceHash alone was not stored (the server holds {held.get('sourceHash')!r})")
    if after == before:
        return Seen(False, f"a PATCH of sourceHash alone was stored at the same version ({before})")
    if isinstance(before, (int, float)) and isinstance(after, (int, float)) and round(after - before, 1) == 0.1:
        return Seen(True, f"a PATCH of sourceHash alone moved the version from {before} to {after}")
    return Seen(None, f"a PATCH of sourceHash alone moved the version from {before} to {after}")


def probe_strict_names(lab: Lab) -> Seen:
    answer = lab.send("PUT", "/v1/mlmodels", json_body=lab.model_request(STRICT_NAME))
    if answer.status == 400:
        return Seen(True, f"a model named {STRICT_NAME!r} was refused ({answer.message()})")
    if answer.ok:
        return Seen(False, f"a model named {STRICT_NAME!r} was created (in the scratch service)")
    raise Unexpected(f"creating a model named {STRICT_NAME!r} answered {describe(answer)}")


PROBES: dict[str, Callable[[Lab], Seen]] = {
    "domains": probe_domains,
    "if_match": probe_if_match,
    "if_match_drops_entity_fields": probe_entity_updater,
    "content_etags": probe_content_etags,
    "table_cp": probe_table_cp,
    "edge_audit": probe_edge_audit,
    "source_hash_bumps_version": probe_source_hash,
    "strict_names": probe_strict_names,
}


def _observe(probe: Callable[[Lab], Seen], lab: Lab) -> Seen:
    """A probe's observation; a step it needed that failed is an observation too (neither behaviour)."""
    try:
        return probe(lab)
    except Unexpected as error:
        return Seen(None, str(error))


# --- leftovers of runs that were killed ---------------------------------------------------------------


def is_leftover(service: dict[str, Any], *, now_ms: int, host: str) -> bool:
    """A scratch service of a run that is over: the prefix, the type and the marker, and either it was
    made more than STALE_AFTER_MS ago, or on this host by a process that is gone - or by this very
    process, in a run that has ended (its clean-up failed)."""
    name = str(service.get("name", ""))
    if not name.startswith(PREFIX) or service.get("serviceType") != SERVICE_TYPE:
        return False
    mark = _MARK.search(service.get("description") or "")
    if mark is None:
        return False
    made_on, pid, started = mark.group(1), int(mark.group(2)), int(mark.group(3))
    if now_ms - started > STALE_AFTER_MS:
        return True
    if made_on != host:
        return False  # another machine's run may still be going
    if pid == os.getpid():
        return name not in _ACTIVE
    return not _running(pid)


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, as another user's
        return True
    return True


def remove_leftovers(lab: Lab) -> list[str]:
    host, now = socket.gethostname(), _now_ms()
    removed = []
    for service in lab.services():
        if is_leftover(service, now_ms=now, host=host):
            lab.remove_service(service["name"])
            removed.append(service["name"])
    return removed


# --- the run ------------------------------------------------------------------------------------------


def run(settings: Any, *, say: Callable[[str], None] = lambda line: None) -> Report:
    """Probe every behaviour of the record in a scratch service, which is removed however the run ends."""
    from mlmeta.catalog.openmetadata import OpenMetadataCatalog

    catalog = OpenMetadataCatalog(settings)
    with Interrupts() as interrupts:
        lab = Lab(catalog, scratch_name(), interrupts)
        report = Report(catalog.release, lab.service)
        _ACTIVE.add(lab.service)
        try:
            report.leftovers = remove_leftovers(lab)
            say(f"creating the scratch ML model service {lab.service} (removed at the end)")
            lab.create_service()
            for key, probe in PROBES.items():
                report.outcomes.append(Outcome(key, catalog.release.has(key), _observe(probe, lab)))
        except Interrupted:
            pass
        finally:
            report.interrupted = interrupts.received
            _clean_up(lab, report, say)
            _ACTIVE.discard(lab.service)
    return report


def _clean_up(lab: Lab, report: Report, say: Callable[[str], None]) -> None:
    """Remove the scratch service. A failure is reported with what to do, and said at once: an error
    on its way out (a refused token, a server gone) would otherwise hide it."""
    if not lab.create_sent:
        report.removed = True
        return
    lab.cleaning = True
    try:
        lab.remove_service(lab.service)
        report.removed = True
    except MlmetaError as error:
        report.cleanup_problem = (f"{error}; the next `mlmeta doctor --write-test` removes it, or delete the ML "
                                  f"model service {lab.service} in OpenMetadata")
        say(f"the scratch ML model service {lab.service} was NOT removed: {report.cleanup_problem}")
