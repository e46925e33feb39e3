"""Hatch build hook: ship the built web client inside the wheel, as `messenger/_web/`.

A wheel built from this repository (`uv build`, `pip wheel .`) contains `web/dist`, so a
packaged install serves the client at `/` without Node.js. If `web/dist` is missing and npm is
available, the hook builds it first (`npm ci && npm run build`); without npm the wheel is built
without the client and `/` explains how to build it. Editable installs (`uv sync`) skip all of
this: they serve `web/dist` straight from the source tree (messenger/webapp.py).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface


class WebClientBuildHook(BuildHookInterface):
    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        if self.target_name != "wheel" or version == "editable":
            return
        web = Path(self.root) / "web"
        dist = web / "dist"
        if not (dist / "index.html").is_file():
            npm = shutil.which("npm")
            if npm is None or not (web / "package-lock.json").is_file():
                self.app.display_warning("web/dist is missing and npm is unavailable: the wheel has no web client")
                return
            self.app.display_info("building the web client (npm ci && npm run build)")
            subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=web, check=True)
            subprocess.run([npm, "run", "build"], cwd=web, check=True)
        build_data["force_include"][str(dist)] = "messenger/_web"
