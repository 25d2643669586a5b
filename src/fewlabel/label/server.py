"""The web app behind ``fewlabel label``: a token-protected JSON API and the static page.

Every request must carry the session token (``?token=`` or the ``X-Fewlabel-Token`` header),
else 403. Micrographs are addressed by their index or name in the listing only; no path from
the client ever reaches the filesystem. The API speaks in pixels of the displayed
(downsampled) image; the store keeps ORIGINAL pixels and ``fewlabel.preprocess.scale_coordinates``
converts between them. Malformed requests get a 4xx with a JSON ``{"error": ...}``.

Endpoints (all JSON unless noted):

* ``GET /``: the page (HTML); ``GET /static/{app.js,style.css}``.
* ``GET /api/session``: mode, diameter, micrographs with counts, total, threshold, scores.
* ``GET /api/micrographs/{key}/image.png``: the display image (PNG).
* ``GET /api/micrographs/{key}/picks``: picks of one micrograph in display pixels.
* ``POST /api/micrographs/{key}/picks`` ``{"x", "y"}``: add a pick.
* ``DELETE /api/picks/{id}``: remove a pick.
* ``POST /api/threshold`` ``{"threshold"}``: accept a score threshold (review mode).
* ``POST /api/current`` ``{"micrograph"}``: remember the micrograph on screen.
"""

from __future__ import annotations

import json
import math
import secrets
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from urllib.parse import parse_qs

import pandas as pd
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from fewlabel.errors import InputError
from fewlabel.label.images import ImageCache, Rendered
from fewlabel.label.store import LabelStore, Pick

TOKEN_HEADER = "x-fewlabel-token"
MAX_BODY = 16 * 1024
STATIC = {"app.js": "text/javascript; charset=utf-8", "style.css": "text/css; charset=utf-8"}
SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"cache-control", b"no-store"),
    (b"content-security-policy",
     b"default-src 'self'; img-src 'self' blob: data:; object-src 'none'; frame-ancestors 'none'"),
]


@dataclass
class LabelSession:
    """What the app serves: micrograph paths in display order, their picks and their images."""

    paths: list[Path]
    store: LabelStore
    images: ImageCache
    diameter: float
    token: str

    @property
    def names(self) -> list[str]:
        return self.store.names

    def resolve(self, key: str) -> int:
        """Index of the micrograph named ``key`` or at index ``key``; 404 otherwise."""
        index = self.store.index_of(key)
        if index is not None:
            return index
        if key.isascii() and key.isdigit() and len(key) < 10 and int(key) < len(self.paths):
            return int(key)
        raise HTTPException(404, "no such micrograph")


def new_token() -> str:
    """A fresh random session token for the URL."""
    return secrets.token_urlsafe(24)


class TokenMiddleware:
    """Reject every request without the session token (403) and add security headers."""

    def __init__(self, app, token: str):
        self.app = app
        self.token = token.encode()

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        if not self._authorized(scope):
            response = JSONResponse({"error": "missing or wrong token"}, status_code=403)
            return await response(scope, receive, self._with_headers(send))
        return await self.app(scope, receive, self._with_headers(send))

    def _authorized(self, scope) -> bool:
        given = [v for k, v in scope.get("headers", []) if k == TOKEN_HEADER.encode()]
        try:
            query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        except ValueError:
            query = {}
        given += [v.encode("utf-8", "replace") for v in query.get("token", [])]
        return any(secrets.compare_digest(v, self.token) for v in given)

    @staticmethod
    def _with_headers(send):
        async def wrapped(message):
            if message["type"] == "http.response.start":
                message = dict(message)
                message["headers"] = list(message.get("headers", [])) + SECURITY_HEADERS
            await send(message)
        return wrapped


