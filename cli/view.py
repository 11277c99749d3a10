"""`musclekit view`: a sequence in the browser, or as HTML / MP4 (pipelines/view)."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from musclekit.progress import console


def register(app: typer.Typer) -> None:
    app.command("view")(view)


def view(
    path: Path = typer.Argument(None, help="Dataset folder (default: the default dataset "
                                "folder, ./musclekit-data)."),
    sequence: str = typer.Argument(None, help="Sequence id (default: the first one)."),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to serve on (0.0.0.0: "
                             "reachable from other machines)."),
    port: int = typer.Option(8080, "--port", help="Port (the next free one if taken)."),
    html: Path = typer.Option(None, "--html", help="Write a self-contained HTML player to "
                              "this file instead of serving."),
    mp4: Path = typer.Option(None, "--mp4", help="Write an MP4 (side view and curves) to "
                             "this file instead of serving."),
    serve_for: float = typer.Option(None, "--serve-for", min=0.0, help="Stop serving after "
                                    "this many seconds (default: until Ctrl-C)."),
) -> None:
    """Play a sequence in the browser (viser): the OpenSim model's bodies posed by its IK (or
    a stick figure from markers / keypoints), muscles coloured by activation, ground-force
    arrows, markers, and activation / EMG / force curves under a time slider. Headless on a
    cluster node: it prints the URL and the ssh command to forward it. docs/view.md."""
    from musclekit.config import dataset_argument
    from musclekit.dataset.reader import open_dataset
    from musclekit.errors import InputError
    from musclekit.pipelines.view.scene import build_scene

    path = dataset_argument(path)
    if not path.exists():
        raise InputError(f"dataset {path} does not exist; give a dataset folder (one with "
                         "meta/info.json)")
    # Refuse unwritable outputs before the (slow) posing of the model.
    from musclekit.pipelines.view.export import _writable

    for what, target in (("html", html), ("mp4", mp4)):
        if target is not None:
            _writable(target, what)
    ds = open_dataset(path)
    known = sorted(ds.sequences)
    if not known:
        raise InputError(f"dataset {path} has no finished sequence to view")
    if sequence is None:
        sequence = known[0]
    elif sequence not in ds.sequences:
        raise InputError(f"sequence {sequence!r} is not in {path}; its sequences: "
                         + ", ".join(known[:8]) + (" ..." if len(known) > 8 else ""))
    scene = build_scene(ds, sequence)
    for note in scene.notes:
        console.print(note)
    if html is not None or mp4 is not None:
        from musclekit.pipelines.view.export import write_html, write_mp4

        if html is not None:
            console.print(f"wrote {write_html(scene, html)}")
        if mp4 is not None:
            console.print(f"wrote {write_mp4(scene, mp4)}")
        return
    try:
        from musclekit.pipelines.view.server import Viewer
    except ImportError as err:
        from musclekit.errors import MissingDependencyError

        raise MissingDependencyError(f"the browser viewer needs viser ({err}): pip install "
                                     "viser, or write --html FILE / --mp4 FILE") from err
    viewer = Viewer(scene, host, port)

    def ready(url: str) -> None:
        import socket

        shown_port = url.rsplit(":", 1)[1]
        console.print(f"viewer: {url}  ({sequence}, {scene.n_frames} frames; Ctrl-C stops)",
                      soft_wrap=True)
        console.print(f"on a remote or cluster node: ssh -N -L {shown_port}:localhost:"
                      f"{shown_port} {socket.gethostname()}, then open "
                      f"http://localhost:{shown_port}", soft_wrap=True)
        sys.stdout.flush()  # the URL must reach a log or a pipe now, not at exit

    viewer.run(serve_for_s=serve_for, on_ready=ready)
