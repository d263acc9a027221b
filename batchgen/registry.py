"""Template registry: bundled templates (the extension's ``workflows/``) and user templates."""

from __future__ import annotations

import json
import logging
import os
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Any

from .api_parse import loads_strict, suggest
from .errors import ApiError, bad_request, conflict, not_found
from .nodepacks import SOURCE_TEMPLATE, NodePack
from .preflight import ModelEntry
from .templates import Template, build_template, check_editor_workflow, check_template_id

log = logging.getLogger("batchgen.registry")

# Key under a UI-format workflow's ``extra`` holding our template (one file is both the editor example and the template).
EMBED_KEY = "batchgen"


def template_from_document(doc: Any, fallback_id: str, origin: str) -> Template:
    """A template from a file or request document: {id, name, description, workflow, bindings} or a bare API workflow."""
    if not isinstance(doc, dict):
        raise bad_request("invalid_template", "a template must be a JSON object")
    if "workflow" in doc:
        workflow = doc["workflow"]
        meta = doc
    else:
        workflow, meta = doc, {}
    template_id = meta.get("id", fallback_id)
    name = meta.get("name", template_id)
    description = meta.get("description", "")
    if not isinstance(name, str) or not isinstance(description, str):
        raise bad_request("invalid_template", "template name and description must be strings")
    template = build_template(workflow, meta.get("bindings"), template_id=template_id, name=name, description=description,
                              origin=origin, autodetect=meta.get("autodetect", True) is not False)
    extra = _manifest(meta)
    if meta.get("editor_workflow") is not None:
        extra["editor_workflow"] = check_editor_workflow(meta["editor_workflow"])
    if extra:
        template = replace(template, extra=extra)
    return template


def embedded_template(doc: Any) -> Any:
    """Our template data inside a UI-format (editor) workflow (``extra.batchgen``), or None for a plain example workflow.

    The editor graph itself (without our data, which it would only repeat) comes along as ``editor_workflow``.
    """
    if isinstance(doc, dict) and "nodes" in doc and "links" in doc:
        data = (doc.get("extra") or {}).get(EMBED_KEY) if isinstance(doc.get("extra"), dict) else None
        if not isinstance(data, dict):
            return None
        editor = {**doc, "extra": {k: v for k, v in doc["extra"].items() if k != EMBED_KEY}}
        return {**data, "editor_workflow": editor}
    return doc


def _manifest(meta: dict[str, Any]) -> dict[str, Any]:
    """models / node_packs / aliases of a bundled template document, checked."""
    extra: dict[str, Any] = {}
    models = meta.get("models") or []
    if not isinstance(models, list) or not all(isinstance(m, dict) and isinstance(m.get("name"), str)
                                               and isinstance(m.get("folder"), str) for m in models):
        raise bad_request("invalid_template", "models must be a list of {name, folder, url?, size?}")
    if models:
        extra["models"] = [ModelEntry(m["name"], m["folder"], m.get("url"), m.get("size")) for m in models]
    packs = meta.get("node_packs") or []
    if not isinstance(packs, list) or not all(isinstance(p, dict) and isinstance(p.get("name"), str)
                                              and isinstance(p.get("nodes", []), list) for p in packs):
        raise bad_request("invalid_template", "node_packs must be a list of {name, url?, hint?, nodes: [node types]}")
    if packs:
        extra["node_packs"] = [{"name": p["name"], "url": p.get("url"), "hint": p.get("hint"), "nodes": list(p.get("nodes", []))}
                               for p in packs]
        extra["node_packs_by_type"] = {ct: NodePack(p["name"], p.get("url"), p.get("hint"), SOURCE_TEMPLATE)
                                       for p in packs for ct in p.get("nodes", [])}
    aliases = meta.get("aliases") or []
    if not isinstance(aliases, list) or not all(isinstance(a, str) for a in aliases):
        raise bad_request("invalid_template", "aliases must be a list of names")
    if aliases:
        extra["aliases"] = [check_template_id(a) for a in aliases]
    return extra


