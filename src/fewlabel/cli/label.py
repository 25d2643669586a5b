"""Label particles, or review scored picks, in a browser page served from this machine.

Starts a small web server on 127.0.0.1 (a free port unless --port) and prints a URL with a
random token; open it in a browser, or through an SSH tunnel from a cluster
(ssh -L PORT:127.0.0.1:PORT host). Every click is saved at once to OUTPUT (.star, .tsv or
.csv; coordinates in original micrograph pixels) and OUTPUT.session.json remembers the
threshold and the micrograph on screen: run the same command again to resume. With --picks
that carry scores (from `fewlabel pick extract`) the page is in review mode: a slider keeps
the picks above a threshold, Accept writes them; hand-added picks get the top score.

Examples:

\b
    fewlabel label --micrographs mics/ --diameter 180 -o labels.star
    fewlabel label --micrographs mics/ --picks picks.tsv --diameter 180 -o reviewed.star
    fewlabel label --micrographs mics/ --diameter 180 -o labels.tsv --port 8765 --open
"""

from __future__ import annotations

from pathlib import Path

import click


@click.command(name="label", help=__doc__)
@click.option("--micrographs", "micrographs", required=True,
              type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="Folder of micrographs (.mrc/.tif/.png).")
@click.option("--picks", "picks", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Picks to start from; with a score column the page is in review mode.")
@click.option("--diameter", required=True, type=click.FloatRange(min=1.0),
              help="Particle diameter in original micrograph pixels (circle size).")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Labels file to write and resume from: .star, .tsv or .csv.")
@click.option("--threshold", type=float, default=None,
              help="Starting score threshold in review mode (default: keep every pick).")
@click.option("--downsample", type=click.IntRange(min=0), default=0, show_default=True,
              help="Display downsampling factor; 0 picks one per micrograph (about 1024 px).")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on; anything but loopback exposes the page to the network.")
@click.option("--port", type=click.IntRange(0, 65535), default=0, show_default=True,
              help="Port to listen on; 0 picks a free one.")
@click.option("--open", "open_browser", is_flag=True, help="Open the page in a web browser.")
def command(micrographs: Path, picks: Path | None, diameter: float, output: Path,
            threshold: float | None, downsample: int, host: str, port: int,
            open_browser: bool) -> None:
    import socket

    import uvicorn

    from fewlabel.label import build_session, create_app

    session = build_session(micrographs, output, diameter, picks=picks, threshold=threshold,
                            downsample=downsample or None)
    store = session.store
    click.echo(f"{len(session.paths)} micrographs in {micrographs}; {store.mode} mode; "
               f"{len(store.kept())} picks kept; saving every change to {output}")

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        from fewlabel.errors import InputError

        raise InputError(None, f"cannot listen on {host}:{port}: {exc.strerror}") from None
    bound = sock.getsockname()[1]
    shown = f"[{host}]" if ":" in host else host
    url = f"http://{shown}:{bound}/?token={session.token}"
    if host not in ("127.0.0.1", "localhost", "::1"):
        click.echo(f"warning: listening on {host}: anyone who can reach this machine and has the "
                   "URL can edit the labels", err=True)
    click.echo(f"open {url}")
    click.echo("press Ctrl-C to stop (nothing is lost: every change is already saved)")
    if open_browser:
        import webbrowser

        webbrowser.open(url)
    config = uvicorn.Config(create_app(session), log_level="warning", access_log=False,
                            lifespan="off")
    uvicorn.Server(config).run(sockets=[sock])