def create_app(session: LabelSession) -> Starlette:
    """The Starlette app serving ``session``."""

    async def page(request: Request) -> Response:
        html = _static_text("index.html").replace("__FEWLABEL_TOKEN__", session.token)
        return HTMLResponse(html)

    async def static(request: Request) -> Response:
        name = request.path_params["name"]
        if name not in STATIC:
            raise HTTPException(404, "not found")
        return Response(_static_text(name), media_type=STATIC[name])

    async def session_info(request: Request) -> Response:
        return JSONResponse(await run_in_threadpool(_session_json, session))

    async def image(request: Request) -> Response:
        index = session.resolve(request.path_params["key"])
        rendered = await _render(session, index)
        # render the next micrograph while the user looks at this one
        return Response(rendered.png, media_type="image/png",
                        background=BackgroundTask(_prefetch, session, index + 1))

    async def picks(request: Request) -> Response:
        index = session.resolve(request.path_params["key"])
        rendered = await _render(session, index)
        return JSONResponse(_picks_json(session, index, rendered))

    async def add_pick(request: Request) -> Response:
        index = session.resolve(request.path_params["key"])
        body = await _json_body(request)
        rendered = await _render(session, index)
        rows, cols = rendered.display_shape
        x = _number(body, "x", 0, cols)
        y = _number(body, "y", 0, rows)
        ox, oy = _to_original(x, y, rendered.factor)
        pick = await run_in_threadpool(session.store.add, session.names[index], ox, oy)
        out = _pick_json(pick, x, y)
        out.update(_counts_json(session, index))
        return JSONResponse(out, status_code=201)

    async def remove_pick(request: Request) -> Response:
        pick_id = request.path_params["pick_id"]
        try:
            pick = await run_in_threadpool(session.store.remove, pick_id)
        except KeyError:
            raise HTTPException(404, "no such pick") from None
        index = session.names.index(pick.image_name)
        return JSONResponse({"removed": pick.id, **_counts_json(session, index)})

    async def threshold(request: Request) -> Response:
        body = await _json_body(request)
        if not session.store.review:
            raise HTTPException(409, "no scores to threshold: start with --picks that carry scores")
        value = _number(body, "threshold")
        kept = await run_in_threadpool(session.store.set_threshold, value)
        return JSONResponse({"threshold": session.store.threshold, "kept": kept,
                             "counts": session.store.counts()})

    async def current(request: Request) -> Response:
        body = await _json_body(request)
        key = body.get("micrograph")
        if isinstance(key, bool) or not isinstance(key, (str, int)):
            raise HTTPException(400, "'micrograph' must be a name or an index")
        index = session.resolve(str(key))
        await run_in_threadpool(session.store.set_current, session.names[index])
        return JSONResponse({"current": index})

    routes = [
        Route("/", page),
        Route("/static/{name}", static),
        Route("/api/session", session_info),
        Route("/api/micrographs/{key}/image.png", image),
        Route("/api/micrographs/{key}/picks", picks, methods=["GET"]),
        Route("/api/micrographs/{key}/picks", add_pick, methods=["POST"]),
        Route("/api/picks/{pick_id:int}", remove_pick, methods=["DELETE"]),
        Route("/api/threshold", threshold, methods=["POST"]),
        Route("/api/current", current, methods=["POST"]),
    ]
    app = Starlette(routes=routes, exception_handlers={HTTPException: _http_error})
    app.add_middleware(TokenMiddleware, token=session.token)
    return app


# -- helpers -------------------------------------------------------------------------------


async def _http_error(request: Request, exc: HTTPException) -> Response:
    return JSONResponse({"error": exc.detail}, status_code=exc.status_code,
                        headers=getattr(exc, "headers", None))


def _static_text(name: str) -> str:
    return resources.files("fewlabel.label").joinpath("static", name).read_text(encoding="utf-8")


async def _render(session: LabelSession, index: int) -> Rendered:
    try:
        return await run_in_threadpool(session.images.render, session.paths[index])
    except InputError as exc:
        raise HTTPException(422, f"cannot show this micrograph: {exc.message}") from None
    except (OSError, ValueError) as exc:  # a damaged file the reader did not catch
        raise HTTPException(422, f"cannot show this micrograph: {exc}") from None


