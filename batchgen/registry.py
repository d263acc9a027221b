"""Template registry: bundled templates (the extension's ``workflows/``) and user templates."""

from __future__ import annotations

import json
import logging
import os
import tempfile
from pathlib import Path
from typing import Any

from .api_parse import loads_strict, suggest
from .errors import ApiError, bad_request, conflict, not_found
from .templates import Template, build_template, check_template_id

log = logging.getLogger("batchgen.registry")


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
    return build_template(workflow, meta.get("bindings"), template_id=template_id, name=name, description=description,
                          origin=origin, autodetect=meta.get("autodetect", True) is not False)


class TemplateRegistry:
    """Looks templates up by id; user templates are files in the system user directory."""

    def __init__(self, bundled_dir: Path, user_dir: Path | None) -> None:
        self.bundled_dir = bundled_dir
        self.user_dir = user_dir
        self._bundled: dict[str, Template] = {}
        self._load_bundled()

    def _load_bundled(self) -> None:
        if not self.bundled_dir.is_dir():
            return
        for path in sorted(self.bundled_dir.glob("*.json")):
            try:
                doc = loads_strict(path.read_text(encoding="utf-8"))
                if isinstance(doc, dict) and "nodes" in doc and "links" in doc:
                    continue  # a UI-format example workflow, not a batch template
                template = template_from_document(doc, path.stem, "bundled")
            except Exception as exc:
                log.warning("[batchgen] skipping bundled template %s: %s", path.name, exc)
                continue
            self._bundled[template.id or path.stem] = template

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
        if template.id in self._bundled:
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
