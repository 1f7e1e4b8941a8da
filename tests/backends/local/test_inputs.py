"""Channels, model_uri, output_path (local and s3:// on moto) and bad input."""

from __future__ import annotations

import io
import json
import os
import socket
import tarfile
from pathlib import Path
from typing import Any

import boto3
import pytest

from sagescale.backends import JobStatus
from sagescale.backends.local import LocalBackend
from sagescale.errors import SpecError
from sagescale.specs import TrainingJob

LIST_INPUTS = """\
import os
for name in sorted(os.listdir(os.environ["SM_CHANNEL_TRAIN"])):
    path = os.path.join(os.environ["SM_CHANNEL_TRAIN"], name)
    if os.path.isfile(path):
        print("file", name, open(path).read().strip(), flush=True)
model = os.environ.get("SM_CHANNEL_MODEL")
if model:
    for root, _, files in os.walk(model):
        for f in files:
            print("model", os.path.relpath(os.path.join(root, f), model), flush=True)
open(os.path.join(os.environ["SM_MODEL_DIR"], "w.bin"), "w").write("w")
open(os.path.join(os.environ["SM_OUTPUT_DATA_DIR"], "report.txt"), "w").write("r")
"""


@pytest.fixture
def src(tmp_path: Path) -> Path:
    root = tmp_path / "src"
    root.mkdir()
    (root / "train.py").write_text(LIST_INPUTS)
    return root


def _job(src: Path, **options: Any) -> TrainingJob:
    return TrainingJob(entry_point="train.py", source_dir=str(src), **options)


def _nothing_left(backend: LocalBackend) -> None:
    assert list(backend.workspace.jobs_dir.iterdir()) == []
    assert backend.list_jobs() == []


# -- bad input: rejected before anything runs ------
def test_missing_entry_point(backend: LocalBackend, src: Path) -> None:
    with pytest.raises(SpecError, match="entry_point") as info:
        backend.submit(TrainingJob(entry_point="nope.py", source_dir=str(src)))
    assert info.value.field == "entry_point"
    _nothing_left(backend)


def test_missing_channel_path(backend: LocalBackend, src: Path, tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="no such file") as info:
        backend.submit(_job(src, inputs={"train": str(tmp_path / "missing")}))
    assert info.value.field == "inputs.train"
    _nothing_left(backend)


def test_source_dir_that_is_not_a_directory(backend: LocalBackend, src: Path) -> None:
    with pytest.raises(SpecError, match="readable directory"):
        backend.submit(TrainingJob(entry_point="train.py", source_dir=str(src / "train.py")))
    _nothing_left(backend)


def test_source_dir_with_a_fifo_leaves_nothing_behind(backend: LocalBackend, src: Path) -> None:
    os.mkfifo(src / "pipe")
    with pytest.raises(SpecError, match="not a regular file") as info:
        backend.submit(_job(src))
    assert info.value.field == "source_dir"
    _nothing_left(backend)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads every directory")
def test_unreadable_source_dir(backend: LocalBackend, src: Path) -> None:  # pragma: no cover
    src.chmod(0)
    try:
        with pytest.raises(SpecError, match="source_dir"):
            backend.submit(_job(src))
    finally:
        src.chmod(0o755)
    _nothing_left(backend)


