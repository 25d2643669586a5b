"""A browser page to label particles and review picks (``fewlabel label``).

:func:`build_session` reads the inputs and any earlier output; :func:`create_app` serves it.
"""

from __future__ import annotations

from pathlib import Path

from fewlabel.label.images import ImageCache
from fewlabel.label.server import LabelSession, create_app, new_token
from fewlabel.label.store import LabelStore

__all__ = ["LabelSession", "LabelStore", "build_session", "create_app"]


def build_session(micrographs: str | Path, output: str | Path, diameter: float,
                  picks: str | Path | None = None, threshold: float | None = None,
                  downsample: int | None = None, token: str | None = None) -> LabelSession:
    """Everything the page needs: the micrographs of ``micrographs``, the starting ``picks``,
    the picks saved in ``output`` by an earlier run (resumed), and a fresh token."""
    from fewlabel.atomic import check_not_input
    from fewlabel.errors import InputError
    from fewlabel.io.micrographs import list_micrographs
    from fewlabel.io.picks import match_to_micrographs, read_picks

    output = Path(output)
    inputs = [micrographs] + ([picks] if picks is not None else [])
    check_not_input(output, inputs)
    if picks is not None and output.resolve() == Path(picks).resolve():
        raise InputError(output, "the output must differ from --picks (the input is never overwritten)")
    paths = list_micrographs(micrographs)
    if not paths:
        raise InputError(micrographs, "no micrographs found")
    names = [p.stem for p in paths]

    initial = None
    if picks is not None:
        initial = match_to_micrographs(read_picks(picks), names, source=picks)
    resume = None
    if output.exists():
        resume = match_to_micrographs(read_picks(output), names, source=output)
    box_size = max(1, int(round(diameter)))
    store = LabelStore(names, output, initial=initial, resume=resume, threshold=threshold,
                       box_size=box_size)
    store.check_writable()
    return LabelSession(paths=paths, store=store, images=ImageCache(diameter, factor=downsample),
                        diameter=float(diameter), token=token or new_token())
