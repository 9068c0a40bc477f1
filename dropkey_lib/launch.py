"""A Jupyter server extension for the Chinese launch links: `<server>/dropkey/zh` opens the Chinese course with
JupyterLab's interface in Chinese.

A Binder link cannot carry settings, only the path to open after launch (`urlpath`). The Chinese badges open
`urlpath=dropkey/zh` (or `dropkey/zh/NN_name.ipynb` for one notebook); this handler saves JupyterLab's interface
language, `zh_CN`, as the session's own user setting of `@jupyterlab/translation-extension` (what Settings >
Language saves; every Binder session has its own settings folder, so nobody else's session changes) and redirects
to the notebook in `notebooks-zh/` (default: 00). The interface is Chinese only where JupyterLab's Simplified Chinese
language pack is installed (binder/environment.yml installs it); elsewhere JupyterLab stays English.

binder/postBuild enables it with a config file, `<sys.prefix>/etc/jupyter/jupyter_server_config.d/
dropkey_lib.launch.json`: `{"ServerApp": {"jpserver_extensions": {"dropkey_lib.launch": true}}}`. Locally:
`jupyter lab --ServerApp.jpserver_extensions="{'dropkey_lib.launch': True}"`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from jupyter_server.base.handlers import JupyterHandler
from jupyter_server.utils import url_path_join
from tornado import web

ROUTE = r"/dropkey/zh(?:/(?P<notebook>[0-9][0-9]_[A-Za-z0-9_]+\.ipynb|solutions\.ipynb))?/?"
CHINESE_NOTEBOOKS = "notebooks-zh"
START = "00_overview.ipynb"
TRANSLATION_SETTINGS = Path("@jupyterlab") / "translation-extension" / "plugin.jupyterlab-settings"
LOCALE = "zh_CN"


def save_locale(user_settings_dir: Path, locale: str = LOCALE) -> Path:
    """Write JupyterLab's interface language into the user settings under `user_settings_dir`, keeping any other
    setting of the translation extension there; atomically. Returns the settings file."""
    path = user_settings_dir / TRANSLATION_SETTINGS
    settings: dict[str, Any] = {}
    if path.is_file():
        try:
            settings = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError:  # JSON5 with comments, written by hand: replaced by a plain file
            settings = {}
    settings["locale"] = locale
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.write_text(json.dumps(settings, indent=2) + "\n", encoding="utf-8")
    os.replace(partial, path)
    return path


class ChineseLaunchHandler(JupyterHandler):
    """GET /dropkey/zh[/NN_name.ipynb]: the interface in Chinese, then the Chinese notebook."""

    @web.authenticated
    def get(self, notebook: str | None = None) -> None:
        save_locale(Path(self.lab_user_settings_dir()))
        self.redirect(url_path_join(self.base_url, "lab", "tree", CHINESE_NOTEBOOKS, notebook or START))

    def lab_user_settings_dir(self) -> str:
        """JupyterLab's user settings folder in this server (its `--LabApp.user_settings_dir`, else the default)."""
        labs = self.serverapp.extension_manager.extension_apps.get("jupyterlab", set())
        for lab in labs:
            return lab.user_settings_dir
        from jupyterlab.commands import get_user_settings_dir

        return get_user_settings_dir()


def _jupyter_server_extension_points() -> list[dict[str, str]]:
    return [{"module": "dropkey_lib.launch"}]


def _load_jupyter_server_extension(serverapp) -> None:
    route = url_path_join(serverapp.web_app.settings["base_url"], ROUTE)
    serverapp.web_app.add_handlers(".*$", [(route, ChineseLaunchHandler)])