def _prefetch(session: LabelSession, index: int) -> None:
    if 0 <= index < len(session.paths):
        try:
            session.images.render(session.paths[index])
        except Exception:  # noqa: BLE001 - the real request will report it
            pass


async def _json_body(request: Request) -> dict:
    """The request's JSON object body, at most MAX_BODY bytes; 4xx when it is anything else."""
    size = request.headers.get("content-length")
    if size is not None and (not size.isdigit() or int(size) > MAX_BODY):
        raise HTTPException(413 if size.isdigit() else 400, "request body too large or malformed")
    raw = b""
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > MAX_BODY:
            raise HTTPException(413, "request body too large")
    try:
        body = json.loads(raw.decode("utf-8"), parse_constant=_reject_constant)
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise HTTPException(400, "body must be a JSON object") from None
    if not isinstance(body, dict):
        raise HTTPException(400, "body must be a JSON object")
    return body


def _reject_constant(name: str):
    raise ValueError(f"{name} is not allowed")


def _number(body: dict, key: str, low: float | None = None, high: float | None = None) -> float:
    """``body[key]`` as a finite float in [low, high); 400 otherwise."""
    value = body.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise HTTPException(400, f"'{key}' must be a number")
    value = float(value)
    if not math.isfinite(value):
        raise HTTPException(400, f"'{key}' must be finite")
    if (low is not None and value < low) or (high is not None and value >= high):
        raise HTTPException(400, f"'{key}' is outside the image")
    return value


def _to_original(x: float, y: float, factor: int) -> tuple[float, float]:
    from fewlabel.preprocess import scale_coordinates

    df = scale_coordinates(pd.DataFrame({"image_name": ["m"], "x_coord": [x], "y_coord": [y]}),
                           factor)
    return float(df["x_coord"].iloc[0]), float(df["y_coord"].iloc[0])


def _to_display(picks: list[Pick], factor: int) -> pd.DataFrame:
    from fewlabel.preprocess import scale_coordinates

    df = pd.DataFrame({"image_name": [p.image_name for p in picks],
                       "x_coord": pd.Series([p.x for p in picks], dtype=float),
                       "y_coord": pd.Series([p.y for p in picks], dtype=float)})
    return scale_coordinates(df, 1 / factor)


def _pick_json(pick: Pick, x: float, y: float) -> dict:
    return {"id": pick.id, "x": round(x, 2), "y": round(y, 2),
            "score": pick.score, "manual": pick.manual}


def _picks_json(session: LabelSession, index: int, rendered: Rendered) -> dict:
    live = session.store.picks(session.names[index])
    display = _to_display(live, rendered.factor)
    rows, cols = rendered.display_shape
    return {
        "index": index,
        "name": session.names[index],
        "factor": rendered.factor,
        "width": cols,
        "height": rows,
        "radius": session.diameter / 2 / rendered.factor,
        "picks": [_pick_json(p, x, y) for p, x, y
                  in zip(live, display["x_coord"], display["y_coord"])],
    }


def _counts_json(session: LabelSession, index: int) -> dict:
    counts = session.store.counts()
    return {"count": counts[session.names[index]], "total": sum(counts.values())}


def _session_json(session: LabelSession) -> dict:
    store = session.store
    counts = store.counts()
    live = store.picks()
    return {
        "mode": store.mode,
        "diameter": session.diameter,
        "output": store.output.name,
        "current": store.current,
        "micrographs": [{"index": i, "name": n, "count": counts[n]}
                        for i, n in enumerate(store.names)],
        "total": sum(counts.values()),
        "threshold": store.threshold if store.review else None,
        "score_range": list(store.score_range) if store.review else None,
        "scores": sorted(p.score for p in live if not p.manual) if store.review else [],
        "manual": sum(p.manual for p in live),
    }
