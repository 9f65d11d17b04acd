"""Saving and loading fitted models without ever unpickling code.

A ``.mtgp`` file is one ``torch.save`` archive holding only tensors, strings and numbers:

* ``format`` (``"mtgp_kinetics-model"``) and ``format_version`` (int);
* ``metadata``: a JSON string with the space, tasks, kernel structure, fit summary, the training
  observations (for reports), the default model's ``selection_`` (why it has its structure) and
  the package versions that wrote it;
* ``tensors``: the exact float64 training inputs, targets and known noise variances;
* ``state_dict``: the hyperparameters and buffers of the GP;
* ``posterior`` (format version 2 only): the NUTS draws of a
  :class:`~mtgp_kinetics.bayes.BayesianKineticsModel` (unconstrained coordinates, sampler statistics,
  settings), from which its ``InferenceData`` is rebuilt exactly. Version 1 files (MAP models) are
  still written for MAP models, so older readers keep reading them; a version-2 file is refused by
  them with a clear message rather than loaded as a MAP model without its draws.

Loading uses ``torch.load(weights_only=True)``, which refuses any pickled object other than tensors
and plain containers, so a crafted file cannot run code; it is reported as a :class:`ModelFileError`.
Predictions of a loaded model equal those of the saved one exactly: the model is rebuilt from the
stored float64 tensors, not from the rounded JSON copy of the data.
"""

from __future__ import annotations

import io
import json
import os
import pickle
import zipfile
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
import torch

from mtgp_kinetics.errors import ModelFileError
from mtgp_kinetics.fitting import FitResult
from mtgp_kinetics.models.structure import KernelSpec
from mtgp_kinetics.space import Space
from mtgp_kinetics.tasks import Task

if TYPE_CHECKING:
    from mtgp_kinetics.bayes.model import BayesianKineticsModel
    from mtgp_kinetics.model import KineticsModel

FORMAT_NAME = "mtgp_kinetics-model"
FORMAT_VERSION = 1
#: Format of a file that also holds posterior draws (fully Bayesian models).
POSTERIOR_FORMAT_VERSION = 2
READABLE_VERSIONS = (FORMAT_VERSION, POSTERIOR_FORMAT_VERSION)


def _package_versions() -> dict[str, str]:
    versions = {}
    for name in ("mtgp_kinetics", "torch", "gpytorch", "botorch", "numpy", "pandas"):
        try:
            versions[name] = version(name)
        except PackageNotFoundError:
            versions[name] = "unknown"
    return versions


def save_model(
    model: KineticsModel, path: str | os.PathLike[str], posterior: dict[str, Any] | None = None
) -> None:
    """Write ``model`` to ``path`` (overwritten atomically: a crash never leaves half a file).

    Parameters
    ----------
    model : KineticsModel
        A fitted model.
    path : str or path-like
        Destination, conventionally ending in ``.mtgp``.
    posterior : dict, optional
        Posterior draws of a fully Bayesian model (tensors and plain data), stored as ``posterior``
        with format version :data:`POSTERIOR_FORMAT_VERSION`.
    """
    model._check_fitted()
    fit = model.fit_result_
    observations = None
    if model.data is not None:
        # "row" (the source row label) is rebuilt by Dataset on load; the values are for reports only.
        frame = model.data.observations.drop(columns="row")
        observations = _frame_json(frame)
    metadata: dict[str, Any] = {
        "space": model.space.to_dict(),
        "tasks": [task.to_dict() for task in model.tasks],
        "kernel": model.kernel.to_dict(),
        "mean": model.mean,
        "fit": None
        if fit is None
        else {
            "neg_log_posterior": fit.neg_log_posterior,
            "restart_objectives": fit.restart_objectives,
            "jitter": fit.jitter,
            "seconds": fit.seconds,
            "messages": fit.messages,
            "converged": fit.converged,
        },
        "observations": observations,
        # Parameters held fixed (a rotation borrowed from another task): they stay out of the
        # hyperparameter-uncertainty term after loading, as before saving.
        "held_parameters": [name for name, param in model.gp.named_parameters() if not param.requires_grad],
        "selection": _selection_to_json(getattr(model, "selection_", None)),
        # Tasks predicted with averaged hyperparameters: recomputed after loading (same seed).
        "averaged_tasks": list(getattr(model, "averaged_tasks_", ())),
        "versions": _package_versions(),
    }
    archive = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION if posterior is None else POSTERIOR_FORMAT_VERSION,
        "metadata": json.dumps(metadata),
        "tensors": {
            "train_inputs": model.train_inputs,
            "train_targets": model.train_targets,
            "known_variance": model.known_variance,
        },
        "state_dict": model.gp.state_dict(),
    }
    if posterior is not None:
        archive["posterior"] = posterior
    path = Path(path)
    if not path.parent.is_dir():
        raise ModelFileError(f"cannot save to {str(path)!r}: no folder {str(path.parent)!r}")
    tmp = path.with_name(path.name + ".tmp")
    torch.save(archive, tmp)
    os.replace(tmp, path)


