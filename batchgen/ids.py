"""Stable identifiers: node ids, route prefix, event names, folder names.

NEVER CHANGE these values: node ids are keys inside users' saved workflows, event
names and routes are a public contract with dashboards and remote clients.
"""

from __future__ import annotations

PACKAGE_NAME = "comfyui-batchgen"
LOGGER_NAME = "batchgen"
LOG_PREFIX = "[batchgen]"

ROUTE_PREFIX = "/batchgen"
API_PREFIX = "/batchgen/v1"

# Folder (under ComfyUI's system user directory) holding our database and user templates.
SYSTEM_USER_DIR_NAME = "batchgen"
DB_FILENAME = "batchgen.sqlite3"
TEMPLATES_DIRNAME = "templates"
WILDCARDS_DIRNAME = "wildcards"
UPLOADS_DIRNAME = "uploads"

# Top-level output subfolder; every batch writes into its own folder below it.
OUTPUT_ROOT = "batchgen"

# Websocket events sent through ComfyUI's own socket (send_sync).
EVENT_JOB = "batchgen.job"
EVENT_BATCH = "batchgen.batch"
EVENT_BATCH_DELETED = "batchgen.batch_deleted"
EVENT_CONTACT_SHEET = "batchgen.contact_sheet"  # a grid batch's contact sheet pages were (re)made
EVENT_HEALTH = "batchgen.health"
# Relayed ComfyUI progress of a running job (throttled, not stored in the event log).
EVENT_PROGRESS = "batchgen.progress"

# Node ids (class_type values in workflows).
NODE_INPUT_TEXT = "BatchGenInputText"
NODE_INPUT_INT = "BatchGenInputInt"
NODE_INPUT_FLOAT = "BatchGenInputFloat"
NODE_INPUT_IMAGE = "BatchGenInputImage"
NODE_TEXT_CARD = "BatchGenTextCard"
# List (source) nodes: a list output under ComfyUI's own Run, one job per item when submitted as a batch.
NODE_PROMPT_LIST = "BatchGenPromptList"
NODE_SEED_LIST = "BatchGenSeedList"
NODE_PROMPTS_FROM_FILE = "BatchGenPromptsFromFile"
NODE_WILDCARD_EXPAND = "BatchGenWildcardExpand"
NODE_IMAGE_SET = "BatchGenImageSet"
# Nodes that are no source: a grid image of a list of images, and the saver that embeds the job's values.
NODE_CONTACT_SHEET = "BatchGenContactSheet"
NODE_SAVE_IMAGE = "BatchGenSaveImage"

# BatchGen Input node id -> parameter value type. The node's "name" input names the
# parameter, its "value" input holds the default and is the slot a job's value fills.
INPUT_NODE_TYPES: dict[str, str] = {
    NODE_INPUT_TEXT: "text",
    NODE_INPUT_INT: "int",
    NODE_INPUT_FLOAT: "float",
    NODE_INPUT_IMAGE: "image",
}
INPUT_NODE_NAME_FIELD = "name"
INPUT_NODE_VALUE_FIELD = "value"

NODE_CATEGORY = "BatchGen"  # the node menu's folder (display only: saved workflows do not store it)
