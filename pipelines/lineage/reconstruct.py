"""Rebuild a registered version's train/validation/test splits from its dataset manifest.

Every object the manifest names is read by its recorded version and checked (size, sha256);
the objects are laid out as DataPull's processing inputs were, and DataPull's own `run` builds
the splits with the recorded window argument. Each rebuilt split's content hash must equal the
one recorded at training time. Anything that differs is an error naming it; nothing is written
over a non-empty output folder unless asked.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from pipelines.errors import PipelinesError
from pipelines.lineage.jobs import code_change, job_environment, require_empty
from pipelines.lineage.objects import Objects
from pipelines.naming import CONFIG_FILE

SPLITS = ("train", "validation", "test")
REPORT_FILE = "reconstruction.json"


class ReconstructError(PipelinesError):
    """The version cannot be rebuilt as it was; the message names what differs or is missing."""


@dataclass(frozen=True)
class Reconstruction:
    version: str
    manifest: str
    objects: int
    splits: dict[str, dict[str, Any]]  # name -> rows, sha256, recorded sha256, file_sha256_equal
    from_snapshots: list[str]  # objects gone or changed at their source, read from their lineage snapshot

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def reconstruct(
    label: str, metadata: dict[str, str], objects: Objects, out: Path, force: bool = False
) -> Reconstruction:
    """Rebuild version `label` (its registry metadata) into `out`: the three splits as Parquet, the
    config the run read (model-config.json) and reconstruction.json."""
    manifest_uri = metadata.get("DatasetManifest", "")
    if not manifest_uri:
        raise ReconstructError(f"{label} has no DatasetManifest in its registry entry: it cannot be reconstructed")
    manifest = _manifest(label, manifest_uri, metadata.get("DatasetManifestSha256", "none"), objects)
    _prepare(out, force)
    with tempfile.TemporaryDirectory(prefix="reconstruct-") as temporary:
        stage = Path(temporary)
        fetched = [
            _stage(entry, objects, stage / "processing" / "input" / entry["input"]) for entry in manifest["inputs"]
        ]
        with job_environment(stage):
            from training_containers import data_pull

            report = data_pull.run(manifest["window_end"])
        if not report["passed"]:
            raise ReconstructError(
                f"{label}: DataPull's checks fail on the recorded objects: {report['failure_message']}"
            )
        why = _environment_note(manifest.get("environment"))
        splits = {name: _compare(label, name, stage, manifest["splits"][name], out, why) for name in SPLITS}
        shutil.copyfile(stage / "processing" / "input" / "config" / CONFIG_FILE, out / CONFIG_FILE)
    from_snapshots = [
        e["uri"] for e, kind in zip(manifest["inputs"], fetched, strict=True) if kind == "lineage snapshot"
    ]
    done = Reconstruction(label, manifest_uri, len(manifest["inputs"]), splits, from_snapshots)
    (out / REPORT_FILE).write_text(json.dumps(done.to_json(), indent=2) + "\n", encoding="utf-8")
    return done


def _manifest(label: str, uri: str, recorded_sha256: str, objects: Objects) -> dict[str, Any]:
    """The manifest, checked against the sha256 Evaluate recorded in the registry entry (a version
    registered before that was recorded is read as it is)."""
    try:
        content = objects.read(uri)
    except PipelinesError as error:
        raise ReconstructError(f"{label}: its dataset manifest cannot be read: {error}") from None
    digest = hashlib.sha256(content).hexdigest()
    if recorded_sha256 != "none" and digest != recorded_sha256:
        raise ReconstructError(
            f"{label}: its dataset manifest {uri} has sha256 {digest}; the registry recorded {recorded_sha256}"
        )
    manifest: dict[str, Any] = json.loads(content)
    from training_containers.manifest import SPLIT_HASH

    if manifest.get("format", 1) >= 2 and manifest.get("split_hash") != SPLIT_HASH:
        raise ReconstructError(
            f"{label}: its manifest hashes splits as {manifest.get('split_hash', 'an earlier version did')}; this "
            f"version of reconstruct hashes them as {SPLIT_HASH}: use the release that trained it"
        )
    if manifest.get("format", 1) < 2 or "splits" not in manifest:
        raise ReconstructError(
            f"{label}: its manifest ({uri}) was written before manifests recorded the splits and the config "
            "(manifest format 1): the objects it names can be checked, but the splits cannot be proven equal"
        )
    return manifest


def _prepare(out: Path, force: bool) -> None:
    require_empty(out, force, ReconstructError)
    out.mkdir(parents=True, exist_ok=True)
    for name in (*(f"{split}.parquet" for split in SPLITS), REPORT_FILE, CONFIG_FILE):
        (out / name).unlink(missing_ok=True)


def _stage(entry: dict[str, Any], objects: Objects, folder: Path) -> str:
    """Fetch one recorded object, check it is the one read, and put it where DataPull found it:
    the object by its recorded version, else its lineage snapshot (the copy DataPull kept by
    content). Returns which of the two it was."""
    uri, version = entry["uri"], entry.get("version_id")
    named = f"{entry['input']} object {uri}" + (f" (version {version})" if version else "")
    sources = []
    if str(uri).startswith("s3://") or not entry.get("dataset_definition"):
        sources.append(("recorded object", uri, version))
    if entry.get("snapshot"):
        sources.append(("lineage snapshot", entry["snapshot"], None))
    problems = []
    for kind, where, which in sources:
        try:
            content = objects.read(where, which)
        except PipelinesError as error:
            problems.append(f"cannot be read: {error}")
            continue
        problem = _difference(content, entry)
        if problem:
            problems.append(problem)
            continue
        target = folder / entry["path"]
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)
        return kind
    if not sources:
        problems.append(
            "is an Athena or Redshift result read from the job's disk, and no lineage snapshot of it was kept"
        )
    elif len(problems) == 2:
        problems[1] = f"its lineage snapshot {entry['snapshot']} {problems[1]}"
    raise ReconstructError(f"{named} {'; '.join(problems)}")


def _environment_note(recorded: dict[str, Any] | None) -> str:
    """What differs from the environment DataPull ran in, for an error about different splits."""
    from training_containers.environment import differences, environment

    if recorded is None:
        return ""
    found = differences(recorded, environment())
    changed = code_change(recorded.get("code_version", "unknown"))
    if changed:
        found.append(f"the job code {changed}")
    return f"; DataPull then and now differ in: {'; '.join(found)}" if found else ""


def _difference(content: bytes, entry: dict[str, Any]) -> str | None:
    if len(content) != entry["size"]:
        return f"has {len(content)} bytes; {entry['size']} were read at training time"
    digest = hashlib.sha256(content).hexdigest()
    if digest != entry["sha256"]:
        return f"has sha256 {digest}; {entry['sha256']} was read at training time"
    return None


def _compare(label: str, name: str, stage: Path, recorded: dict[str, Any], out: Path, why: str) -> dict[str, Any]:
    from training_containers.manifest import describe_split

    built = stage / "processing" / "output" / name / f"{name}.parquet"
    rebuilt = describe_split(built)
    if rebuilt["sha256"] != recorded["sha256"] or rebuilt["rows"] != recorded["rows"]:
        raise ReconstructError(
            f"{label}: the rebuilt {name} split ({rebuilt['rows']} rows, sha256 {rebuilt['sha256']}) differs from the "
            f"one trained on ({recorded['rows']} rows, sha256 {recorded['sha256']}){why}"
        )
    shutil.copyfile(built, out / f"{name}.parquet")
    return {
        "rows": rebuilt["rows"],
        "sha256": rebuilt["sha256"],
        "recorded_sha256": recorded["sha256"],
        # The Parquet bytes also depend on the writer's version; the content hash does not.
        "file_sha256_equal": rebuilt["file_sha256"] == recorded["file_sha256"],
    }