def _frame_json(frame: pd.DataFrame | None) -> str | None:
    """A frame as JSON text (``split`` orientation, 15 digits, dates in ISO 8601), or None."""
    return None if frame is None else frame.to_json(orient="split", date_format="iso", double_precision=15)


def _frame_from_json(text: str | None) -> pd.DataFrame | None:
    """The inverse of :func:`_frame_json` (column types as written, not guessed)."""
    return None if text is None else pd.read_json(io.StringIO(text), orient="split", dtype=False)


def _selection_to_json(selection: Any) -> dict[str, Any] | None:
    """The default model's :class:`~mtgp_kinetics.default_model.Selection` as plain data (or None)."""
    if selection is None:
        return None
    return {
        "kernel": selection.kernel.to_dict(),
        "rounds": [_frame_json(r) for r in selection.rounds],
        "opted_out": list(selection.opted_out),
        "smoothness": _frame_json(selection.smoothness),
        "log_posterior_gains": [float(g) for g in selection.log_posterior_gains],
        "icm": _frame_json(selection.icm),
        "rotation": _frame_json(selection.rotation),
        "icm_log_posterior_gain": selection.icm_log_posterior_gain,
    }


def _selection_from_json(spec: dict[str, Any] | None) -> Any:
    """The inverse of :func:`_selection_to_json`."""
    if spec is None:
        return None
    from mtgp_kinetics.default_model import Selection

    return Selection(
        kernel=KernelSpec.from_dict(spec["kernel"]),
        rounds=[_frame_from_json(r) for r in spec["rounds"]],
        opted_out=list(spec["opted_out"]),
        smoothness=_frame_from_json(spec["smoothness"]),
        log_posterior_gains=list(spec["log_posterior_gains"]),
        icm=_frame_from_json(spec["icm"]),
        rotation=_frame_from_json(spec["rotation"]),
        icm_log_posterior_gain=spec["icm_log_posterior_gain"],
    )


#: First bytes of a zip archive, the container of ``torch.save``.
ZIP_MAGIC = b"PK\x03\x04"