def test_unreadable_source_dir_even_as_root(
    backend: LocalBackend, src: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Root reads every directory, so the access check is answered as for another user."""
    real = os.access
    monkeypatch.setattr(os, "access", lambda path, mode: Path(path) != src and real(path, mode))
    with pytest.raises(SpecError, match="readable directory") as info:
        backend.submit(_job(src))
    assert info.value.field == "source_dir"
    _nothing_left(backend)


def test_model_uri_and_output_path_are_checked_at_submit(
    backend: LocalBackend, src: Path, tmp_path: Path
) -> None:
    not_a_tar = tmp_path / "model.pt"
    not_a_tar.write_bytes(b"plain weights, not an archive")
    a_file = tmp_path / "out.txt"
    a_file.write_text("x")
    for options, field, rule in (
        ({"model_uri": str(not_a_tar)}, "model_uri", "tar archive"),
        ({"model_uri": "gs://bucket/model.tar.gz"}, "model_uri", "s3://"),
        ({"model_uri": str(tmp_path / "missing.tar.gz")}, "model_uri", "no such file"),
        ({"output_path": str(a_file)}, "output_path", "must be a folder"),
        # a file in the way failed the job only after training, when copying its outputs
        ({"output_path": str(a_file / "runs")}, "output_path", "out.txt is a file"),
        ({"checkpoint": {"s3_uri": str(a_file)}}, "checkpoint.s3_uri", "must be a folder"),
        ({"checkpoint": {"s3_uri": "gs://bucket/ckpt"}}, "checkpoint.s3_uri", "s3://"),
    ):
        with pytest.raises(SpecError, match=rule) as info:
            backend.submit(_job(src, **options))
        assert info.value.field == field
        expected = options[field] if "." not in field else options["checkpoint"]["s3_uri"]
        assert info.value.value == expected
    _nothing_left(backend)


def test_a_checkpoint_local_path_cannot_escape_the_job_dir(
    backend: LocalBackend, src: Path, tmp_path: Path
) -> None:
    """``/opt/ml/../../x`` is normalised (to /x, outside /opt/ml: the default checkpoints/);
    it was joined as is, so the job's checkpoints went to a folder outside its directory."""
    checkpoint = {"s3_uri": str(tmp_path / "ckpt"), "local_path": "/opt/ml/../../x"}
    job = _job(src, inputs={"train": str(src)}, checkpoint=checkpoint)
    name = backend.submit(job)
    desc = backend.wait(name, timeout=60)
    assert desc.status == JobStatus.COMPLETED, desc.failure_reason
    plan = json.loads((backend.job_dir(name) / ".sagescale" / "plan.json").read_text())
    assert plan["checkpoint"]["local"] == str(backend.job_dir(name) / "checkpoints")
    assert not (backend.workspace.root / "x").exists()


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"inputs": {"train": {"uri": "/tmp", "input_mode": "Pipe"}}}, "inputs.train.input_mode"),
        ({"output_path": "gs://bucket/out"}, "output_path"),
        ({"inputs": {"train": "gs://bucket/data"}}, "inputs.train"),
    ],
)
def test_unsupported_inputs(
    backend: LocalBackend, src: Path, options: dict[str, Any], field: str
) -> None:
    with pytest.raises(SpecError) as info:
        backend.submit(_job(src, **options))
    assert info.value.field == field
    _nothing_left(backend)


def test_bad_hyperparameter_override(backend: LocalBackend, src: Path) -> None:
    with pytest.raises(SpecError, match=r"hyperparameters\.lr"):
        backend.submit(_job(src), hyperparameters={"lr": [1, 2]})  # type: ignore[dict-item]
    _nothing_left(backend)


@pytest.mark.parametrize(
    ("setting", "value", "rule"),
    [
        ("processes_per_host", "2", "integer between 1 and 64"),
        ("processes_per_host", True, "integer between 1 and 64"),
        ("processes_per_host", 2.5, "integer between 1 and 64"),
        ("processes_per_host", 65, "integer between 1 and 64"),
        ("stop_grace_seconds", "10", "finite number of seconds >= 0"),
        ("stop_grace_seconds", float("nan"), "finite number of seconds >= 0"),
        ("stop_grace_seconds", -1, "finite number of seconds >= 0"),
        ("master_port", 70000, "TCP port between 1 and 65535"),
        ("master_port", "29500", "TCP port between 1 and 65535"),
        ("master_port", 0, "TCP port between 1 and 65535"),
        ("poll_interval", -1, "finite number of seconds > 0"),
        ("poll_interval", 0, "finite number of seconds > 0"),
        ("region", 5, "region name"),
        ("region", "", "region name"),
        ("stream_logs", "yes", "True or False"),
        ("tracking", None, "True or False"),
    ],
)
def test_bad_backend_settings_are_spec_errors(
    workspace: Path, setting: str, value: object, rule: str
) -> None:
    """Each constructor setting is checked (were: TypeError for '10' or '2'; a NaN grace, a
    port out of range, a negative or zero poll interval were accepted and broke jobs later)."""
    with pytest.raises(SpecError, match=rule) as info:
        LocalBackend(workspace, **{setting: value})  # type: ignore[arg-type]
    assert info.value.field == setting
    assert repr(value) in str(info.value)