class TemplateRegistry:
    """Looks templates up by id; user templates are files in the system user directory."""

    def __init__(self, bundled_dir: Path, user_dir: Path | None) -> None:
        self.bundled_dir = bundled_dir
        self.user_dir = user_dir
        self._bundled: dict[str, Template] = {}
        self._aliases: dict[str, str] = {}
        self._load_bundled()

    def _load_bundled(self) -> None:
        if not self.bundled_dir.is_dir():
            return
        for path in sorted(self.bundled_dir.glob("*.json")):
            try:
                doc = embedded_template(loads_strict(path.read_text(encoding="utf-8")))
                if doc is None:
                    continue  # a UI-format example workflow without our template data
                template = template_from_document(doc, path.stem, "bundled")
            except Exception as exc:
                log.warning("[batchgen] skipping bundled template %s: %s", path.name, exc)
                continue
            self._bundled[template.id or path.stem] = template
        for template_id, template in self._bundled.items():
            for alias in template.extra.get("aliases") or ():
                if alias in self._bundled or alias in self._aliases:
                    log.warning("[batchgen] alias %r of template %s is taken; ignored", alias, template_id)
                    continue
                self._aliases[alias] = template_id

    def _user_path(self, template_id: str) -> Path | None:
        if self.user_dir is None:
            return None
        check_template_id(template_id)
        path = (self.user_dir / f"{template_id}.json").resolve()
        # The id pattern already forbids separators; containment is checked anyway.
        if not path.is_relative_to(self.user_dir.resolve()):
            raise bad_request("invalid_template_id", "template id escapes the template folder")
        return path

    def list(self) -> list[Template]:
        """Bundled then user templates."""
        result = list(self._bundled.values())
        if self.user_dir is not None and self.user_dir.is_dir():
            for path in sorted(self.user_dir.glob("*.json")):
                if path.stem in self._bundled:
                    continue
                try:
                    result.append(template_from_document(loads_strict(path.read_text(encoding="utf-8")), path.stem, "user"))
                except Exception as exc:
                    log.warning("[batchgen] skipping user template %s: %s", path.name, exc)
        return result

    def get(self, template_id: str) -> Template:
        """One template by id, or a 404."""
        if not isinstance(template_id, str):
            raise bad_request("invalid_template", "template must be an id string or {workflow, bindings}")
        if template_id in self._bundled:
            return self._bundled[template_id]
        if template_id in self._aliases:
            return self._bundled[self._aliases[template_id]]
        try:
            path = self._user_path(template_id)
        except Exception:
            path = None
        if path is not None and path.is_file():
            return template_from_document(loads_strict(path.read_text(encoding="utf-8")), template_id, "user")
        available = sorted(t.id for t in self.list() if t.id)
        close = suggest(template_id, available)
        hint = f"did you mean {close!r}? " if close else ""
        raise not_found("template_not_found", f"no template with id {template_id!r}; {hint}templates: {', '.join(available) or 'none'}",
                        template=template_id, available=available, **({"suggestion": close} if close else {}))

    def save(self, template: Template, replace: bool = False) -> None:
        """Write a user template atomically."""
        assert template.id is not None
        if template.id in self._bundled or template.id in self._aliases:
            raise conflict("template_exists", f"{template.id!r} is a bundled template; choose another id")
        path = self._user_path(template.id)
        if path is None:
            raise conflict("no_user_dir", "this server has no user directory for templates")
        if path.exists() and not replace:
            raise conflict("template_exists", f"template {template.id!r} exists; send replace=true to overwrite it")
        path.parent.mkdir(parents=True, exist_ok=True)
        doc = {
            "id": template.id,
            "name": template.name,
            "description": template.description,
            "workflow": template.workflow,
            "bindings": {n: {"slots": [str(s) for s in b.slots], "type": b.type, "default": b.default}
                         for n, b in template.bindings.items()},
            "autodetect": False,
        }
        if template.extra.get("editor_workflow") is not None:
            doc["editor_workflow"] = template.extra["editor_workflow"]
        try:
            text = json.dumps(doc, ensure_ascii=False, indent=1, allow_nan=False)
            data = text.encode("utf-8")
        except (ValueError, UnicodeEncodeError):
            raise bad_request("invalid_template", "the template holds a value JSON cannot store (NaN, Infinity or a lone surrogate)") from None
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".json")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        except OSError as exc:
            log.warning("[batchgen] saving template %s failed: %s", template.id, exc)
            raise ApiError(507, "template_not_saved", "the template could not be written to disk; see the ComfyUI log") from None
        finally:
            # Whatever failed, no .tmp-*.json is left behind to be warned about forever.
            if os.path.exists(tmp):
                os.unlink(tmp)