def _read_archive(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise ModelFileError(f"no model file at {str(path)!r}")
    with path.open("rb") as handle:
        head = handle.read(4)
    if not head.startswith(ZIP_MAGIC):
        # KineticsModel.save writes torch's zip archive; torch.load would read anything else as a
        # legacy pickle stream and fail with a KeyError or an unpickling error about "code".
        raise ModelFileError(
            f"{str(path)!r} is not an mtgp_kinetics model file (it is not the zip archive "
            "KineticsModel.save writes: a text file, a CSV, or a truncated copy?)"
        )
    try:
        archive = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        raise ModelFileError(
            f"{str(path)!r} holds objects other than tensors and plain data (possibly code); "
            "refusing to load it. Only files written by KineticsModel.save are accepted."
        ) from err
    except (RuntimeError, zipfile.BadZipFile, EOFError, OSError, ValueError) as err:
        raise ModelFileError(
            f"{str(path)!r} is not a readable mtgp_kinetics model file (corrupted or truncated?): {err}"
        ) from err
    if not isinstance(archive, dict) or archive.get("format") != FORMAT_NAME:
        raise ModelFileError(f"{str(path)!r} is not an mtgp_kinetics model file")
    found = archive.get("format_version")
    if found not in READABLE_VERSIONS:
        raise ModelFileError(
            f"{str(path)!r} has model format version {found!r}; this mtgp_kinetics reads versions "
            f"{list(READABLE_VERSIONS)}. Load it with the version that wrote it and refit, or upgrade."
        )
    return archive


def load(path: str | os.PathLike[str]) -> KineticsModel | BayesianKineticsModel:
    """Load a model written by :meth:`KineticsModel.save`.

    Parameters
    ----------
    path : str or path-like
        The ``.mtgp`` file.

    Returns
    -------
    KineticsModel or BayesianKineticsModel
        A fitted model whose predictions equal the saved model's (a Bayesian model, with its draws,
        for a file written by :meth:`BayesianKineticsModel.save`).

    Raises
    ------
    ModelFileError
        If the file is missing, corrupted, of an unknown format version, or holds anything but
        tensors and plain data.
    """
    from mtgp_kinetics.dataset import Dataset
    from mtgp_kinetics.model import KineticsModel

    path = Path(path)
    archive = _read_archive(path)
    try:
        metadata = json.loads(archive["metadata"])
        space = Space.from_dict(metadata["space"])
        tasks = [Task.from_dict(spec) for spec in metadata["tasks"]]
        kernel = KernelSpec.from_dict(metadata["kernel"])
        tensors = archive["tensors"]
        data = None
        observations = _frame_from_json(metadata.get("observations"))
        if observations is not None:
            data = Dataset.from_frame(observations, space, tasks, form="long")
        model = KineticsModel(
            space,
            tasks,
            kernel,
            tensors["train_inputs"],
            tensors["train_targets"],
            tensors["known_variance"],
            data=data,
            mean=metadata.get("mean", "constant"),
        )
        _load_weights(model, archive["state_dict"])
        held = set(metadata.get("held_parameters", []))
        for name, param in model.gp.named_parameters():
            if name in held:
                param.requires_grad_(False)
        selection = _selection_from_json(metadata.get("selection"))
        if selection is not None:
            model.selection_ = selection
        model.averaged_tasks_ = tuple(str(name) for name in metadata.get("averaged_tasks", []))
    except (KeyError, TypeError, ValueError, RuntimeError) as err:
        raise ModelFileError(f"{str(path)!r} is damaged: {type(err).__name__}: {err}") from err
    fit = metadata.get("fit")
    model.fit_result_ = FitResult(**fit) if fit is not None else None
    model.gp.eval()
    if "posterior" in archive:
        from mtgp_kinetics.bayes.model import BayesianKineticsModel

        try:
            return BayesianKineticsModel.from_archive(model, archive["posterior"])
        except (KeyError, TypeError, ValueError, AttributeError) as err:
            raise ModelFileError(f"{str(path)!r} has damaged posterior draws: {err}") from err
    return model


def _load_weights(model: KineticsModel, state_dict: dict) -> None:
    """Load a saved state; a prior added since the file was written keeps its default constants.

    Priors hold their constants as buffers, so a file written before a prior existed lacks them;
    every other missing or unexpected entry means the file does not fit the model.
    """
    # torch's own loader reports what did not match (botorch's override returns nothing); this model
    # has no botorch input/outcome transforms for that override to restore.
    result = torch.nn.Module.load_state_dict(model.gp, state_dict, strict=False)
    missing = [key for key in result.missing_keys if "_prior." not in key]
    if missing or result.unexpected_keys:
        unexpected = result.unexpected_keys
        raise ValueError(f"state does not fit the model: missing {missing}, unexpected {unexpected}")