@pytest.mark.slow
def test_rendezvous_port_taken_fails_the_job(workspace: Path, src: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        backend = LocalBackend(workspace, master_port=port)
        job = _job(src, distribution={"type": "torch_distributed", "processes_per_host": 1})
        desc = backend.wait(backend.submit(job), timeout=120)
    assert desc.status is JobStatus.FAILED
    assert desc.failure_reason is not None
    assert f"torchrun rendezvous on 127.0.0.1:{port} failed" in desc.failure_reason
    assert desc.model_artifacts is None
    assert not (Path(desc.extra["job_dir"]) / "output" / "model.tar.gz").exists()


# -- a lone entry point (no source_dir) ------
@pytest.mark.parametrize("absolute", [False, True])
def test_a_lone_entry_point_in_a_subfolder_runs_from_code(
    backend: LocalBackend, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, absolute: bool
) -> None:
    """Without source_dir the script is copied alone into code/ and run from there by its
    file name, as on SageMaker (was: code/scripts/train.py, not found; an absolute path ran
    the original file outside the job)."""
    project = tmp_path / "project"
    (project / "scripts").mkdir(parents=True)
    script = project / "scripts" / "train.py"
    script.write_text("import sys\nprint('running', sys.argv[0], flush=True)\n")
    monkeypatch.chdir(project)
    entry = str(script) if absolute else "scripts/train.py"
    name = backend.submit(TrainingJob(entry_point=entry))
    desc = backend.wait(name, timeout=60)
    assert desc.status == JobStatus.COMPLETED, desc.failure_reason
    code = backend.job_dir(name) / "code"
    assert f"running {code / 'train.py'}" in backend.logs(name)
    assert desc.hyperparameters["sagemaker_program"] == '"train.py"'
    config = json.loads((backend.job_dir(name) / "input/config/hyperparameters.json").read_text())
    assert config["sagemaker_program"] == '"train.py"'


# -- local channels, model_uri and output_path ------
def test_local_file_and_directory_channels(
    backend: LocalBackend, src: Path, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "a.csv").write_text("1")
    (tmp_path / "single.csv").write_text("2")
    out = tmp_path / "out"
    name = backend.submit(
        _job(src, inputs={"train": f"file://{data}"}, output_path=str(out)), job_name="chan-1"
    )
    desc = backend.wait(name, timeout=60, raise_on_failure=True)
    assert "file a.csv 1" in backend.logs(name)
    assert desc.model_artifacts == str(out / "chan-1" / "output" / "model.tar.gz")
    with tarfile.open(desc.model_artifacts) as tar:
        assert tar.getnames() == ["w.bin"]
    with tarfile.open(out / "chan-1" / "output" / "output.tar.gz") as tar:
        assert tar.getnames() == ["report.txt"]
    single = backend.submit(_job(src, inputs={"train": str(tmp_path / "single.csv")}))
    backend.wait(single, timeout=60, raise_on_failure=True)
    assert "file single.csv 2" in backend.logs(single)


def _tar(path: Path, members: dict[str, bytes], links: dict[str, str] | None = None) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        for name, target in (links or {}).items():
            info = tarfile.TarInfo(name)
            info.type = tarfile.SYMTYPE
            info.linkname = target
            tar.addfile(info)
    return path


def test_model_uri_is_unpacked_into_the_model_channel(
    backend: LocalBackend, src: Path, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    model = _tar(tmp_path / "model.tar.gz", {"weights.pt": b"w", "sub/config.json": b"{}"})
    name = backend.submit(_job(src, inputs={"train": str(data)}, model_uri=str(model)))
    backend.wait(name, timeout=60, raise_on_failure=True)
    logs = backend.logs(name)
    assert "model weights.pt" in logs and "model sub/config.json" in logs


@pytest.mark.parametrize(
    ("members", "links", "message"),
    [
        ({"../escape.txt": b"x"}, None, "escapes the model dir"),
        ({"ok.txt": b"x"}, {"link": "/etc/passwd"}, "unsafe link"),
        ({"ok.txt": b"x"}, {"sub/link": "../../outside"}, "unsafe link"),
    ],
)
def test_unsafe_model_archives_fail_the_job(
    backend: LocalBackend,
    src: Path,
    tmp_path: Path,
    members: dict[str, bytes],
    links: dict[str, str] | None,
    message: str,
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    model = _tar(tmp_path / "evil.tar.gz", members, links)
    name = backend.submit(_job(src, inputs={"train": str(data)}, model_uri=str(model)))
    desc = backend.wait(name, timeout=60)
    assert desc.status is JobStatus.FAILED
    assert desc.failure_reason is not None and message in desc.failure_reason
    assert desc.model_artifacts is None
    job_dir = backend.job_dir(name)
    assert not (job_dir / "input" / "data" / "escape.txt").exists()
    assert not (job_dir / "output" / "model.tar.gz").exists()
    assert "Training" not in [t.status for t in desc.transitions]


def test_a_long_failure_reason_is_cut_to_1024_characters(
    backend: LocalBackend, src: Path, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    model = _tar(tmp_path / "long.tar.gz", {"../" + "x" * 2000: b"x"})
    name = backend.submit(_job(src, inputs={"train": str(data)}, model_uri=str(model)))
    desc = backend.wait(name, timeout=60)
    assert desc.status is JobStatus.FAILED
    assert desc.failure_reason is not None
    assert desc.failure_reason.startswith("ClientError: unsafe path in model archive")
    assert len(desc.failure_reason) == 1024


# -- s3:// on moto's server ------
@pytest.fixture
def s3(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", moto_endpoint)
    client = boto3.client("s3", region_name="us-east-1")
    return client


def test_s3_channels_and_output_path(
    backend: LocalBackend, src: Path, s3: Any, tmp_path: Path
) -> None:
    s3.create_bucket(Bucket="local-io")
    s3.put_object(Bucket="local-io", Key="data/train/a.csv", Body=b"1")
    s3.put_object(Bucket="local-io", Key="data/train/b.csv", Body=b"2")
    s3.put_object(Bucket="local-io", Key="data/other/c.csv", Body=b"3")
    s3.put_object(
        Bucket="local-io",
        Key="models/model.tar.gz",
        Body=_tar(tmp_path / "m.tar.gz", {"weights.pt": b"w"}).read_bytes(),
    )
    job = _job(
        src,
        inputs={"train": "s3://local-io/data/train"},
        model_uri="s3://local-io/models/model.tar.gz",
        output_path="s3://local-io/out",
    )
    name = backend.submit(job)
    desc = backend.wait(name, timeout=60, raise_on_failure=True)
    logs = backend.logs(name)
    assert "file a.csv 1" in logs and "file b.csv 2" in logs and "c.csv" not in logs
    assert "model weights.pt" in logs
    assert desc.model_artifacts == f"s3://local-io/out/{name}/output/model.tar.gz"
    keys = {o["Key"] for o in s3.list_objects_v2(Bucket="local-io", Prefix="out/")["Contents"]}
    assert keys == {f"out/{name}/output/model.tar.gz", f"out/{name}/output/output.tar.gz"}
    downloaded = backend.download_model(name, tmp_path / "dl")
    with tarfile.open(downloaded) as tar:
        assert tar.getnames() == ["w.bin"]


def test_an_s3_model_uri_leaves_no_download_behind(
    backend: LocalBackend, src: Path, s3: Any, tmp_path: Path
) -> None:
    """The downloaded archive is removed once it is unpacked: the model takes its disk
    space once. Only the channels stay in input/data/."""
    s3.create_bucket(Bucket="local-model")
    s3.put_object(Bucket="local-model", Key="data/a.csv", Body=b"1")
    s3.put_object(
        Bucket="local-model",
        Key="models/model.tar.gz",
        Body=_tar(tmp_path / "m.tar.gz", {"weights.pt": b"w"}).read_bytes(),
    )
    job = _job(src, inputs={"train": "s3://local-model/data"}, model_uri="s3://local-model/models/")
    name = backend.submit(job)
    backend.wait(name, timeout=60, raise_on_failure=True)
    assert "model weights.pt" in backend.logs(name)
    data = backend.job_dir(name) / "input" / "data"
    assert sorted(p.name for p in data.iterdir()) == ["model", "train"]
    assert sorted(p.name for p in (data / "model").iterdir()) == ["weights.pt"]


def test_an_s3_model_uri_that_fails_to_unpack_leaves_no_download_behind(
    backend: LocalBackend, src: Path, s3: Any, tmp_path: Path
) -> None:
    s3.create_bucket(Bucket="local-model-bad")
    s3.put_object(Bucket="local-model-bad", Key="data/a.csv", Body=b"1")
    for key in ("models/a.tar.gz", "models/b.tar.gz"):
        s3.put_object(Bucket="local-model-bad", Key=key, Body=b"not a tar")
    job = _job(
        src,
        inputs={"train": "s3://local-model-bad/data"},
        model_uri="s3://local-model-bad/models/",
    )
    name = backend.submit(job)
    desc = backend.wait(name, timeout=60)
    assert desc.status is JobStatus.FAILED
    assert desc.failure_reason is not None and "must name one object" in desc.failure_reason
    data = backend.job_dir(name) / "input" / "data"
    assert not any(p.name.endswith(".download") for p in data.iterdir())


def test_a_local_model_folder_is_left_in_place(
    backend: LocalBackend, src: Path, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    folder = tmp_path / "model-folder"
    folder.mkdir()
    (folder / "weights.pt").write_text("w")
    name = backend.submit(_job(src, inputs={"train": str(data)}, model_uri=str(folder)))
    backend.wait(name, timeout=60, raise_on_failure=True)
    assert "model weights.pt" in backend.logs(name)
    assert (folder / "weights.pt").read_text() == "w"


def test_missing_s3_data_fails_the_job(backend: LocalBackend, src: Path, s3: Any) -> None:
    s3.create_bucket(Bucket="local-empty")
    name = backend.submit(_job(src, inputs={"train": "s3://local-empty/nothing"}))
    desc = backend.wait(name, timeout=60)
    assert desc.status is JobStatus.FAILED
    assert desc.failure_reason is not None and "No S3 objects found" in desc.failure_reason
    assert desc.secondary_status == "Failed"
    assert "Downloading" in [t.status for t in desc.transitions]


def test_stop_while_downloading_stops_before_training(
    backend: LocalBackend, src: Path, s3: Any
) -> None:
    s3.create_bucket(Bucket="local-many")
    for i in range(200):
        s3.put_object(Bucket="local-many", Key=f"data/part-{i:03d}", Body=b"x")
    name = backend.submit(_job(src, inputs={"train": "s3://local-many/data/"}))
    backend.stop(name)
    desc = backend.wait(name, timeout=120)
    assert desc.status is JobStatus.STOPPED and desc.secondary_status == "Stopped"
    assert "Training" not in [t.status for t in desc.transitions]
    downloaded = list((backend.job_dir(name) / "input" / "data" / "train").glob("part-*"))
    assert len(downloaded) < 200  # the download itself was cut short


def test_an_entry_point_that_cannot_be_executed_fails_the_job(
    backend: LocalBackend, tmp_path: Path
) -> None:
    src = tmp_path / "exe-src"
    src.mkdir()
    (src / "train").write_text("#!/bin/sh\necho hi\n")  # not executable
    job = TrainingJob(entry_point="train", source_dir=str(src))
    desc = backend.wait(backend.submit(job), timeout=60)
    assert desc.status is JobStatus.FAILED
    assert desc.exit_code == 126
    assert desc.failure_reason is not None and "cannot start" in desc.failure_reason
    (src / "train").chmod(0o755)
    ok = backend.wait(backend.submit(job), timeout=60)
    assert ok.status is JobStatus.COMPLETED
    assert "[algo-1] hi" in backend.logs(ok.job_name)
