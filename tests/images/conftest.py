"""The image tools live in images/tools/, outside the package (no __init__.py, so setup.py
does not ship them): their tests import them from there, as ``images_cli.py`` does."""
import pathlib
import sys

TOOLS = pathlib.Path(__file__).resolve().parents[2] / "images" / "tools"
if str(TOOLS) not in sys.path:
    sys.path.insert(0, str(TOOLS))
